"""OccupancyGrid, Odometry + tf, Twist, BatteryState: round trips and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("nav_msgs")

from geometry_msgs.msg import Twist, TwistStamped

from edge_rover.common.msgs.battery import battery_from_msg, battery_to_msg
from edge_rover.common.msgs.grid import grid_from_msg, grid_to_msg
from edge_rover.common.msgs.odometry import odometry_from_msg, odometry_to_msg, pose_from_tf, pose_to_tf
from edge_rover.common.msgs.stamps import sec_to_stamp
from edge_rover.common.msgs.twist import twist_from_msg, twist_stamped_to_msg, twist_to_msg

STAMP = sec_to_stamp(7.5)


def test_grid_round_trip() -> None:
    cells = np.full((20, 40), -1, dtype=np.int8)
    cells[10, 30], cells[0, 0] = 100, 0
    msg = grid_to_msg(cells, 0.1, (0.0, -1.0), STAMP, "base_link")
    assert msg.info.map_load_time == STAMP and (msg.info.width, msg.info.height) == (40, 20)
    back = grid_from_msg(msg)
    np.testing.assert_array_equal(back.cells, cells)
    assert back.resolution == pytest.approx(0.1) and back.origin == pytest.approx((0.0, -1.0, 0.0))
    rotated = grid_from_msg(grid_to_msg(cells, 0.1, (1.0, 2.0, 0.5), STAMP, "odom"))
    assert rotated.origin == pytest.approx((1.0, 2.0, 0.5))


def test_bad_grids() -> None:
    msg = grid_to_msg(np.zeros((2, 3), np.int8), 0.5, (0.0, 0.0), STAMP, "base_link")
    msg.data = msg.data[:-1]
    with pytest.raises(ValueError, match="cells"):
        grid_from_msg(msg)
    with pytest.raises(ValueError, match="resolution"):
        grid_to_msg(np.zeros((2, 3), np.int8), math.nan, (0.0, 0.0), STAMP, "base_link")
    with pytest.raises(ValueError, match="2-D"):
        grid_to_msg(np.zeros(3, np.int8), 0.5, (0.0, 0.0), STAMP, "base_link")
    empty = grid_from_msg(grid_to_msg(np.zeros((0, 0), np.int8), 0.5, (0.0, 0.0), STAMP, "base_link"))
    assert empty.cells.shape == (0, 0)


def test_odometry_and_tf_round_trip() -> None:
    msg = odometry_to_msg(
        (1.5, -2.0, 0.4), 1.2, -0.1, STAMP, "odom", "base_link", (0.05, 0.05, 0.1), (0.01, 0.02)
    )
    assert (msg.header.frame_id, msg.child_frame_id) == ("odom", "base_link")
    assert msg.pose.covariance[35] == pytest.approx(0.1) and msg.twist.covariance[35] == pytest.approx(0.02)
    back = odometry_from_msg(msg)
    assert back.stamp == pytest.approx(7.5)
    assert (back.x, back.y, back.yaw, back.speed, back.yaw_rate, back.pitch) == pytest.approx(
        (1.5, -2.0, 0.4, 1.2, -0.1, 0.0)
    )
    tf = pose_to_tf((1.5, -2.0, 0.4), STAMP, "odom", "base_link")
    assert pose_from_tf(tf, "base_link") == pytest.approx((1.5, -2.0, 0.4))
    assert pose_from_tf(tf, "camera_link") is None


def test_bad_odometry() -> None:
    with pytest.raises(ValueError, match="yaw"):
        odometry_to_msg((0.0, 0.0, math.nan), 0.0, 0.0, STAMP, "odom", "base_link")
    msg = odometry_to_msg((0.0, 0.0, 0.0), math.nan, 0.0, STAMP, "odom", "base_link")
    assert math.isnan(odometry_from_msg(msg).speed)  # for the consumer to refuse


def test_twist_round_trip_both_types() -> None:
    assert twist_from_msg(twist_to_msg(0.8, -0.2)) == pytest.approx((0.8, -0.2))
    stamped = twist_stamped_to_msg(0.8, -0.2, STAMP, "base_link")
    assert isinstance(stamped, TwistStamped) and stamped.header.stamp == STAMP
    assert twist_from_msg(stamped) == pytest.approx((0.8, -0.2))
    assert twist_from_msg(Twist()) == (0.0, 0.0)
    speed, _ = twist_from_msg(twist_to_msg(math.nan, 0.0))
    assert math.isnan(speed)


def test_battery_round_trip() -> None:
    msg = battery_to_msg(12.3, 1.5, STAMP)
    assert msg.current == pytest.approx(-1.5) and math.isnan(msg.percentage) and msg.present
    assert battery_from_msg(msg) == pytest.approx((12.3, 1.5))
