"""The obstacle mapper: its pure pipeline's input checks, its message conventions, and the real
node on real DDS fed with detections rendered from known ground positions."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from edge_rover.calibration.calibration_io import load_camera_info, load_extrinsics
from edge_rover.common.camera_model import CameraRig
from edge_rover.perception.mapping.ground_projection import ProjectionConfig
from edge_rover.perception.mapping.obstacle_mapper import (
    FUTURE,
    NAN_DETECTION,
    NAN_STAMP,
    NO_CALIBRATION,
    STALE,
    FrameResult,
    MapperConfig,
    ObstacleMapperCore,
    OdomSample,
)
from edge_rover.perception.mapping.obstacle_types import Detection2D, TrackedObstacle, load_class_profiles
from edge_rover.perception.mapping.tracker import TrackerConfig
from edge_rover.simulation.synthetic_boxes import cuboid_box
from tests.conftest import REPO_ROOT
from tests.ros_helpers import running_process, spin_until

CAMERA_INFO = REPO_ROOT / "config" / "camera_info.yaml"
EXTRINSICS = REPO_ROOT / "config" / "extrinsics.yaml"
CLASSES = REPO_ROOT / "config" / "classes.yaml"
RIG = CameraRig(load_camera_info(str(CAMERA_INFO)), load_extrinsics(str(EXTRINSICS)))
PROFILES = load_class_profiles(CLASSES)
PERSON = (0.4, 0.5, 1.7)  # depth = the table's contact_depth_m
TIGHT = ProjectionConfig(box_pixel_offset=0.5)  # cuboid_box: tight edge-convention boxes
CONE = (0.35, 0.35, 0.5)
SCENE = [((4.0, 1.0), PERSON, "person"), ((8.0, -1.5), CONE, "traffic_cone"), ((12.0, 2.0), PERSON, "person")]


def _frame(scene=SCENE) -> list[Detection2D]:
    return [Detection2D(cuboid_box(RIG, centre, size), klass, 0.9) for centre, size, klass in scene]


def _core(**config) -> ObstacleMapperCore:
    core = ObstacleMapperCore(
        PROFILES, TIGHT, tracker=TrackerConfig(birth_hits=2), config=MapperConfig(**config)
    )
    core.set_rig(RIG)
    return core


# -- pure pipeline ----------------------------------------------------------------------------------


def test_core_places_tracks_where_the_scene_is() -> None:
    core = _core()
    for frame in range(5):
        result = core.process(_frame(), stamp=100.0 + frame / 30, now=100.0 + frame / 30 + 0.01)
    assert isinstance(result, FrameResult)
    assert result.stamp == pytest.approx(100.0 + 4 / 30)
    found = sorted((t.position[0], t.position[1], t.class_name) for t in result.tracks)
    for (x, y, klass), (centre, _, true_class) in zip(found, sorted(SCENE), strict=True):
        assert klass == true_class
        assert np.hypot(x - centre[0], y - centre[1]) < 0.02 * np.hypot(*centre) + 0.02
    assert result.grid.shape == core.grid.config.shape


def test_core_drops_and_counts_bad_frames() -> None:
    uncalibrated = ObstacleMapperCore(PROFILES)
    assert uncalibrated.process(_frame(), 10.0, 10.0) == NO_CALIBRATION
    core = _core(max_detection_age=0.3, max_future=0.05)
    assert core.process(_frame(), stamp=10.0, now=10.5) == STALE
    assert core.process(_frame(), stamp=10.2, now=10.0) == FUTURE
    assert core.process(_frame(), stamp=float("nan"), now=10.0) == NAN_STAMP
    nan_box = Detection2D((np.nan, 0.0, 10.0, 10.0), "person", 0.9)
    result = core.process([*_frame(), nan_box], stamp=10.0, now=10.0)
    assert isinstance(result, FrameResult)
    assert result.rejected[NAN_DETECTION] == 1
    assert core.dropped[STALE] == 1 and core.dropped[FUTURE] == 1 and core.dropped[NAN_STAMP] == 1
    assert core.dropped[NAN_DETECTION] == 1


def test_core_resets_when_time_goes_backwards() -> None:
    core = _core()
    for frame in range(4):
        core.process(_frame(), 50.0 + frame / 30, 50.0 + frame / 30)
    old_ids = {t.track_id for t in core.tracker.confirmed()}
    result = core.process(_frame(), 5.0, 5.0)  # bag looped
    assert isinstance(result, FrameResult)
    assert result.reset is not None and core.dropped["resets"] == 1
    assert result.tracks == []  # new tracks must earn their birth again
    for frame in range(1, 3):
        result = core.process(_frame(), 5.0 + frame / 30, 5.0 + frame / 30)
    assert {t.track_id for t in result.tracks}.isdisjoint(old_ids)


def test_core_uses_fresh_odometry_only() -> None:
    core = _core(odom_timeout=0.2)
    fresh = core.process(_frame(), 1.0, 1.0, OdomSample(0.95, 1.0, 0.0))
    stale = core.process(_frame(), 1.1, 1.1, OdomSample(0.5, 1.0, 0.0))
    nan = core.process(_frame(), 1.2, 1.2, OdomSample(1.2, float("nan"), 0.0))
    assert fresh.ego is not None and stale.ego is None and nan.ego is None


# -- message conventions ---------------------------------------------------------------------------


def test_tracks_and_boxes_through_the_messages() -> None:
    """The node's adapters: a track goes out as an obstacles box, detections come in as boxes."""
    pytest.importorskip("vision_msgs")
    from edge_rover.common.msgs.obstacles import VELOCITY_RESULT_ID, obstacles_from_msg, obstacles_to_msg
    from edge_rover.common.msgs.stamps import sec_to_stamp
    from edge_rover.perception.mapping.obstacle_mapper_node import boxes_from_msg, track_to_obstacle

    covariance = np.diag([0.04, 0.01, 0.09, 0.16])
    track = TrackedObstacle(
        7, "person", np.array([5.0, -1.0]), np.array([0.2, 1.3]), covariance, (0.35, 0.5, 1.7), 0.8
    )
    msg = obstacles_to_msg([track_to_obstacle(track)], sec_to_stamp(12.5), "base_link")
    det = msg.detections[0]
    assert det.id == "7" and det.header.frame_id == "base_link"
    assert det.bbox.center.position.z == pytest.approx(0.85)
    assert det.results[0].hypothesis.class_id == "person"
    assert det.results[1].hypothesis.class_id == VELOCITY_RESULT_ID and det.results[1].hypothesis.score == 0.0
    (back,) = obstacles_from_msg(msg)
    assert back.numeric_id == 7 and back.class_name == "person"
    np.testing.assert_allclose(back.position, track.position)
    np.testing.assert_allclose(back.velocity, track.velocity)
    np.testing.assert_allclose(back.covariance, covariance)
    boxes = _frame()
    sent = _detections_msg(boxes, sec_to_stamp(1.0))
    decoded = boxes_from_msg(sent, ["person", "car"])
    for a, b in zip(boxes, decoded, strict=True):
        np.testing.assert_allclose(a.box, b.box, atol=1e-9)
        assert a.class_name == b.class_name


