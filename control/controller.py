"""The controller: staged emergency braking, steering around obstacles, limits, watchdog.

Pure: ``step(params, state, inputs, now) -> (state, Command, SafetyReport)``. No clocks, no
rclpy: the node passes ``now`` and the arrival times of its inputs, so live runs, replay at any
speed and tests execute the same decisions.

One cycle:
1. watchdog (stale / invalid inputs, clock jumps) → latched controlled stop;
2. steering: score candidate arcs on the grid and the tracked obstacles, pick the best clear one,
   limit the steering rate and the lateral acceleration;
3. braking: find conflicts in the corridor of the arc actually commanded (tracked obstacles,
   extrapolated over ``prediction_horizon``, and occupied grid cells), compute gap, closing speed,
   time-to-collision and stopping distance (measured perception latency + actuator lag + one
   period), update the stage machine NONE → WARN → PARTIAL → FULL → HOLD with hysteresis;
4. speed: follow the desired speed under a stopping-distance cap, acceleration and jerk limits,
   or the stage's deceleration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import IntEnum

import numpy as np

from edge_rover.common.conventions import STEERING_ANGLE
from edge_rover.control.geometry import (
    GridMap,
    arc_coordinates,
    arc_points,
    arc_tangent,
    curvature_to_steering,
    speed_to_stop_within,
    steering_to_curvature,
    stopping_distance,
    transform_points,
)
from edge_rover.control.params import ControllerParams
from edge_rover.control.watchdog import WatchdogLimits, WatchdogState, watchdog_step

MAX_PLAUSIBLE_RANGE = 500.0  # m; obstacle positions beyond are a broken input, not an obstacle
MAX_PLAUSIBLE_SPEED = 50.0  # m/s for obstacles, ego and desired motion
MAX_PLAUSIBLE_SIZE = 50.0  # m
STOPPED_SPEED = 0.05  # m/s; below this the rover counts as stopped
PREDICTION_STEP = 0.1  # s between extrapolated obstacle positions


class Stage(IntEnum):
    NONE = 0
    WARN = 1
    PARTIAL = 2
    FULL = 3
    HOLD = 4


@dataclass(frozen=True)
class Obstacle:
    """A tracked obstacle in base_link; velocity is over ground, expressed in base_link axes."""

    track_id: str
    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0
    size_x: float = 0.5
    size_y: float = 0.5
    label: str = ""
    confidence: float = 1.0
    yaw: float = 0.0  # heading of the box's x side in base_link (the mapper's boxes: 0)

    @property
    def radius(self) -> float:
        return 0.5 * math.hypot(self.size_x, self.size_y)


def obstacle_discs(ob: Obstacle) -> tuple[Obstacle, ...]:
    """An elongated box as a row of discs along its long side (a car is not a 5 m disc).

    Each disc covers its slice of the box: radius = hypot(short/2, slice/2). A square box stays
    one disc. The discs keep the obstacle's id and velocity.
    """
    long_side, short_side = max(ob.size_x, ob.size_y), min(ob.size_x, ob.size_y)
    if short_side <= 0.0 or long_side <= 1.5 * short_side:
        return (ob,)
    count = min(math.ceil(long_side / short_side), 16)
    piece = long_side / count
    radius = math.hypot(0.5 * short_side, 0.5 * piece)
    axis = ob.yaw if ob.size_x >= ob.size_y else ob.yaw + 0.5 * math.pi
    ux, uy = math.cos(axis), math.sin(axis)
    side = radius * math.sqrt(2.0)  # a square whose circumscribed disc has that radius
    discs = []
    for k in range(count):
        offset = (k + 0.5) * piece - 0.5 * long_side
        discs.append(
            replace(ob, x=ob.x + offset * ux, y=ob.y + offset * uy, size_x=side, size_y=side, yaw=0.0)
        )
    return tuple(discs)


@dataclass(frozen=True)
class ControlInputs:
    """Everything one cycle looks at. Times are on the controller's clock (s)."""

    obstacles: tuple[Obstacle, ...] = ()
    obstacles_stamp: float | None = None  # capture stamp of the frame the obstacles came from
    obstacles_received: float | None = None
    frames_received: float | None = None  # newest camera_info / detections arrival (None: not watched)
    watch_frames: bool = True
    extra_watched: tuple[tuple[str, float | None], ...] = ()  # more (name, arrival) pairs to watch
    invalid: str | None = None  # a conversion problem found by the node (wrong frame, bad message)
    grid: GridMap | None = None
    grid_received: float | None = None
    base_in_grid: tuple[float, float, float] = (0.0, 0.0, 0.0)  # pose of base_link in the grid frame
    ego_speed: float | None = None  # from odometry; None → the last command is used
    desired_speed: float | None = None  # from /cmd_vel_in; None → cruise_speed
    desired_curvature: float = 0.0
    yaw: float | None = None  # odometry yaw (rad); None → integrate the commanded yaw rate
    position: tuple[float, float] | None = None  # odometry (x, y); None → no return-to-path term


