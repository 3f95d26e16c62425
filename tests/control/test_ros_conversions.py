"""Control message conversions: the obstacle mapper's /obstacles convention, grids, velocity fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rclpy")

from nav_msgs.msg import OccupancyGrid
from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose

from edge_rover.control.ros_conversions import (
    detections_to_rows,
    occupancy_to_grid,
    quaternion_from_yaw,
    yaw_from_quaternion,
)
from edge_rover.control.velocity import VelocityEstimator


def _hypothesis(class_id: str, score: float, x: float = 0.0, y: float = 0.0) -> ObjectHypothesisWithPose:
    h = ObjectHypothesisWithPose()
    h.hypothesis.class_id = class_id
    h.hypothesis.score = score
    h.pose.pose.position.x = x
    h.pose.pose.position.y = y
    return h


def test_mapper_convention_class_and_velocity_results() -> None:
    det = Detection3D()
    det.id = "12"
    det.bbox.center.position.x, det.bbox.center.position.y = 4.0, -0.5
    det.bbox.size.x, det.bbox.size.y, det.bbox.size.z = 0.6, 0.8, 1.7
    det.results = [_hypothesis("person", 0.8, 4.0, -0.5), _hypothesis("velocity", 0.0, -0.2, 1.1)]
    bare = Detection3D()
    bare.results = [_hypothesis("traffic_cone", 0.6)]
    rows = detections_to_rows(Detection3DArray(detections=[det, bare]))
    assert rows[0] == {
        "id": "12",
        "label": "person",
        "confidence": pytest.approx(0.8),
        "x": 4.0,
        "y": -0.5,
        "size_x": pytest.approx(0.6),
        "size_y": pytest.approx(0.8),
        "velocity": (pytest.approx(-0.2), pytest.approx(1.1)),
    }
    assert rows[1]["id"] == "#1" and rows[1]["velocity"] is None and rows[1]["label"] == "traffic_cone"


def test_occupancy_grid_message_to_clearance() -> None:
    msg = OccupancyGrid()
    msg.info.width, msg.info.height, msg.info.resolution = 40, 20, 0.1
    msg.info.origin.position.x, msg.info.origin.position.y = 0.0, -1.0
    msg.info.origin.orientation = quaternion_from_yaw(0.0)
    data = np.full((20, 40), -1, dtype=np.int8)
    data[10, 30] = 100  # cell centre (3.05, 0.05)
    msg.data = data.ravel().tolist()
    grid = occupancy_to_grid(msg, 50)
    assert grid.clearance_at(np.array([[3.05, 0.05]]))[0] == 0.0
    assert grid.clearance_at(np.array([[2.05, 0.05]]))[0] == pytest.approx(1.0, abs=0.02)
    assert grid.clearance_at(np.array([[-5.0, 0.0]]))[0] == math.inf
    msg.data = msg.data[:-1]
    with pytest.raises(ValueError, match="cells"):
        occupancy_to_grid(msg, 50)


def test_yaw_quaternion_round_trip() -> None:
    for yaw in (-3.0, -0.3, 0.0, 1.2, 3.1):
        assert yaw_from_quaternion(quaternion_from_yaw(yaw)) == pytest.approx(yaw)


def test_differenced_velocity_is_over_ground() -> None:
    estimator = VelocityEstimator(time_constant=0.05)
    # The rover drives at 1 m/s towards a parked car and a pedestrian crossing left at 1 m/s.
    for k in range(30):
        t = k / 30.0
        out = estimator.update(t, {"car": (10.0 - t, 2.0), "ped": (6.0 - t, -2.0 + t)}, 1.0, 0.0)
    assert out["car"] == pytest.approx((0.0, 0.0), abs=1e-6)
    assert out["ped"] == pytest.approx((0.0, 1.0), abs=1e-3)
