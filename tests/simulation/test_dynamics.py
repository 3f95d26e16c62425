"""Rover kinematics: limits, lag, stopping distance, steering; obstacle motion; footprints."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_rover.simulation.dynamics import (
    Motion,
    ObstacleState,
    RoverLimits,
    RoverState,
    oriented_rectangle,
    polygon_gap,
    polygons_overlap,
    step_obstacle,
    step_rover,
)

LIMITS = RoverLimits()
DT = 0.02


def _drive(state: RoverState, v: float, w: float, seconds: float) -> RoverState:
    for _ in range(round(seconds / DT)):
        state = step_rover(state, v, w, DT, LIMITS)
    return state


def test_speeds_up_with_lag_and_acceleration_limit() -> None:
    state = _drive(RoverState(), 2.0, 0.0, 0.5)
    assert 0.5 * LIMITS.max_accel - 0.05 <= state.speed <= 0.5 * LIMITS.max_accel + 1e-9
    state = _drive(state, 2.0, 0.0, 5.0)
    assert state.speed == pytest.approx(2.0, abs=1e-6)
    assert state.y == pytest.approx(0.0) and state.x > 5.0


def test_command_above_the_limit_is_clamped() -> None:
    assert _drive(RoverState(), 99.0, 0.0, 10.0).speed == pytest.approx(LIMITS.max_speed)
    assert _drive(RoverState(), -99.0, 0.0, 10.0).speed == pytest.approx(-LIMITS.max_reverse)


def test_stops_within_the_braking_limit() -> None:
    cruising = RoverState(speed=2.0)
    state, travelled, t = cruising, 0.0, 0.0
    while state.speed > 1e-6 and t < 5.0:
        new = step_rover(state, 0.0, 0.0, DT, LIMITS)
        travelled += new.x - state.x
        state, t = new, t + DT
    ideal = 2.0**2 / (2 * LIMITS.max_decel)
    assert state.speed == pytest.approx(0.0, abs=1e-9)
    assert ideal <= travelled <= ideal + 2.0 * LIMITS.speed_lag_s + 0.05  # lag adds ~v·tau
    assert t >= 2.0 / LIMITS.max_decel


def test_twist_yaw_rate_is_reached_through_the_bicycle_model() -> None:
    state = _drive(RoverState(speed=1.0), 1.0, 0.5, 3.0)
    assert state.yaw_rate(LIMITS) == pytest.approx(0.5, rel=1e-3)
    assert state.y > 0.0  # turning left


def test_steering_angle_is_limited() -> None:
    state = _drive(RoverState(speed=1.0), 1.0, 50.0, 2.0)
    assert abs(state.steer) == pytest.approx(LIMITS.max_steer)


def test_nan_command_brakes() -> None:
    state = step_rover(RoverState(speed=2.0), math.nan, 0.0, 0.1, LIMITS)
    assert state.speed < 2.0


@settings(max_examples=60, deadline=None)
@given(
    v=st.floats(-5, 5), w=st.floats(-3, 3), speed=st.floats(-0.5, 3.0), steer=st.floats(-0.5, 0.5)
)  # fmt: skip
def test_property_speed_and_steer_changes_respect_limits(
    v: float, w: float, speed: float, steer: float
) -> None:
    before = RoverState(speed=speed, steer=steer)
    after = step_rover(before, v, w, DT, LIMITS)
    down, up = (LIMITS.max_decel, LIMITS.max_accel) if speed >= 0 else (LIMITS.max_accel, LIMITS.max_decel)
    assert -down * DT - 1e-9 <= after.speed - before.speed <= up * DT + 1e-9
    assert abs(after.steer - before.steer) <= LIMITS.max_steer_rate * DT + 1e-9
    assert abs(after.steer) <= LIMITS.max_steer + 1e-9


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="wheelbase"):
        RoverLimits(wheelbase=0.0)


def test_obstacle_starts_on_trigger_distance_and_stops_after_max_distance() -> None:
    motion = Motion(
        kind="linear", velocity=(0.0, 1.0), start_time=None, trigger_distance=5.0, max_distance=2.0
    )
    state = ObstacleState(10.0, 0.0, 0.0)
    state = step_obstacle(state, motion, 0.0, 0.1, rover_xy=(0.0, 0.0))
    assert not state.started and state.y == 0.0
    for k in range(50):
        state = step_obstacle(state, motion, k * 0.1, 0.1, rover_xy=(6.0, 0.0))
    assert state.started
    assert state.y == pytest.approx(2.0, abs=0.11)
    assert state.vy == 0.0


def test_waypoint_motion_follows_the_path() -> None:
    motion = Motion(kind="waypoints", waypoints=((1.0, 0.0), (1.0, 1.0)), speed=1.0)
    state = ObstacleState(0.0, 0.0, 0.0)
    for k in range(40):
        state = step_obstacle(state, motion, k * 0.1, 0.1, rover_xy=(50.0, 0.0))
    assert (state.x, state.y) == pytest.approx((1.0, 1.0), abs=0.11)


def test_footprint_overlap_and_gap() -> None:
    a = oriented_rectangle(0.0, 0.0, 0.0, 2.0, 1.0)
    b = oriented_rectangle(3.0, 0.0, 0.0, 2.0, 1.0)
    assert not polygons_overlap(a, b)
    assert polygon_gap(a, b) == pytest.approx(1.0)
    c = oriented_rectangle(1.5, 0.6, np.pi / 4, 1.0, 1.0)
    assert polygons_overlap(a, c) and polygon_gap(a, c) == 0.0


def test_ackermann_command_sets_the_steering_angle_directly() -> None:
    state = RoverState(speed=1.0)
    for _ in range(100):
        state = step_rover(state, 1.0, 0.3, DT, LIMITS, angular_is_steering=True)
    assert state.steer == pytest.approx(0.3)
    assert state.yaw_rate(LIMITS) == pytest.approx(math.tan(0.3) / LIMITS.wheelbase)
