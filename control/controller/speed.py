"""Speed and steering shaping: the stopping-distance cap, stage braking, acceleration, jerk and
steering-rate limits, and the command in the configured ``cmd_vel_angular_z`` convention."""

from __future__ import annotations

import math

import numpy as np

from edge_rover.common.conventions import STEERING_ANGLE
from edge_rover.control.controller.types import Command, Conflict, ControllerState, Stage
from edge_rover.control.geometry import speed_to_stop_within, steering_to_curvature
from edge_rover.control.params import ControllerParams


def brake(speed: float, decel: float, dt: float) -> tuple[float, float]:
    """Decelerate towards standstill at ``decel`` (emergency stages: no jerk limit) → (speed, accel)."""
    new = max(speed - decel * dt, 0.0) if speed >= 0.0 else min(speed + decel * dt, 0.0)
    return new, (new - speed) / dt


def track(params: ControllerParams, state: ControllerState, target: float, dt: float) -> tuple[float, float]:
    """Follow ``target`` within the acceleration, comfort-deceleration and jerk limits.

    The jerk limit only shapes the onset: the sign of the acceleration always follows the sign of
    the wish, so a falling target never sees the rover keep accelerating.
    """
    wanted = float(np.clip((target - state.speed) / dt, -params.comfort_decel, params.max_accel))
    jerk_step = params.max_jerk * dt
    accel = float(np.clip(wanted, state.accel - jerk_step, state.accel + jerk_step))
    accel = min(accel, 0.0) if wanted <= 0.0 else max(accel, 0.0)
    speed = state.speed + accel * dt
    speed = min(speed, target) if accel > 0.0 else max(speed, min(target, state.speed))
    speed = float(np.clip(speed, params.min_speed, params.max_speed))
    return speed, (speed - state.speed) / dt


def rate_limit_steering(params: ControllerParams, previous: float, target: float, dt: float) -> float:
    """Move from ``previous`` towards ``target`` by at most ``max_steering_rate``·dt, within the limit."""
    step = params.max_steering_rate * dt
    return float(
        np.clip(
            np.clip(target, previous - step, previous + step),
            -params.max_steering_angle,
            params.max_steering_angle,
        )
    )


def speed_cap(
    params: ControllerParams,
    desired: float,
    conflicts: list[Conflict],
    curvature: float,
    delay: float,
    arc_clear: bool,
) -> float:
    """The most speed allowed: stop before the nearest conflict at comfortable deceleration,
    lateral acceleration on the arc, and zero with no clear arc."""
    cap_gap = min((c.gap for c in conflicts), default=math.inf) - params.standoff
    cap = min(
        desired,
        speed_to_stop_within(cap_gap, params.comfort_decel, delay) if math.isfinite(cap_gap) else desired,
    )
    if abs(curvature) > 1e-6:
        cap = min(cap, math.sqrt(params.max_lateral_accel / abs(curvature)))
    if not arc_clear:
        cap = 0.0
    return cap


def stage_decel(params: ControllerParams, stage: Stage) -> float | None:
    """The deceleration a braking stage imposes (None: the stage does not brake)."""
    return {
        Stage.PARTIAL: params.partial_decel,
        Stage.FULL: params.full_decel,
        Stage.HOLD: params.full_decel,
    }.get(stage)


def stage_speed(
    params: ControllerParams, state: ControllerState, stage: Stage, cap: float, ego: float, dt: float
) -> tuple[float, float, float]:
    """Speed, acceleration and brake effort (0..1) for this cycle's stage → (speed, accel, brake)."""
    decel = stage_decel(params, stage)
    if decel is not None:
        # Brake from what the rover is actually doing if it lags the last command.
        speed, _ = brake(min(state.speed, max(ego, 0.0)), decel, dt)
        accel = (speed - state.speed) / dt
    else:
        target = min(cap, state.speed) if stage == Stage.WARN else cap  # WARN: no acceleration
        speed, accel = track(params, state, target, dt)
    effort = 1.0 if stage in (Stage.FULL, Stage.HOLD) else (decel / params.full_decel if decel else 0.0)
    return speed, accel, effort


def make_command(params: ControllerParams, speed: float, steering: float, brake: float) -> Command:
    """The command, with Twist.angular.z in the configured convention (yaw rate or steering angle)."""
    curvature = steering_to_curvature(steering, params.wheelbase)
    yaw_rate = speed * curvature
    angular = steering if params.cmd_vel_angular_z == STEERING_ANGLE else yaw_rate
    return Command(
        speed=speed,
        steering_angle=steering,
        curvature=curvature,
        yaw_rate=yaw_rate,
        angular_z=angular,
        brake=brake,
    )
