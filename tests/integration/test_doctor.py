"""doctor: pure checks on synthetic snapshots, and the real CLI against a real (broken) graph."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_rover.common.graph import DETECTIONS, GROUND_TRUTH, TOPICS
from edge_rover.common.graph_checks import Endpoint, check_qos
from edge_rover.tools.doctor_checks import (
    GraphSnapshot,
    check_camera_info,
    check_model_domain,
    check_sim_time,
    check_topic,
)
from tests.ros_helpers import running_process, spin_until


def test_qos_mismatch_is_reported_with_the_fix() -> None:
    pub = Endpoint("/camera", "sensor_msgs/msg/Image", reliable=False)
    sub = Endpoint("/my_viewer", "sensor_msgs/msg/Image", reliable=True)
    [result] = check_qos("/camera/image_raw", [pub], [sub])
    assert not result.ok and "never match" in result.what and "BEST_EFFORT" in result.fix
    assert check_qos("/camera/image_raw", [pub], [Endpoint("/det", "sensor_msgs/msg/Image", False)]) == []


def test_missing_publisher_and_optional_topics() -> None:
    snap = GraphSnapshot()
    [result] = check_topic(TOPICS[DETECTIONS], snap)
    assert not result.ok and "detector" in result.fix and result.what.startswith("/detections:")
    [namespaced] = check_topic(TOPICS[DETECTIONS], GraphSnapshot(namespace="rover1"))
    assert namespaced.what.startswith("/rover1/detections:")
    assert check_topic(TOPICS[GROUND_TRUTH], snap) == []


def test_camera_info_size_mismatch() -> None:
    snap = GraphSnapshot(image_size=(640, 480), camera_info_size=(1280, 720))
    [result] = check_camera_info(snap)
    assert not result.ok and "1280x720" in result.what


def test_sim_time_without_clock_fails() -> None:
    snap = GraphSnapshot(use_sim_time={"/detector": True})
    [result] = check_sim_time(snap)
    assert not result.ok and "/clock" in result.what
    snap.publishers["/clock"] = [Endpoint("/sim", "rosgraph_msgs/msg/Clock", True)]
    assert check_sim_time(snap)[0].ok


def _detector_snapshot(
    image_node: str | None, model_domain: str, source_domain: str = "unset"
) -> GraphSnapshot:
    snap = GraphSnapshot()
    snap.diagnostics["detector: detector"] = (
        1,
        "running",
        {"model_domain": model_domain, "source_domain": source_domain},
    )
    if image_node:
        snap.publishers["/camera/image_raw"] = [Endpoint(image_node, "sensor_msgs/msg/Image", False)]
    return snap


def test_a_sim_model_on_a_live_camera_is_one_line_with_the_fix() -> None:
    [result] = check_model_domain(_detector_snapshot("/camera", "sim"))
    assert not result.ok and "simulator model" in result.what and "real camera" in result.what
    assert result.fix == "launch with model:=package://edge_rover/models/edge_rover_yolov8n_coco_int8.onnx"
    assert "\n" not in result.what
    # the source is the image publisher, even when the detector was told nothing (or the wrong thing)
    [again] = check_model_domain(_detector_snapshot("/bag_replay", "sim", source_domain="sim"))
    assert not again.ok


def test_the_real_model_in_the_simulator_is_reported_and_a_match_passes() -> None:
    [result] = check_model_domain(_detector_snapshot("/sim", "real"))
    assert not result.ok and result.fix.endswith("edge_rover_yolov8n_int8.onnx")
    [fine] = check_model_domain(_detector_snapshot("/sim", "sim"))
    assert fine.ok
    # no image publisher seen: the detector's own source_domain decides; an unknown model is not judged
    assert not check_model_domain(_detector_snapshot(None, "sim", source_domain="real"))[0].ok
    assert check_model_domain(_detector_snapshot("/camera", "unknown")) == []


@pytest.mark.ros
def test_doctor_finds_a_reliable_subscriber_on_best_effort_images(ros_context, tmp_path: Path) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from edge_rover.common.qos import RELIABLE_QOS

    # Two different frames: a folder of one image looped is a frozen camera (not published).
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((240, 320, 3), 40 * i, np.uint8))
    node = rclpy.create_node("my_viewer", context=ros_context)
    got: list[Image] = []
    node.create_subscription(Image, "/camera/image_raw", got.append, RELIABLE_QOS)  # the classic mistake
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    cmd = ["ros2", "run", "edge_rover", "camera", "--ros-args", "-p", f"source:={tmp_path}",
           "-p", "width:=320", "-p", "height:=240", "-p", "loop:=true", "-p", "fps:=10.0"]  # fmt: skip
    with running_process(cmd):
        spin_until(executor, lambda: False, timeout_s=1.5)
        doctor = subprocess.Popen(
            [sys.executable, "-m", "edge_rover.tools.doctor", "--listen", "4.0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        spin_until(executor, lambda: doctor.poll() is not None, timeout_s=30)
        output = doctor.communicate(timeout=10)[0]
    assert doctor.returncode == 1, output
    assert "/my_viewer subscribes RELIABLE but /camera publishes BEST_EFFORT" in output, output
    assert "[PASS] camera_info matches the images (320x240)" in output, output
    assert "[FAIL] /detections: no publisher" in output
    assert not got, "a reliable subscriber must not have received best-effort images"