@dataclass(frozen=True)
class ControllerState:
    last_now: float | None = None
    speed: float = 0.0  # last commanded speed
    accel: float = 0.0  # last commanded acceleration
    steering: float = 0.0  # last commanded (virtual) steering angle
    stage: Stage = Stage.NONE
    clear_since: float | None = None
    heading: float = 0.0  # rover yaw (odometry, or integrated commands)
    desired_heading: float | None = None  # course to return to after avoiding (integrated desired yaw rate)
    course_anchor: tuple[float, float] | None = None  # a point of the course line (odometry frame)
    watchdog: WatchdogState = field(default_factory=WatchdogState)


@dataclass(frozen=True)
class Command:
    speed: float  # m/s
    steering_angle: float  # rad (front wheel angle; a virtual one for a differential drive)
    curvature: float  # 1/m
    yaw_rate: float  # rad/s
    angular_z: float  # what goes into Twist.angular.z for the configured output mode
    brake: float  # 0..1 brake effort requested (stage deceleration / full_decel)


@dataclass(frozen=True)
class Conflict:
    source: str  # obstacle track id or "grid"
    gap: float  # m of free path from the front bumper to the conflict point
    closing_speed: float  # m/s (> 0: approaching)
    ttc: float  # s (inf if not approaching)
    entry_time: float  # s until the obstacle is in the corridor (0: it is now)


@dataclass(frozen=True)
class SafetyReport:
    state: str  # DRIVING / WARN / PARTIAL_BRAKE / FULL_BRAKE / HOLD / WATCHDOG_STOP
    level: int  # 0 OK, 1 WARN, 2 ERROR (diagnostic_msgs levels)
    reason: str
    ttc: float
    gap: float
    closing_speed: float
    stopping_distance: float
    obstacle: str
    ego_speed: float
    clear_arc: bool
    latency: float
    input_ages: dict[str, float | None]


STATE_NAMES = {
    Stage.NONE: "DRIVING",
    Stage.WARN: "WARN",
    Stage.PARTIAL: "PARTIAL_BRAKE",
    Stage.FULL: "FULL_BRAKE",
    Stage.HOLD: "HOLD",
}


# ---------------------------------------------------------------------------- input checks


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


# ---------------------------------------------------------------------------- path checks


def _wrap(angle: np.ndarray | float) -> np.ndarray:
    return (np.asarray(angle) + math.pi) % (2.0 * math.pi) - math.pi


def _latency(params: ControllerParams, inputs: ControlInputs, now: float) -> float:
    """Age of the perception the obstacles describe (capture → now), capped."""
    if inputs.obstacles_stamp is None:
        return params.max_latency
    return min(max(now - inputs.obstacles_stamp, 0.0), params.max_latency)


def obstacle_conflicts(
    params: ControllerParams,
    obstacles: tuple[Obstacle, ...],
    curvature: float,
    ego_speed: float,
    latency: float,
) -> list[Conflict]:
    """Tracked obstacles that are, or will be within ``prediction_horizon``, in the corridor ahead.

    Obstacles are first moved to where they are *now* (capture + latency). Gaps are measured from
    the front bumper along the arc; an obstacle that enters the corridor only after the bumper has
    passed its point is not a conflict (it is beside or behind the rover).
    """
    conflicts = []
    times = np.arange(0.0, params.prediction_horizon + 1e-9, PREDICTION_STEP)
    for ob in obstacles:
        radius = ob.radius
        start = np.array([ob.x + ob.vx * latency, ob.y + ob.vy * latency])
        positions = start + np.outer(times, [ob.vx, ob.vy])
        s, d = arc_coordinates(positions, curvature)
        gaps = s - radius - params.front_overhang
        inside = (
            (d < params.half_corridor + radius)
            & (s + radius > params.front_overhang)
            & (gaps < params.lookahead)
            & (np.maximum(gaps, 0.0) >= ego_speed * times - 1e-9)
        )
        if not inside.any():
            continue
        k = int(np.argmax(inside))
        gap = max(float(gaps[k]), 0.0)
        tangent = arc_tangent(curvature, np.array([min(float(s[k]), 1e6)]))[0]
        closing = ego_speed - float(tangent @ np.array([ob.vx, ob.vy]))
        remaining = gap - ego_speed * float(times[k])
        ttc = float(times[k]) + remaining / closing if closing > 1e-6 else math.inf
        conflicts.append(Conflict(ob.track_id, gap, closing, ttc, float(times[k])))
    return conflicts


