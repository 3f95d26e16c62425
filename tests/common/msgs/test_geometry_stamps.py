"""geometry (yaw/pitch ↔ quaternion) and stamps: round trips and bad input."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("geometry_msgs")

from geometry_msgs.msg import Quaternion

from edge_rover.common.msgs.geometry import pitch_from_quaternion, quaternion_from_yaw, yaw_from_quaternion
from edge_rover.common.msgs.stamps import sec_to_stamp, stamp_to_sec


@pytest.mark.parametrize("yaw", [-3.1, -0.3, 0.0, 1.2, 3.1])
def test_yaw_round_trip(yaw: float) -> None:
    q = quaternion_from_yaw(yaw)
    assert yaw_from_quaternion(q) == pytest.approx(yaw)
    assert pitch_from_quaternion(q) == pytest.approx(0.0)
    assert math.isclose(q.x**2 + q.y**2 + q.z**2 + q.w**2, 1.0)


def test_pitch_of_a_nose_down_orientation() -> None:
    pitch = 0.1  # rotation about y
    q = Quaternion(x=0.0, y=math.sin(pitch / 2), z=0.0, w=math.cos(pitch / 2))
    assert pitch_from_quaternion(q) == pytest.approx(pitch)
    assert yaw_from_quaternion(q) == pytest.approx(0.0)


def test_bad_orientations() -> None:
    with pytest.raises(ValueError, match="yaw"):
        quaternion_from_yaw(math.nan)
    nan = Quaternion(x=0.0, y=math.nan, z=0.0, w=1.0)
    assert math.isnan(yaw_from_quaternion(nan)) and math.isnan(pitch_from_quaternion(nan))
    # a non-unit quaternion's pitch is clamped, never a math domain error
    assert pitch_from_quaternion(Quaternion(x=0.0, y=2.0, z=0.0, w=2.0)) == pytest.approx(math.pi / 2)


@pytest.mark.parametrize("seconds", [0.0, 1e-9, 12.5, 1_700_000_000.123456789])
def test_stamp_round_trip(seconds: float) -> None:
    assert stamp_to_sec(sec_to_stamp(seconds)) == pytest.approx(
        seconds, abs=1e-9 * max(1.0, seconds) * 1e-6 + 1e-9
    )


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_stamp_refuses_bad_seconds(seconds: float) -> None:
    with pytest.raises(ValueError, match="stamp"):
        sec_to_stamp(seconds)