def _detections_msg(boxes: list, stamp) -> object:
    from edge_rover.common.msgs.detections import detections_to_msg

    return detections_to_msg(
        [b.box for b in boxes],
        [b.score for b in boxes],
        [b.class_name for b in boxes],
        stamp,
        "camera_optical_frame",
    )


# -- the real node -----------------------------------------------------------------------------------


def _node_env(ros_context, **overrides):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from edge_rover.perception.mapping.obstacle_mapper_node import ObstacleMapperNode

    params = {
        "extrinsics_url": str(EXTRINSICS),
        "classes_url": str(CLASSES),
        "birth_hits": 2,
        "box_pixel_offset": TIGHT.box_pixel_offset,
        **overrides,
    }
    node = ObstacleMapperNode(
        context=ros_context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]
    )
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    return node, executor


class _Probe:
    """A test node: publishes camera_info + detections, records what the mapper publishes."""

    def __init__(self, ros_context, executor):
        import rclpy
        from nav_msgs.msg import OccupancyGrid
        from sensor_msgs.msg import CameraInfo
        from vision_msgs.msg import Detection2DArray, Detection3DArray
        from visualization_msgs.msg import MarkerArray

        from edge_rover.common.qos import SENSOR_QOS

        self.node = rclpy.create_node("mapper_probe", context=ros_context)
        executor.add_node(self.node)
        self.executor = executor
        self.info_pub = self.node.create_publisher(CameraInfo, "/camera/camera_info", SENSOR_QOS)
        self.det_pub = self.node.create_publisher(Detection2DArray, "/detections", SENSOR_QOS)
        self.obstacles: list = []
        self.grids: list = []
        self.markers: list = []
        self.node.create_subscription(Detection3DArray, "/obstacles", self.obstacles.append, SENSOR_QOS)
        self.node.create_subscription(OccupancyGrid, "/obstacle_map", self.grids.append, SENSOR_QOS)
        self.node.create_subscription(MarkerArray, "/obstacles/markers", self.markers.append, SENSOR_QOS)

    def wait_for_mapper(self, timeout: float = 10.0) -> bool:
        return spin_until(
            self.executor,
            lambda: (
                self.det_pub.get_subscription_count() > 0
                and self.node.count_publishers("/obstacles") > 0
                and len(self.node.get_publishers_info_by_topic("/obstacles")) > 0
            ),
            timeout,
        )

    def send_frames(self, n: int, with_camera_info: bool = True, scene=SCENE) -> list:
        from edge_rover.common.msgs.image import intrinsics_to_camera_info

        stamps = []
        for _ in range(n):
            stamp = self.node.get_clock().now().to_msg()
            if with_camera_info:
                self.info_pub.publish(
                    intrinsics_to_camera_info(RIG.intrinsics, stamp, "camera_optical_frame")
                )
                spin_until(self.executor, lambda: False, 0.02)
            self.det_pub.publish(_detections_msg(_frame(scene), stamp))
            stamps.append(stamp)
            spin_until(self.executor, lambda: False, 0.05)
        return stamps