def _arc_samples(params: ControllerParams, step: float) -> np.ndarray:
    return np.arange(params.front_overhang, params.front_overhang + params.lookahead + 1e-9, step)


def arc_clearance(
    params: ControllerParams,
    curvatures: np.ndarray,
    s: np.ndarray,
    grid: GridMap | None,
    base_in_grid: tuple[float, float, float],
    obstacles: tuple[Obstacle, ...],
) -> np.ndarray:
    """Clearance (m) from each arc's centre line at arc lengths ``s`` to grid cells and obstacles → (A, S)."""
    points = np.stack([arc_points(float(k), s) for k in curvatures])  # (A, S, 2)
    clearance = np.full(points.shape[:2], np.inf)
    if grid is not None:
        flat = transform_points(points.reshape(-1, 2), base_in_grid)
        clearance = np.minimum(clearance, grid.clearance_at(flat).reshape(points.shape[:2]))
    if obstacles:
        centres = np.array([[ob.x, ob.y] for ob in obstacles])
        # People and cyclists move unpredictably: arcs keep vulnerable_margin more room from them.
        protected = params.protected_classes
        radii = np.array(
            [ob.radius + (params.vulnerable_margin if ob.label in protected else 0.0) for ob in obstacles]
        )
        dist = np.linalg.norm(points[:, :, None, :] - centres[None, None], axis=-1) - radii
        clearance = np.minimum(clearance, dist.min(axis=-1))
    return clearance


def free_length(params: ControllerParams, s: np.ndarray, clearance: np.ndarray) -> np.ndarray:
    """Free path (m, from the bumper) before each arc's corridor first touches something."""
    blocked = clearance < params.half_corridor
    first = np.where(blocked.any(axis=-1), np.argmax(blocked, axis=-1), len(s))
    ends = np.append(s, s[-1])[first]
    return np.where(first < len(s), ends - params.front_overhang, params.lookahead)


@dataclass(frozen=True)
class Course:
    """Where the rover is and the line it should return to after avoiding (odometry frame)."""

    x: float
    y: float
    heading: float
    anchor_x: float
    anchor_y: float
    direction: float


@dataclass(frozen=True)
class ArcChoice:
    steering: float
    clear: bool
    free: float


