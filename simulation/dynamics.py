"""Rover kinematics (bicycle model with limits and actuator lag) and obstacle motion.

Pure functions of (state, command, dt): the same code runs in the headless closed loop, the ROS
node and the tests. World frame = the rover's start frame (``odom``): x forward at start, y left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class RoverLimits:
    wheelbase: float = 0.5  # m, rear axle (base_link) to front axle
    max_speed: float = 3.0  # m/s forward
    max_reverse: float = 0.5  # m/s backward
    max_accel: float = 1.5  # m/s² speeding up
    max_decel: float = 4.0  # m/s² braking
    max_steer: float = 0.5  # rad at the front wheel
    max_steer_rate: float = 1.5  # rad/s
    speed_lag_s: float = 0.15  # first-order time constant of the drive
    steer_lag_s: float = 0.1  # first-order time constant of the steering servo
    length: float = 0.9  # m, footprint
    width: float = 0.6
    rear_overhang: float = 0.2  # m behind base_link (the rear axle)

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"rover limit {name} must be a finite number >= 0, got {value!r}")
        for name in ("wheelbase", "max_decel", "max_accel", "length", "width"):
            if getattr(self, name) <= 0:
                raise ValueError(f"rover limit {name} must be > 0, got {getattr(self, name)!r}")

    def footprint_local(self) -> np.ndarray:
        """(4, 2) corners of the rover in base_link, counter-clockwise."""
        x0, x1 = -self.rear_overhang, self.length - self.rear_overhang
        hw = self.width / 2.0
        return np.array([[x0, -hw], [x1, -hw], [x1, hw], [x0, hw]])


@dataclass(frozen=True)
class RoverState:
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    speed: float = 0.0  # m/s along x of base_link
    steer: float = 0.0  # front wheel angle, rad

    def yaw_rate(self, limits: RoverLimits) -> float:
        return self.speed * math.tan(self.steer) / limits.wheelbase


def steering_for_twist(linear_x: float, angular_z: float, current_speed: float, limits: RoverLimits) -> float:
    """Front-wheel angle that makes the commanded yaw rate at the commanded (or current) speed.

    A bicycle cannot turn on the spot: with no speed to speak of the wheels are kept straight.
    """
    reference = linear_x if abs(linear_x) > 0.05 else current_speed
    if abs(reference) < 0.05:
        return 0.0
    angle = math.atan(limits.wheelbase * angular_z / reference)
    return float(np.clip(angle, -limits.max_steer, limits.max_steer))


def _lagged(current: float, target: float, tau: float, dt: float, rate_down: float, rate_up: float) -> float:
    """First-order approach to ``target`` whose rate is saturated to [-rate_down, rate_up]."""
    desired_rate = (target - current) / max(tau, dt)
    rate = float(np.clip(desired_rate, -rate_down, rate_up))
    new = current + rate * dt
    if (target - current) * (target - new) < 0 or abs(target - new) < 1e-3:  # no overshoot, no endless tail
        new = target
    return new


def step_rover(
    state: RoverState, linear_x: float, angular_z: float, dt: float, limits: RoverLimits
) -> RoverState:
    """Advance the rover by ``dt`` under a Twist command (NaN/inf commands mean: brake)."""
    if not (math.isfinite(linear_x) and math.isfinite(angular_z)):
        linear_x, angular_z = 0.0, 0.0
    target_speed = float(np.clip(linear_x, -limits.max_reverse, limits.max_speed))
    target_steer = steering_for_twist(target_speed, angular_z, state.speed, limits)
    if state.speed >= 0:
        speed = _lagged(state.speed, target_speed, limits.speed_lag_s, dt, limits.max_decel, limits.max_accel)
    else:
        speed = _lagged(state.speed, target_speed, limits.speed_lag_s, dt, limits.max_accel, limits.max_decel)
    steer = _lagged(
        state.steer, target_steer, limits.steer_lag_s, dt, limits.max_steer_rate, limits.max_steer_rate
    )
    mean_speed = (state.speed + speed) / 2.0
    yaw_rate = mean_speed * math.tan(steer) / limits.wheelbase
    mid_yaw = state.yaw + yaw_rate * dt / 2.0
    return replace(
        state,
        x=state.x + mean_speed * math.cos(mid_yaw) * dt,
        y=state.y + mean_speed * math.sin(mid_yaw) * dt,
        yaw=math.atan2(math.sin(state.yaw + yaw_rate * dt), math.cos(state.yaw + yaw_rate * dt)),
        speed=speed,
        steer=steer,
    )


# ---------------------------------------------------------------------------------------------
# Obstacle motion


@dataclass(frozen=True)
class Motion:
    """How an obstacle moves. ``static``; ``linear`` (constant velocity); ``waypoints`` (a path).

    It starts at ``start_time`` or when the rover comes within ``trigger_distance`` of it,
    whichever comes first (either may be None), and stops after ``max_distance`` metres.
    """

    kind: str = "static"
    velocity: tuple[float, float] = (0.0, 0.0)
    waypoints: tuple[tuple[float, float], ...] = ()
    speed: float = 0.0
    start_time: float | None = 0.0
    trigger_distance: float | None = None
    max_distance: float = math.inf


@dataclass
class ObstacleState:
    x: float
    y: float
    yaw: float
    vx: float = 0.0
    vy: float = 0.0
    travelled: float = 0.0
    started: bool = False
    waypoint_index: int = 0


def step_obstacle(
    state: ObstacleState, motion: Motion, t: float, dt: float, rover_xy: tuple[float, float]
) -> ObstacleState:
    """Advance one obstacle by ``dt`` (in place semantics avoided: returns a new state)."""
    s = ObstacleState(**vars(state))
    if motion.kind == "static":
        s.vx = s.vy = 0.0
        return s
    if not s.started:
        by_time = motion.start_time is not None and t >= motion.start_time
        by_distance = (
            motion.trigger_distance is not None
            and math.hypot(s.x - rover_xy[0], s.y - rover_xy[1]) <= motion.trigger_distance
        )
        s.started = by_time or by_distance
        if not s.started:
            s.vx = s.vy = 0.0
            return s
    if s.travelled >= motion.max_distance:
        s.vx = s.vy = 0.0
        return s
    if motion.kind == "linear":
        vx, vy = motion.velocity
    else:  # waypoints
        if s.waypoint_index >= len(motion.waypoints):
            s.vx = s.vy = 0.0
            return s
        tx, ty = motion.waypoints[s.waypoint_index]
        dx, dy = tx - s.x, ty - s.y
        dist = math.hypot(dx, dy)
        if dist <= motion.speed * dt:
            s.waypoint_index += 1
        vx, vy = (dx / dist * motion.speed, dy / dist * motion.speed) if dist > 1e-9 else (0.0, 0.0)
    step = math.hypot(vx, vy) * dt
    s.x += vx * dt
    s.y += vy * dt
    s.vx, s.vy = vx, vy
    s.travelled += step
    if step > 1e-9:
        s.yaw = math.atan2(vy, vx)
    return s


# ---------------------------------------------------------------------------------------------
# Footprints


def oriented_rectangle(
    x: float, y: float, yaw: float, length: float, width: float, x_offset: float = 0.0
) -> np.ndarray:
    """(4, 2) world corners of a length × width rectangle centred ``x_offset`` ahead of (x, y)."""
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array(
        [
            [-length / 2, -width / 2],
            [length / 2, -width / 2],
            [length / 2, width / 2],
            [-length / 2, width / 2],
        ]
    )
    local[:, 0] += x_offset
    return local @ np.array([[c, s], [-s, c]]) + (x, y)


def rover_footprint(state: RoverState, limits: RoverLimits) -> np.ndarray:
    offset = limits.length / 2.0 - limits.rear_overhang
    return oriented_rectangle(state.x, state.y, state.yaw, limits.length, limits.width, offset)


def polygons_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Separating-axis test for two convex polygons."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        normals = np.column_stack([-edges[:, 1], edges[:, 0]])
        pa, pb = a @ normals.T, b @ normals.T
        if np.any(pa.max(axis=0) < pb.min(axis=0)) or np.any(pb.max(axis=0) < pa.min(axis=0)):
            return False
    return True


def _point_segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def polygon_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest distance between two convex polygons (0 when they touch or overlap)."""
    if polygons_overlap(a, b):
        return 0.0
    best = math.inf
    for p, q in ((a, b), (b, a)):
        for i in range(len(q)):
            best = min(best, float(_point_segment_distance(p, q[i], q[(i + 1) % len(q)]).min()))
    return best
