"""The controller node's inputs: an occupancy grid message as clearance, the differenced velocity fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rclpy")

from nav_msgs.msg import OccupancyGrid

from edge_rover.common.msgs.geometry import quaternion_from_yaw
from edge_rover.common.msgs.grid import grid_from_msg
from edge_rover.control.geometry import GridMap
from edge_rover.control.velocity import VelocityEstimator


def occupancy_to_grid(msg: OccupancyGrid, threshold: int) -> GridMap:
    cells, resolution, origin = grid_from_msg(msg)  # as the controller node does
    return GridMap.from_occupancy(cells, resolution, origin, threshold, 0.0)


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


def test_differenced_velocity_is_over_ground() -> None:
    estimator = VelocityEstimator(time_constant=0.05)
    # The rover drives at 1 m/s towards a parked car and a pedestrian crossing left at 1 m/s.
    for k in range(30):
        t = k / 30.0
        out = estimator.update(t, {"car": (10.0 - t, 2.0), "ped": (6.0 - t, -2.0 + t)}, 1.0, 0.0)
    assert out["car"] == pytest.approx((0.0, 0.0), abs=1e-6)
    assert out["ped"] == pytest.approx((0.0, 1.0), abs=1e-3)