def choose_arc(
    params: ControllerParams,
    inputs: ControlInputs,
    desired_steering: float,
    previous_steering: float,
    speed: float,
    grid: GridMap | None,
    heading_error: float = 0.0,
    course: Course | None = None,
) -> ArcChoice:
    """Score candidate arcs: free length, clearance, deviation from the desired course, change.

    The course term compares the heading each arc reaches after ``min_clear_length`` with the
    desired course (``heading_error`` = current heading − course), so after going around an
    obstacle the rover turns back to its course instead of keeping the avoidance heading.
    """
    limit = params.max_steering_angle
    if speed > STOPPED_SPEED:  # lateral acceleration v²κ ≤ a_lat
        limit = min(limit, curvature_to_steering(params.max_lateral_accel / speed**2, params.wheelbase))
    candidates = np.linspace(-limit, limit, params.num_arcs) if params.num_arcs > 1 else np.zeros(1)
    candidates = np.unique(np.append(candidates, np.clip(desired_steering, -limit, limit)))
    curvatures = np.tan(candidates) / params.wheelbase
    step = min(0.1, grid.resolution if grid is not None else 0.1)
    s = _arc_samples(params, step)
    clearance = arc_clearance(params, curvatures, s, grid, inputs.base_in_grid, inputs.obstacles)
    free = free_length(params, s, clearance)
    need = max(
        params.min_clear_length,
        stopping_distance(speed, params.comfort_decel, params.actuator_lag) + params.standoff,
    )
    need = min(need, params.lookahead)
    horizon = params.min_clear_length
    desired_turn = steering_to_curvature(desired_steering, params.wheelbase) * horizon
    # Avoidance is a detour, not a new route: an arc that would take the heading further than
    # max_heading_change off the course (and further than it already is) is not a way out.
    end_error = np.abs(_wrap(heading_error + curvatures * horizon - desired_turn))
    on_course = (end_error <= params.max_heading_change) | (end_error <= abs(heading_error))
    clear = (free >= need - 1e-9) & on_course
    turn_scale = params.max_curvature * horizon
    margin = np.clip(clearance.min(axis=-1) - params.half_corridor, 0.0, params.clearance_comfort)
    lateral = np.zeros(len(candidates))
    if course is not None:
        ends = np.stack([arc_points(float(k), np.array([horizon]))[0] for k in curvatures])
        c, s_ = math.cos(course.heading), math.sin(course.heading)
        wx = course.x + c * ends[:, 0] - s_ * ends[:, 1] - course.anchor_x
        wy = course.y + s_ * ends[:, 0] + c * ends[:, 1] - course.anchor_y
        lateral = np.abs(-math.sin(course.direction) * wx + math.cos(course.direction) * wy)
    score = (
        params.weight_progress * free / params.lookahead
        + params.weight_clearance * margin / params.clearance_comfort
        - params.weight_heading * end_error / turn_scale
        - params.weight_comfort * np.abs(candidates - previous_steering) / params.max_steering_angle
        - params.weight_lateral * lateral
    )
    # People (and whatever else is listed) are not slalom poles: blocking the desired path they stop us.
    vulnerable = tuple(ob for ob in inputs.obstacles if ob.label in params.protected_classes)
    if vulnerable:
        desired_curvature = np.array([steering_to_curvature(desired_steering, params.wheelbase)])
        blocked = free_length(
            params, s, arc_clearance(params, desired_curvature, s, None, (0, 0, 0), vulnerable)
        )
        if blocked[0] < params.lookahead:
            return ArcChoice(float(desired_steering), False, float(blocked[0]))
    if clear.any():
        best = int(np.argmax(np.where(clear, score, -np.inf)))
        return ArcChoice(float(candidates[best]), True, float(free[best]))
    # Nothing clear: the arc with the most room (ties → nearest the desired), and the caller brakes.
    order = np.lexsort((np.abs(candidates - desired_steering), -free))
    best = int(order[0])
    return ArcChoice(float(candidates[best]), False, float(free[best]))


def grid_conflict(
    params: ControllerParams,
    grid: GridMap,
    base_in_grid: tuple[float, float, float],
    curvature: float,
    ego: float,
) -> Conflict | None:
    s = _arc_samples(params, min(0.1, grid.resolution))
    clearance = arc_clearance(params, np.array([curvature]), s, grid, base_in_grid, ())
    free = float(free_length(params, s, clearance)[0])
    if free >= params.lookahead:
        return None
    ttc = free / ego if ego > 1e-6 else math.inf
    return Conflict("grid", max(free, 0.0), ego, ttc, 0.0)


# ---------------------------------------------------------------------------- braking stages


def stage_needed(
    params: ControllerParams, conflict: Conflict, ego: float, delay: float, relax: float
) -> Stage:
    """The stage one conflict calls for; ``relax`` > 1 widens the thresholds (for staying in a stage)."""
    gap = conflict.gap
    full_stop = stopping_distance(ego, params.full_decel, delay) + params.standoff
    partial_stop = stopping_distance(ego, params.partial_decel, delay) + params.standoff
    if conflict.ttc < params.ttc_full * relax or gap <= full_stop * relax:
        return Stage.FULL
    if conflict.ttc < params.ttc_partial * relax or gap <= partial_stop * relax:
        return Stage.PARTIAL
    if conflict.ttc < params.ttc_warn * relax:
        return Stage.WARN
    return Stage.NONE


def next_stage(
    params: ControllerParams,
    state: ControllerState,
    enter: Stage,
    stay: Stage,
    blocked_near: bool,
    blocked_hold: bool,
    now: float,
) -> tuple[Stage, float | None]:
    """Stage machine: escalate at once, de-escalate only after the cause stayed away ``release_time``.

    HOLD: stopped close to an obstacle in the path. It ends only once nothing is within
    standoff + release_gap for ``release_time`` — so the same obstacle cannot make the rover
    creep, stop, creep.
    """
    stopped = state.speed <= STOPPED_SPEED
    if state.stage == Stage.HOLD:
        if blocked_near or stay >= Stage.PARTIAL:
            return Stage.HOLD, None
        since = state.clear_since if state.clear_since is not None else now
        return (enter, None) if now - since >= params.release_time else (Stage.HOLD, since)
    # Stopped close to an obstacle — or stopped by braking with one still near — is HOLD.
    if stopped and (blocked_hold or (state.stage >= Stage.PARTIAL and blocked_near)):
        return Stage.HOLD, None
    if enter > state.stage:
        return enter, None
    if stay >= state.stage:
        return state.stage, None
    since = state.clear_since if state.clear_since is not None else now
    return (enter, None) if now - since >= params.release_time else (state.stage, since)