@pytest.mark.ros
def test_node_publishes_obstacles_where_the_ground_truth_is(ros_context) -> None:
    from edge_rover.common.msgs.obstacles import obstacles_from_msg

    node, executor = _node_env(ros_context)
    probe = _Probe(ros_context, executor)
    assert probe.wait_for_mapper()
    stamps = probe.send_frames(8)
    assert spin_until(executor, lambda: len(probe.obstacles) >= 4 and probe.grids and probe.markers, 5.0)
    last = probe.obstacles[-1]
    assert last.header.frame_id == "base_link"
    sent = {(s.sec, s.nanosec) for s in stamps}
    assert all((m.header.stamp.sec, m.header.stamp.nanosec) in sent for m in probe.obstacles)
    tracks = obstacles_from_msg(last)
    assert len(tracks) == len(SCENE)
    for centre, _, klass in SCENE:
        nearest = min(tracks, key=lambda t: np.hypot(*(t.position - np.asarray(centre))))
        assert nearest.class_name == klass
        assert np.hypot(*(nearest.position - np.asarray(centre))) < 0.02 * np.hypot(*centre) + 0.02
        assert np.hypot(*nearest.velocity) < 0.3
    grid = probe.grids[-1]
    assert grid.header.frame_id == "base_link"
    assert (grid.info.height, grid.info.width) == node.core.grid.config.shape
    values = np.frombuffer(bytes(grid.data), dtype=np.int8).reshape(grid.info.height, grid.info.width)
    col, row = node.core.grid.world_to_cell(4.0, 1.0)
    assert values[round(row), round(col)] == 100
    assert {m.ns for m in probe.markers[-1].markers if m.ns} == {"boxes", "labels", "velocity"}
    node.destroy_node()
    probe.node.destroy_node()


@pytest.mark.ros
def test_node_without_camera_info_publishes_nothing(ros_context) -> None:
    node, executor = _node_env(ros_context)
    probe = _Probe(ros_context, executor)
    assert probe.wait_for_mapper()
    probe.send_frames(6, with_camera_info=False)
    spin_until(executor, lambda: False, 0.3)
    assert probe.obstacles == [] and probe.grids == []
    assert node.core.dropped[NO_CALIBRATION] >= 1
    node.destroy_node()
    probe.node.destroy_node()


@pytest.mark.ros
def test_node_with_missing_extrinsics_publishes_nothing(ros_context, tmp_path) -> None:
    node, executor = _node_env(ros_context, extrinsics_url=str(tmp_path / "nope.yaml"))
    assert node.setup_error is not None
    probe = _Probe(ros_context, executor)
    assert probe.wait_for_mapper()
    probe.send_frames(4)
    spin_until(executor, lambda: False, 0.3)
    assert probe.obstacles == []
    node.destroy_node()
    probe.node.destroy_node()


@pytest.mark.ros
def test_node_executable_with_the_shipped_parameter_file(ros_context) -> None:
    """The node as a separate process (its main()), configured by config/obstacle_mapper.yaml."""
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=ros_context)
    probe = _Probe(ros_context, executor)
    args = [
        sys.executable, "-m", "edge_rover.perception.mapping.obstacle_mapper_node", "--ros-args",
        "--params-file", str(REPO_ROOT / "config" / "obstacle_mapper.yaml"),
        "-p", f"extrinsics_url:={EXTRINSICS}", "-p", f"classes_url:={CLASSES}",
    ]  # fmt: skip
    with running_process(args) as proc:
        assert probe.wait_for_mapper(20.0), "obstacle_mapper process did not come up"
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and len(probe.obstacles) < 3:
            probe.send_frames(2)
        assert proc.poll() is None
    assert len(probe.obstacles) >= 3
    assert any(len(m.detections) == len(SCENE) for m in probe.obstacles)
    probe.node.destroy_node()
