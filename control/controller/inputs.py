"""Input checks: what the watchdog watches, and which values cannot be trusted."""

from __future__ import annotations

import math

from edge_rover.control.controller.types import ControlInputs
from edge_rover.control.geometry import GridMap
from edge_rover.control.params import ControllerParams
from edge_rover.control.watchdog import WatchdogLimits

MAX_PLAUSIBLE_RANGE = 500.0  # m; obstacle positions beyond are a broken input, not an obstacle
MAX_PLAUSIBLE_SPEED = 50.0  # m/s for obstacles, ego and desired motion
MAX_PLAUSIBLE_SIZE = 50.0  # m


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def invalid_input(inputs: ControlInputs, now: float) -> str | None:
    """Why an input cannot be trusted (NaN/Inf, out of range), or None."""
    if not math.isfinite(now):
        return f"controller clock is {now}"
    if inputs.invalid is not None:
        return inputs.invalid
    for ob in inputs.obstacles:
        if not _finite(ob.x, ob.y, ob.vx, ob.vy, ob.size_x, ob.size_y, ob.confidence, ob.yaw):
            return f"obstacle {ob.track_id!r} has a non-finite field"
        if math.hypot(ob.x, ob.y) > MAX_PLAUSIBLE_RANGE:
            return f"obstacle {ob.track_id!r} at {math.hypot(ob.x, ob.y):.0f} m is out of range"
        if math.hypot(ob.vx, ob.vy) > MAX_PLAUSIBLE_SPEED:
            return f"obstacle {ob.track_id!r} speed {math.hypot(ob.vx, ob.vy):.1f} m/s is out of range"
        if not (0.0 <= ob.size_x <= MAX_PLAUSIBLE_SIZE and 0.0 <= ob.size_y <= MAX_PLAUSIBLE_SIZE):
            return f"obstacle {ob.track_id!r} size {ob.size_x}×{ob.size_y} m is out of range"
        if not 0.0 <= ob.confidence <= 1.0:
            return f"obstacle {ob.track_id!r} confidence {ob.confidence} is outside [0, 1]"
    if inputs.ego_speed is not None and not (
        math.isfinite(inputs.ego_speed) and abs(inputs.ego_speed) <= MAX_PLAUSIBLE_SPEED
    ):
        return f"ego speed {inputs.ego_speed} m/s"
    if inputs.desired_speed is not None and not (
        math.isfinite(inputs.desired_speed) and abs(inputs.desired_speed) <= MAX_PLAUSIBLE_SPEED
    ):
        return f"desired speed {inputs.desired_speed} m/s"
    if not math.isfinite(inputs.desired_curvature):
        return f"desired curvature {inputs.desired_curvature}"
    if inputs.obstacles_stamp is not None and not math.isfinite(inputs.obstacles_stamp):
        return f"obstacle stamp {inputs.obstacles_stamp}"
    if inputs.position is not None and not _finite(*inputs.position):
        return f"odometry position {inputs.position}"
    if inputs.yaw is not None and not math.isfinite(inputs.yaw):
        return f"odometry yaw {inputs.yaw}"
    if not _finite(*inputs.base_in_grid):
        return f"grid pose {inputs.base_in_grid}"
    return None


def _age(now: float, received: float | None) -> float | None:
    return None if received is None else now - received


def input_ages(inputs: ControlInputs, now: float) -> dict[str, float | None]:
    """Age (s) of every watched input by name; None: never received."""
    ages: dict[str, float | None] = {"obstacles": _age(now, inputs.obstacles_received)}
    if inputs.watch_frames:
        ages["frames"] = _age(now, inputs.frames_received)
    for name, received in inputs.extra_watched:
        ages[name] = _age(now, received)
    return ages


def watchdog_limits(params: ControllerParams) -> WatchdogLimits:
    return WatchdogLimits(
        stale_after=params.stale_after, recovery_time=params.recovery_time, clock_jump=params.clock_jump
    )


def perception_latency(params: ControllerParams, inputs: ControlInputs, now: float) -> float:
    """Age of the perception the obstacles describe (capture → now), capped; unknown → the cap."""
    if inputs.obstacles_stamp is None or not math.isfinite(now):
        return params.max_latency
    return min(max(now - inputs.obstacles_stamp, 0.0), params.max_latency)


def fresh_grid(params: ControllerParams, inputs: ControlInputs, now: float) -> GridMap | None:
    """The grid if it arrived within ``map_timeout`` (and not from the future), else None."""
    age = _age(now, inputs.grid_received)
    if inputs.grid is None or age is None or not -1e-3 <= age <= params.map_timeout:
        return None
    return inputs.grid
