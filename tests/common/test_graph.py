"""The graph table's names: relative (a namespace moves them), /clock absolute, recorded names mapped back."""

from edge_rover.common.graph import (
    CAMERA_IMAGE,
    CAMERA_IMAGE_COMPRESSED,
    CLOCK,
    DETECTIONS_IMAGE,
    RECORDED_TOPICS,
    TOPICS,
    graph_name,
    resolve,
)


def test_names_are_relative_except_the_clock() -> None:
    assert [n for n in TOPICS if n.startswith("/")] == [CLOCK]
    assert set(RECORDED_TOPICS) <= set(TOPICS)
    assert all(spec.name == name for name, spec in TOPICS.items())


def test_resolve_in_a_namespace() -> None:
    assert resolve(CAMERA_IMAGE) == resolve(CAMERA_IMAGE, "/") == "/camera/image_raw"
    assert resolve(CAMERA_IMAGE, "rover1") == resolve(CAMERA_IMAGE, "/rover1/") == "/rover1/camera/image_raw"
    assert resolve(CLOCK, "rover1") == "/clock"


def test_graph_name_of_resolved_topics() -> None:
    assert graph_name("/camera/image_raw") == graph_name("/rover1/camera/image_raw") == CAMERA_IMAGE
    assert graph_name("/a/b/detections/image") == DETECTIONS_IMAGE
    assert graph_name("/rover1/camera/image_raw/compressed") == CAMERA_IMAGE_COMPRESSED
    assert graph_name("/clock") == CLOCK
    assert graph_name("/rover1/clock") is None  # a namespaced clock is no graph topic
    assert graph_name("/some/other_topic") is None
