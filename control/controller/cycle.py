"""One control cycle: ``step(params, state, inputs, now) -> (state, Command, SafetyReport)``.

Pure: no clocks, no rclpy. The node passes ``now`` and the arrival times of its inputs, so live
runs, replay at any speed and tests execute the same decisions. ``step`` only sequences the parts:
watchdog (``inputs``) → steering (``arcs``) → braking (``stages``) → speed (``speed``) → report.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from edge_rover.control.controller.arcs import choose_arc, heading_now, wrap_angle
from edge_rover.control.controller.inputs import (
    fresh_grid,
    input_ages,
    invalid_input,
    perception_latency,
    watchdog_limits,
)
from edge_rover.control.controller.report import drive_report, watchdog_report
from edge_rover.control.controller.speed import (
    brake,
    make_command,
    rate_limit_steering,
    speed_cap,
    stage_speed,
)
from edge_rover.control.controller.stages import braking_stage, conflicts_on_arc
from edge_rover.control.controller.types import (
    Command,
    ControlInputs,
    ControllerState,
    Cycle,
    SafetyReport,
    obstacle_discs,
)
from edge_rover.control.geometry import curvature_to_steering, steering_to_curvature
from edge_rover.control.params import ControllerParams
from edge_rover.control.watchdog import watchdog_step

Outcome = tuple[ControllerState, Command, SafetyReport]


def step(params: ControllerParams, state: ControllerState, inputs: ControlInputs, now: float) -> Outcome:
    """One cycle at controller time ``now`` (s) → (next state, command, safety report)."""
    state = _start_rolling(params, state, inputs)
    ages = input_ages(inputs, now)
    latency = perception_latency(params, inputs, now)
    dt = _period(params, state, now)
    watchdog = watchdog_step(state.watchdog, now, ages, invalid_input(inputs, now), watchdog_limits(params))
    cycle = Cycle(
        now=now,
        dt=dt,
        ego=state.speed if inputs.ego_speed is None else inputs.ego_speed,
        latency=latency,
        delay=latency + params.actuator_lag + dt,
        ages=ages,
        watchdog=watchdog,
    )
    if cycle.watchdog.tripped:
        return _watchdog_stop(params, state, cycle)
    return _drive(params, state, inputs, cycle)


def _start_rolling(
    params: ControllerParams, state: ControllerState, inputs: ControlInputs
) -> ControllerState:
    """First cycle with the rover already rolling: start from its speed, not from 0 (no jump)."""
    if state.last_now is None and inputs.ego_speed is not None and math.isfinite(inputs.ego_speed):
        return replace(state, speed=float(np.clip(inputs.ego_speed, params.min_speed, params.max_speed)))
    return state


def _period(params: ControllerParams, state: ControllerState, now: float) -> float:
    """Time since the last cycle, clipped to [1 ms, 0.1 s]; the nominal period on the first one."""
    dt = params.period if state.last_now is None else float(np.clip(now - state.last_now, 1e-3, 0.1))
    return dt if math.isfinite(dt) else params.period


def _watchdog_stop(params: ControllerParams, state: ControllerState, cycle: Cycle) -> Outcome:
    """Controlled stop at ``stop_decel``, steering held, until the watchdog releases."""
    speed, accel = brake(state.speed, params.stop_decel, cycle.dt)
    steering = rate_limit_steering(params, state.steering, state.steering, cycle.dt)
    new_state = replace(
        state,
        last_now=cycle.now,
        speed=speed,
        accel=accel,
        steering=steering,
        watchdog=cycle.watchdog,
        clear_since=None,
    )
    command = make_command(params, speed, steering, params.stop_decel / params.full_decel)
    return new_state, command, watchdog_report(params, cycle)


def _desired_motion(params: ControllerParams, inputs: ControlInputs) -> tuple[float, float]:
    """The driver's wish within the limits → (speed m/s, steering angle rad)."""
    desired = params.cruise_speed if inputs.desired_speed is None else inputs.desired_speed
    desired = float(np.clip(desired, params.min_speed, params.max_speed))
    steering = float(
        np.clip(
            curvature_to_steering(inputs.desired_curvature, params.wheelbase),
            -params.max_steering_angle,
            params.max_steering_angle,
        )
    )
    return desired, steering


def _drive(params: ControllerParams, state: ControllerState, inputs: ControlInputs, cycle: Cycle) -> Outcome:
    grid = fresh_grid(params, inputs, cycle.now)
    desired, desired_steering = _desired_motion(params, inputs)
    inputs = replace(inputs, obstacles=tuple(d for ob in inputs.obstacles for d in obstacle_discs(ob)))
    heading = heading_now(state, inputs)
    # Steering: choose an arc, then rate-limit. Braking is judged on the arc actually commanded.
    choice = choose_arc(
        params,
        inputs,
        desired_steering,
        state.steering,
        max(cycle.ego_forward, desired),
        grid,
        heading.error,
        heading.line,
    )
    steering = rate_limit_steering(params, state.steering, choice.steering, cycle.dt)
    curvature = steering_to_curvature(steering, params.wheelbase)
    conflicts = conflicts_on_arc(
        params, inputs.obstacles, grid, inputs.base_in_grid, curvature, cycle.ego_forward, cycle.latency
    )
    braking = braking_stage(params, state, conflicts, choice.clear, cycle.ego_forward, cycle.delay, cycle.now)
    # Speed: the cap lets the rover stop before the nearest conflict at comfortable deceleration.
    cap = speed_cap(params, desired, conflicts, curvature, cycle.delay, choice.clear)
    speed, accel, effort = stage_speed(params, state, braking.stage, cap, cycle.ego, cycle.dt)
    new_state = replace(
        state,
        last_now=cycle.now,
        speed=speed,
        accel=accel,
        steering=steering,
        stage=braking.stage,
        clear_since=braking.clear_since,
        watchdog=cycle.watchdog,
        heading=float(wrap_angle(heading.heading + speed * curvature * cycle.dt)),
        desired_heading=float(wrap_angle(heading.course + desired * inputs.desired_curvature * cycle.dt)),
        course_anchor=heading.anchor,
    )
    report = drive_report(params, cycle, braking, choice.clear)
    return new_state, make_command(params, speed, steering, effort), report
