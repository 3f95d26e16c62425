"""Controller core: braking stages, hold/release, steering, watchdog, limits, properties."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_rover.common.params import ParameterValueError
from edge_rover.control.controller import (
    ControlInputs,
    ControllerState,
    Obstacle,
    Stage,
    obstacle_conflicts,
    obstacle_discs,
    step,
)
from edge_rover.control.geometry import (
    GridMap,
    arc_coordinates,
    arc_points,
    speed_to_stop_within,
    steering_to_curvature,
    stopping_distance,
)
from edge_rover.control.kinematic_loop import Loop, WorldObstacle
from edge_rover.control.params import ControllerParams, params_from_values
from edge_rover.control.watchdog import WatchdogState

P = ControllerParams()
NO_STEER = replace(P, num_arcs=1)


def _states(loop: Loop) -> list[str]:
    return [report.state for _, _, report, _, _ in loop.log]


def test_arc_coordinates_round_trip() -> None:
    for curvature in (0.0, 0.4, -0.9):
        s = np.linspace(0.1, 2.5, 7)
        s_back, d = arc_coordinates(arc_points(curvature, s), curvature)
        np.testing.assert_allclose(s_back, s, atol=1e-9)
        np.testing.assert_allclose(d, 0.0, atol=1e-9)
    s_behind, _ = arc_coordinates(np.array([[-1.0, 0.0], [-0.5, 0.1]]), 0.5)
    assert (s_behind < 0).all()


def test_stopping_distance_inverse() -> None:
    for speed in (0.0, 0.5, 2.0, 7.0):
        d = stopping_distance(speed, 3.0, 0.2)
        assert speed_to_stop_within(d, 3.0, 0.2) == pytest.approx(speed)


def test_static_obstacle_ahead_stops_before_it_and_holds_without_oscillating() -> None:
    loop = Loop(params=NO_STEER, obstacles=[WorldObstacle("box", 8.0, 0.0, size=0.5)])
    loop.run(14.0)
    clearances = [c for *_, c in loop.log]
    assert min(clearances) > 0.3  # never touched, stopped with room to spare
    assert loop.speed == pytest.approx(0.0, abs=1e-6)
    states = _states(loop)
    assert states[-1] == "HOLD"
    first_hold = states.index("HOLD")
    assert set(states[first_hold:]) == {"HOLD"}  # held while blocked
    speeds_after = [cmd.speed for _, cmd, *_ in loop.log[first_hold:]]
    assert max(speeds_after) == 0.0  # no creep-stop-creep on the same obstacle


def test_release_after_path_stays_clear() -> None:
    loop = Loop(params=NO_STEER, obstacles=[WorldObstacle("box", 6.0, 0.0, size=0.5)])
    loop.run(10.0)
    assert _states(loop)[-1] == "HOLD"
    loop.obstacles.clear()
    loop.log.clear()
    loop.run(0.3)  # shorter than release_time
    assert {r.state for _, _, r, _, _ in loop.log} == {"HOLD"}
    loop.run(3.0)
    assert _states(loop)[-1] == "DRIVING"
    assert loop.speed == pytest.approx(P.cruise_speed)


def test_late_obstacle_triggers_full_braking_at_once() -> None:
    loop = Loop(params=NO_STEER)
    loop.run(4.0)
    assert loop.speed == pytest.approx(1.0)
    loop.obstacles.append(WorldObstacle("late", loop.x + 2.0, 0.0, size=0.5))
    loop.log.clear()
    loop.run(3.0)
    assert loop.log[0][2].state == "FULL_BRAKE"
    assert loop.log[0][1].speed < 1.0 and loop.log[0][1].brake == 1.0
    assert min(c for *_, c in loop.log) > 0.0


def test_obstacle_beside_the_path_does_not_brake() -> None:
    loop = Loop(obstacles=[WorldObstacle("side", 6.0, 1.2, size=0.5)])
    loop.run(12.0)
    driving = loop.log[40:]
    assert {r.state for _, _, r, _, _ in driving} == {"DRIVING"}
    assert all(cmd.brake == 0.0 for _, cmd, *_ in driving)
    assert loop.x > 8.0


def test_slalom_is_passed_by_steering_not_stopping() -> None:
    cones = [WorldObstacle(f"cone{i}", 4.0 + 4.0 * i, 0.2 * (-1) ** i, size=0.3) for i in range(4)]
    loop = Loop(obstacles=cones)
    loop.run(22.0)
    assert loop.x > 18.0  # past the last cone
    assert min(c for *_, c in loop.log[40:]) > 0.05  # no contact
    assert min(cmd.speed for _, cmd, *_ in loop.log[60:]) > 0.5  # kept moving
    assert max(abs(cmd.steering_angle) for _, cmd, *_ in loop.log) > 0.05  # by steering


def test_approaching_obstacle_uses_closing_speed() -> None:
    oncoming = (Obstacle("car", 5.0, 0.0, vx=-3.0, size_x=1.0, size_y=1.0),)
    static = (Obstacle("car", 5.0, 0.0, size_x=1.0, size_y=1.0),)
    ttc_moving = obstacle_conflicts(P, oncoming, 0.0, 1.0, 0.0)[0].ttc
    ttc_static = obstacle_conflicts(P, static, 0.0, 1.0, 0.0)[0].ttc
    assert ttc_moving == pytest.approx(ttc_static / 4.0, rel=0.05)
    crossing = (Obstacle("ped", 4.0, -2.0, vy=1.5),)
    conflict = obstacle_conflicts(P, crossing, 0.0, 1.0, 0.0)[0]
    assert 0.0 < conflict.entry_time < 2.0
    leaving = (Obstacle("ped", 4.0, -2.0, vy=-1.5),)
    assert obstacle_conflicts(P, leaving, 0.0, 1.0, 0.0) == []


def test_hysteresis_keeps_stage_until_clear_for_release_time() -> None:
    params = replace(NO_STEER, ttc_warn=3.0)
    state = ControllerState(last_now=0.0, speed=1.0, watchdog=WatchdogState(False, "", None, 0.0, True))

    def at(t: float, x: float) -> ControlInputs:
        return ControlInputs(
            obstacles=(Obstacle("o", x, 0.0, vx=0.0, size_x=0.2, size_y=0.2),),
            obstacles_stamp=t,
            obstacles_received=t,
            frames_received=t,
            ego_speed=1.0,
            desired_speed=1.0,
        )

    # TTC ≈ gap/1 m/s; gap = x - 0.14 - 0.65. Enter WARN at TTC 2.9 s.
    t = 0.02
    state, _, report = step(params, state, at(t, 3.7), t)
    assert report.state == "WARN"
    # TTC 3.2 s: above ttc_warn but inside ttc_warn·(1+hysteresis) → stays WARN.
    for _ in range(50):
        t += 0.02
        state, _, report = step(params, state, at(t, 4.0), t)
        assert report.state == "WARN"
    # TTC 4.5 s: beyond the hysteresis band, but WARN ends only after release_time.
    states = []
    for _ in range(40):
        t += 0.02
        state, _, report = step(params, state, at(t, 5.3), t)
        states.append(report.state)
    n_warn = states.index("DRIVING")
    assert n_warn * 0.02 == pytest.approx(params.release_time, abs=0.03)
    assert set(states[n_warn:]) == {"DRIVING"}


def _fresh(t: float, **kw: object) -> ControlInputs:
    return ControlInputs(obstacles_stamp=t, obstacles_received=t, frames_received=t, ego_speed=1.0, **kw)


def _driving(t: float = 1.0) -> ControllerState:
    return ControllerState(last_now=t, speed=1.0, watchdog=WatchdogState(False, "", None, t, True))


def test_watchdog_stale_obstacles_stop_within_one_period_and_latch() -> None:
    t_last = 1.0
    state = _driving(t_last)
    t = t_last
    first_stop = None
    while t < t_last + 0.5:
        t = round(t + P.period, 9)
        inputs = ControlInputs(
            obstacles_stamp=t_last, obstacles_received=t_last, frames_received=t, ego_speed=state.speed
        )
        state, cmd, report = step(P, state, inputs, t)
        if report.state == "WATCHDOG_STOP" and first_stop is None:
            first_stop = t
            assert "obstacles: stale" in report.reason and report.level == 2
            assert cmd.speed < 1.0
    assert first_stop is not None
    assert P.stale_after < first_stop - t_last <= P.stale_after + P.period + 1e-9
    assert state.speed == 0.0
    # Fresh again: still latched until fresh for recovery_time, then releases.
    latched = []
    while True:
        t = round(t + P.period, 9)
        state, cmd, report = step(P, state, _fresh(t), t)
        latched.append(report.state == "WATCHDOG_STOP")
        if not latched[-1]:
            break
        assert "latched" in report.reason and cmd.speed == 0.0
    assert len(latched) * P.period == pytest.approx(P.recovery_time + P.period, abs=P.period + 1e-6)


@pytest.mark.parametrize(
    ("inputs_change", "reason"),
    [
        ({"obstacles": (Obstacle("n", math.nan, 0.0),)}, "non-finite"),
        ({"obstacles": (Obstacle("far", 1e4, 0.0),)}, "out of range"),
        ({"ego_speed": math.inf}, "ego speed"),
        ({"desired_speed": -1e3}, "desired speed"),
    ],
)
def test_watchdog_invalid_inputs_stop(inputs_change: dict, reason: str) -> None:
    t = 1.02
    inputs = replace(_fresh(t), **inputs_change)
    _state, cmd, report = step(P, _driving(), inputs, t)
    assert report.state == "WATCHDOG_STOP" and reason in report.reason
    assert cmd.speed < 1.0 and math.isfinite(cmd.speed)


def test_watchdog_clock_jump_stops() -> None:
    for t in (0.5, 3.0):  # backwards, then far ahead
        _, _, report = step(P, _driving(1.0), _fresh(t), t)
        assert report.state == "WATCHDOG_STOP" and "clock jumped" in report.reason


def test_nothing_received_yet_means_stop() -> None:
    _, cmd, report = step(P, ControllerState(), ControlInputs(), 0.0)
    assert report.state == "WATCHDOG_STOP" and cmd.speed == 0.0


def test_output_modes() -> None:
    inputs = _fresh(1.02, desired_speed=1.0, desired_curvature=0.5)
    state = replace(_driving(), steering=0.24)
    _, ack, _ = step(replace(P, cmd_vel_angular_z="steering_angle"), state, inputs, 1.02)
    _, diff, _ = step(replace(P, cmd_vel_angular_z="yaw_rate"), state, inputs, 1.02)
    assert ack.angular_z == pytest.approx(ack.steering_angle)
    assert diff.angular_z == pytest.approx(
        diff.speed * steering_to_curvature(diff.steering_angle, P.wheelbase)
    )


def test_grid_blocks_path_and_steering_uses_it() -> None:
    data = np.zeros((100, 100), dtype=np.int8)
    data[45:55, 60:63] = 100  # a wall piece 1 m wide, 3 m ahead (grid 5 m × 5 m, 5 cm cells, centred on y)
    grid = GridMap.from_occupancy(data, 0.05, (0.0, -2.5, 0.0))
    inputs = _fresh(1.02, grid=grid, grid_received=1.0)
    _, _, report = step(NO_STEER, _driving(), inputs, 1.02)
    assert report.obstacle == "grid" and report.gap == pytest.approx(3.0 - 0.4 - 0.65, abs=0.1)
    state, t = _driving(), 1.0
    for _ in range(20):
        t += P.period
        state, cmd, _ = step(P, state, _fresh(t, grid=grid, grid_received=t), t)
    assert abs(cmd.steering_angle) > 0.05


def test_params_refuse_unsafe_combinations_with_reason() -> None:
    with pytest.raises(ParameterValueError, match="ttc_full < ttc_partial"):
        params_from_values({"ttc_full": 2.0})
    with pytest.raises(ParameterValueError, match="lookahead"):
        params_from_values({"lookahead": 1.5})
    with pytest.raises(ParameterValueError, match="below its minimum"):
        params_from_values({"full_decel": -1.0})
    assert params_from_values({"max_speed": 3.0}).max_speed == 3.0


# ---------------------------------------------------------------------------- properties

obstacle_strategy = st.builds(
    Obstacle,
    track_id=st.text(min_size=1, max_size=3),
    x=st.floats(-2.0, 12.0),
    y=st.floats(-4.0, 4.0),
    vx=st.floats(-3.0, 3.0),
    vy=st.floats(-3.0, 3.0),
    size_x=st.floats(0.05, 2.0),
    size_y=st.floats(0.05, 2.0),
)


@given(
    obstacles=st.lists(obstacle_strategy, max_size=6),
    prev_speed=st.floats(0.0, 2.0),
    ego_delta=st.floats(-0.5, 0.5),
    prev_accel=st.floats(-6.0, 1.0),
    prev_steering=st.floats(-0.5, 0.5),
    desired=st.floats(-1.0, 5.0),
    desired_curvature=st.floats(-2.0, 2.0),
    stage=st.sampled_from(list(Stage)),
    latency=st.floats(0.0, 0.3),
    mode=st.sampled_from(["yaw_rate", "steering_angle"]),
)
@settings(max_examples=120, deadline=None)
def test_property_never_accelerates_into_stopping_distance_and_output_is_bounded(
    obstacles,
    prev_speed,
    ego_delta,
    prev_accel,
    prev_steering,
    desired,
    desired_curvature,
    stage,
    latency,
    mode,
) -> None:
    params = replace(P, cmd_vel_angular_z=mode)
    t = 10.0
    ego = max(prev_speed + ego_delta, 0.0)
    state = ControllerState(
        last_now=t - params.period,
        speed=prev_speed,
        accel=prev_accel,
        steering=prev_steering,
        stage=stage,
        watchdog=WatchdogState(False, "", None, t - params.period, True),
    )
    inputs = ControlInputs(
        obstacles=tuple(obstacles),
        obstacles_stamp=t - latency,
        obstacles_received=t,
        frames_received=t,
        ego_speed=ego,
        desired_speed=desired,
        desired_curvature=desired_curvature,
    )
    _new, cmd, report = step(params, state, inputs, t)
    values = (cmd.speed, cmd.steering_angle, cmd.curvature, cmd.yaw_rate, cmd.angular_z, cmd.brake)
    assert all(math.isfinite(v) for v in values)
    assert params.min_speed <= cmd.speed <= params.max_speed
    assert abs(cmd.steering_angle) <= params.max_steering_angle + 1e-9
    assert abs(cmd.steering_angle - prev_steering) <= params.max_steering_rate * params.period + 1e-9
    assert cmd.speed - prev_speed <= params.max_accel * params.period + 1e-9
    assert 0.0 <= cmd.brake <= 1.0
    # Any obstacle in the corridor of the commanded arc within stopping distance → no acceleration.
    latency = t - (t - latency)  # what the controller can measure from the stamp
    delay = latency + params.actuator_lag + params.period
    reach = stopping_distance(ego, params.full_decel, delay) + params.standoff
    for ob in (d for o in obstacles for d in obstacle_discs(o)):  # the controller's obstacle model
        moved = np.array([[ob.x + ob.vx * latency, ob.y + ob.vy * latency]])
        s, d = arc_coordinates(moved, cmd.curvature)
        gap = s[0] - ob.radius - params.front_overhang
        in_corridor = d[0] < params.half_corridor + ob.radius and s[0] + ob.radius > params.front_overhang
        if in_corridor and gap <= reach:
            assert cmd.speed <= min(prev_speed, ego) + 1e-9, report
            assert report.state in ("FULL_BRAKE", "HOLD")


@given(
    ages=st.lists(st.one_of(st.none(), st.floats(-1.0, 2.0), st.just(math.nan)), min_size=2, max_size=2),
    now=st.one_of(st.floats(0.0, 1e6), st.just(math.inf), st.just(math.nan)),
)
@settings(max_examples=80, deadline=None)
def test_property_bad_times_always_give_finite_stopping_output(ages, now) -> None:
    received = [None if a is None else now - a for a in ages]
    inputs = ControlInputs(
        obstacles_received=received[0], frames_received=received[1], obstacles_stamp=received[0]
    )
    state = ControllerState(last_now=now - 0.02 if math.isfinite(now) else 5.0, speed=1.0)
    _, cmd, report = step(P, state, inputs, now)
    assert all(math.isfinite(v) for v in (cmd.speed, cmd.angular_z, cmd.steering_angle))
    assert 0.0 <= cmd.speed <= 1.0
    if not math.isfinite(now) or any(a is None or not (-1e-3 <= a <= P.stale_after) for a in ages):
        assert report.state == "WATCHDOG_STOP"


def test_nan_frame_arrival_time_trips_watchdog() -> None:
    inputs = replace(_fresh(1.02), frames_received=math.nan)
    _, _, report = step(P, _driving(), inputs, 1.02)
    assert report.state == "WATCHDOG_STOP" and "frames" in report.reason


def test_grid_inflation_is_not_applied_twice() -> None:
    """An obstacle beside the path, rasterised by the mapper with rover half-width inflation."""
    data = np.zeros((100, 100), dtype=np.int8)
    yy, xx = np.mgrid[0:100, 0:100]
    centre_col, centre_row = 60, 50 + 17  # x ≈ 3.0 m, y ≈ 0.875 m (0.05 m cells, origin y = -2.5)
    data[(xx - centre_col) ** 2 + (yy - centre_row) ** 2 <= (0.25 + 0.35) ** 2 / 0.05**2] = 100
    raw = GridMap.from_occupancy(data, 0.05, (0.0, -2.5, 0.0))
    inflated = GridMap.from_occupancy(data, 0.05, (0.0, -2.5, 0.0), inflation=0.35)
    _, _, report_raw = step(NO_STEER, _driving(), _fresh(1.02, grid=raw, grid_received=1.0), 1.02)
    _, _, report = step(NO_STEER, _driving(), _fresh(1.02, grid=inflated, grid_received=1.0), 1.02)
    assert report_raw.obstacle == "grid"  # counted twice, the obstacle would block the path
    assert report.obstacle == "" and report.state == "DRIVING"


def test_first_cycle_with_a_rolling_rover_stops_gently_from_its_speed() -> None:
    _, cmd, report = step(P, ControllerState(), ControlInputs(ego_speed=1.5), 0.0)
    assert report.state == "WATCHDOG_STOP"
    assert cmd.speed == pytest.approx(1.5 - P.stop_decel * P.period)


def test_elongated_obstacles_become_rows_of_discs() -> None:
    car = Obstacle("car", 6.0, 2.0, size_x=4.5, size_y=1.8, yaw=0.0)
    discs = obstacle_discs(car)
    assert len(discs) == 3 and all(d.track_id == "car" for d in discs)
    assert max(d.radius for d in discs) < 1.2  # not one 2.4 m disc
    # Every corner of the box is inside some disc.
    for cx, cy in ((3.75, 1.1), (8.25, 1.1), (3.75, 2.9), (8.25, 2.9)):
        assert min(math.hypot(cx - d.x, cy - d.y) - d.radius for d in discs) <= 1e-9
    turned = obstacle_discs(replace(car, yaw=math.pi / 2))
    assert {round(d.x, 6) for d in turned} == {6.0}
    assert obstacle_discs(Obstacle("p", 3.0, 0.0, size_x=0.5, size_y=0.6)) == (
        Obstacle("p", 3.0, 0.0, size_x=0.5, size_y=0.6),
    )
    # A car parked beside the path (its near side 1.1 m from the centre line) is not in the corridor.
    _, _, report = step(NO_STEER, _driving(), _fresh(1.02, obstacles=(car,)), 1.02)
    assert report.state == "DRIVING" and report.obstacle == ""


def test_start_up_releases_as_soon_as_inputs_are_fresh_but_a_fault_latches() -> None:
    state = ControllerState()
    state, _, report = step(P, state, ControlInputs(), 0.0)
    assert report.state == "WATCHDOG_STOP"
    state, _, report = step(P, state, _fresh(0.02), 0.02)
    assert report.state == "DRIVING"  # start-up is not a fault: no recovery wait
    state, _, report = step(P, state, replace(_fresh(0.04), obstacles_received=-1.0), 0.04)
    assert report.state == "WATCHDOG_STOP"
    state, _, report = step(P, state, _fresh(0.06), 0.06)
    assert report.state == "WATCHDOG_STOP" and "latched" in report.reason


def test_a_person_in_the_path_is_stopped_for_not_slalomed_around() -> None:
    loop = Loop(obstacles=[WorldObstacle("ped", 8.0, 0.0, size=0.5, label="person")])
    loop.run(12.0)
    assert loop.speed == pytest.approx(0.0, abs=1e-6) and _states(loop)[-1] == "HOLD"
    assert loop.x < 8.0 - 0.7 and abs(loop.y) < 0.3  # stopped in front of the person, not beside
    assert min(c for *_, c in loop.log) > 0.3


def test_after_going_around_a_box_the_rover_returns_to_its_path() -> None:
    loop = Loop(obstacles=[WorldObstacle("box", 8.0, 0.0, size=0.5, label="box")])
    loop.run(25.0)
    assert loop.x > 18.0 and min(c for *_, c in loop.log) > 0.1
    assert abs(loop.y) < 0.3 and abs(loop.yaw) < 0.1  # back on the course line, heading along it


def test_the_rover_never_passes_a_person_closer_than_both_margins_but_passes_a_box() -> None:
    beside = {"x": 8.0, "y": 1.0, "size": 0.4}  # its disc 0.42 m from the body on a straight pass
    loop = Loop(obstacles=[WorldObstacle("ped", label="person", **beside)])
    loop.run(12.0)
    keep = P.corridor_margin + P.vulnerable_margin
    assert min(c for *_, c in loop.log) >= keep - 0.05, "passed a person inside the vulnerable margin"
    assert loop.x < 8.0 and loop.speed == pytest.approx(0.0, abs=1e-6)  # it stopped before the person
    without = Loop(
        params=replace(P, vulnerable_margin=0.0), obstacles=[WorldObstacle("ped", label="person", **beside)]
    )
    without.run(12.0)
    assert without.x > 10.0 and min(c for *_, c in without.log) < keep  # the margin is what held it
    box = Loop(obstacles=[WorldObstacle("box", label="box", **beside)])
    box.run(12.0)
    assert box.x > 10.0  # a box at the same place is passed