# ---------------------------------------------------------------------------- speed and steering limits


def _brake(speed: float, decel: float, dt: float) -> tuple[float, float]:
    """Decelerate towards standstill at ``decel`` (emergency stages: no jerk limit)."""
    new = max(speed - decel * dt, 0.0) if speed >= 0.0 else min(speed + decel * dt, 0.0)
    return new, (new - speed) / dt


def _track(params: ControllerParams, state: ControllerState, target: float, dt: float) -> tuple[float, float]:
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


def _rate_limit_steering(params: ControllerParams, previous: float, target: float, dt: float) -> float:
    step = params.max_steering_rate * dt
    return float(
        np.clip(
            np.clip(target, previous - step, previous + step),
            -params.max_steering_angle,
            params.max_steering_angle,
        )
    )


def _command(params: ControllerParams, speed: float, steering: float, brake: float) -> Command:
    curvature = steering_to_curvature(steering, params.wheelbase)
    yaw_rate = speed * curvature
    angular = steering if params.cmd_vel_angular_z == STEERING_ANGLE else yaw_rate
    return Command(speed, steering, curvature, yaw_rate, angular, brake)


# ---------------------------------------------------------------------------- the cycle


def step(
    params: ControllerParams, state: ControllerState, inputs: ControlInputs, now: float
) -> tuple[ControllerState, Command, SafetyReport]:
    if state.last_now is None and inputs.ego_speed is not None and math.isfinite(inputs.ego_speed):
        # First cycle with the rover already rolling: start from its speed, not from 0 (no jump).
        state = replace(state, speed=float(np.clip(inputs.ego_speed, params.min_speed, params.max_speed)))
    dt = params.period if state.last_now is None else float(np.clip(now - state.last_now, 1e-3, 0.1))
    if not math.isfinite(dt):
        dt = params.period
    ages: dict[str, float | None] = {"obstacles": _age(now, inputs.obstacles_received)}
    if inputs.watch_frames:
        ages["frames"] = _age(now, inputs.frames_received)
    for name, received in inputs.extra_watched:
        ages[name] = _age(now, received)
    watchdog = watchdog_step(
        state.watchdog,
        now,
        ages,
        invalid_input(inputs, now),
        WatchdogLimits(params.stale_after, params.recovery_time, params.clock_jump),
    )
    ego = state.speed if inputs.ego_speed is None else inputs.ego_speed
    ego_forward = max(ego, 0.0)
    latency = _latency(params, inputs, now) if math.isfinite(now) else params.max_latency
    delay = latency + params.actuator_lag + dt

    if watchdog.tripped:
        speed, accel = _brake(state.speed, params.stop_decel, dt)
        steering = _rate_limit_steering(params, state.steering, state.steering, dt)
        new_state = replace(
            state,
            last_now=now,
            speed=speed,
            accel=accel,
            steering=steering,
            watchdog=watchdog,
            clear_since=None,
        )
        report = SafetyReport(
            "WATCHDOG_STOP",
            2,
            watchdog.reason,
            math.inf,
            math.inf,
            0.0,
            stopping_distance(ego_forward, params.stop_decel, delay),
            "",
            ego,
            False,
            latency,
            ages,
        )
        return new_state, _command(params, speed, steering, params.stop_decel / params.full_decel), report

    grid = inputs.grid
    grid_age = _age(now, inputs.grid_received)
    if grid is not None and (grid_age is None or not -1e-3 <= grid_age <= params.map_timeout):
        grid = None
    desired = params.cruise_speed if inputs.desired_speed is None else inputs.desired_speed
    desired = float(np.clip(desired, params.min_speed, params.max_speed))
    desired_steering = float(
        np.clip(
            curvature_to_steering(inputs.desired_curvature, params.wheelbase),
            -params.max_steering_angle,
            params.max_steering_angle,
        )
    )

    discs = tuple(d for ob in inputs.obstacles for d in obstacle_discs(ob))
    inputs = replace(inputs, obstacles=discs)
    # Steering: choose an arc, then rate-limit. Braking is judged on the arc actually commanded.
    heading = state.heading if inputs.yaw is None else inputs.yaw
    course = heading if state.desired_heading is None else state.desired_heading
    heading_error = float(_wrap(heading - course))
    anchor = state.course_anchor
    if inputs.position is not None and (anchor is None or abs(inputs.desired_curvature) > 1e-3):
        anchor = inputs.position  # no course yet, or the driver is steering: the line follows the rover
    line = None
    if inputs.position is not None and anchor is not None:
        line = Course(inputs.position[0], inputs.position[1], heading, anchor[0], anchor[1], course)
    choice = choose_arc(
        params, inputs, desired_steering, state.steering, max(ego_forward, desired), grid, heading_error, line
    )
    steering = _rate_limit_steering(params, state.steering, choice.steering, dt)
    curvature = steering_to_curvature(steering, params.wheelbase)

    conflicts = obstacle_conflicts(params, inputs.obstacles, curvature, ego_forward, latency)
    if grid is not None and params.grid_braking:
        found = grid_conflict(params, grid, inputs.base_in_grid, curvature, ego_forward)
        if found is not None:
            conflicts.append(found)
    # ``delay`` holds the perception latency: the rover has travelled ego·latency since capture.
    enter, stay = Stage.NONE, Stage.NONE
    worst: Conflict | None = None
    for conflict in conflicts:
        enter = max(enter, stage_needed(params, conflict, ego_forward, delay, 1.0))
        stay = max(stay, stage_needed(params, conflict, ego_forward, delay, 1.0 + params.hysteresis))
        if worst is None or (conflict.ttc, conflict.gap) < (worst.ttc, worst.gap):
            worst = conflict
    nearest_gap = min((c.gap for c in conflicts if c.entry_time == 0.0), default=math.inf)
    # With no clear arc the rover stops wherever it is: that, too, is "blocked" for HOLD.
    blocked_near = nearest_gap <= params.standoff + params.release_gap or not choice.clear
    blocked_hold = nearest_gap <= params.standoff + params.hold_gap or not choice.clear
    stage, clear_since = next_stage(params, state, enter, stay, blocked_near, blocked_hold, now)

    # Speed: the cap lets the rover stop before the nearest conflict at comfortable deceleration.
    cap_gap = min((c.gap for c in conflicts), default=math.inf) - params.standoff
    cap = min(
        desired,
        speed_to_stop_within(cap_gap, params.comfort_decel, delay) if math.isfinite(cap_gap) else desired,
    )
    if abs(curvature) > 1e-6:
        cap = min(cap, math.sqrt(params.max_lateral_accel / abs(curvature)))
    if not choice.clear:
        cap = 0.0
    decel = {
        Stage.PARTIAL: params.partial_decel,
        Stage.FULL: params.full_decel,
        Stage.HOLD: params.full_decel,
    }.get(stage)
    if decel is not None:
        # Brake from what the rover is actually doing if it lags the last command.
        speed, accel = _brake(min(state.speed, max(ego, 0.0)), decel, dt)
        accel = (speed - state.speed) / dt
    else:
        target = min(cap, state.speed) if stage == Stage.WARN else cap  # WARN: no acceleration
        speed, accel = _track(params, state, target, dt)
    brake = 1.0 if stage in (Stage.FULL, Stage.HOLD) else (decel / params.full_decel if decel else 0.0)

    new_state = replace(
        state,
        last_now=now,
        speed=speed,
        accel=accel,
        steering=steering,
        stage=stage,
        clear_since=clear_since,
        watchdog=watchdog,
        heading=float(_wrap(heading + speed * curvature * dt)),
        desired_heading=float(_wrap(course + desired * inputs.desired_curvature * dt)),
        course_anchor=anchor,
    )
    reason = ""
    if worst is not None and stage > Stage.NONE:
        reason = f"{worst.source}: gap {worst.gap:.2f} m, TTC {worst.ttc:.2f} s"
    if not choice.clear:
        reason = (reason + "; " if reason else "") + "no clear arc"
    level = 0 if stage == Stage.NONE and choice.clear else (1 if stage <= Stage.WARN else 2)
    report = SafetyReport(
        STATE_NAMES[stage],
        level,
        reason,
        worst.ttc if worst else math.inf,
        worst.gap if worst else math.inf,
        worst.closing_speed if worst else 0.0,
        stopping_distance(ego_forward, params.full_decel, delay),
        worst.source if worst else "",
        ego,
        choice.clear,
        latency,
        ages,
    )
    return new_state, _command(params, speed, steering, brake), report
