"""Steering: score candidate arcs on the grid and the tracked obstacles, pick the best clear one.

Clearance is measured from each arc's centre line; an arc is clear when its corridor is free for
the stopping distance (at least ``min_clear_length``) and it does not lead further off course than
``max_heading_change``. After going around an obstacle a course term turns the rover back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_rover.control.controller.types import ControlInputs, ControllerState, Obstacle
from edge_rover.control.geometry import (
    GridMap,
    arc_points_many,
    curvature_to_steering,
    steering_to_curvature,
    stopping_distance,
    transform_points,
)
from edge_rover.control.params import ControllerParams

STOPPED_SPEED = 0.05  # m/s; below this the rover counts as stopped


def wrap_angle(angle: np.ndarray | float) -> np.ndarray:
    """Angle(s) in [-π, π)."""
    return (np.asarray(angle) + math.pi) % (2.0 * math.pi) - math.pi


def arc_samples(params: ControllerParams, step: float) -> np.ndarray:
    """Arc lengths from the front bumper to ``lookahead`` beyond it, every ``step`` m."""
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
    points = arc_points_many(curvatures, s)  # (A, S, 2)
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
class Heading:
    """The rover's heading this cycle, the course it should hold, and the course line if known."""

    heading: float  # rad, odometry yaw or integrated commands
    course: float  # rad, the desired course (integrated desired yaw rate)
    anchor: tuple[float, float] | None  # a point of the course line, kept in the state
    line: Course | None  # None without odometry position: no return-to-path term

    @property
    def error(self) -> float:
        """Current heading − course (rad, wrapped)."""
        return float(wrap_angle(self.heading - self.course))


def heading_now(state: ControllerState, inputs: ControlInputs) -> Heading:
    heading = state.heading if inputs.yaw is None else inputs.yaw
    course = heading if state.desired_heading is None else state.desired_heading
    anchor = state.course_anchor
    if inputs.position is not None and (anchor is None or abs(inputs.desired_curvature) > 1e-3):
        anchor = inputs.position  # no course yet, or the driver is steering: the line follows the rover
    line = None
    if inputs.position is not None and anchor is not None:
        x, y = inputs.position
        line = Course(x=x, y=y, heading=heading, anchor_x=anchor[0], anchor_y=anchor[1], direction=course)
    return Heading(heading=heading, course=course, anchor=anchor, line=line)


@dataclass(frozen=True)
class ArcChoice:
    steering: float
    clear: bool
    free: float


def candidate_steerings(params: ControllerParams, desired_steering: float, speed: float) -> np.ndarray:
    """``num_arcs`` steering angles within the lateral-acceleration limit (v²κ ≤ a_lat), and the desired."""
    limit = params.max_steering_angle
    if speed > STOPPED_SPEED:
        limit = min(limit, curvature_to_steering(params.max_lateral_accel / speed**2, params.wheelbase))
    candidates = np.linspace(-limit, limit, params.num_arcs) if params.num_arcs > 1 else np.zeros(1)
    return np.unique(np.append(candidates, np.clip(desired_steering, -limit, limit)))


def _course_offsets(params: ControllerParams, curvatures: np.ndarray, course: Course | None) -> np.ndarray:
    """Distance (m) of each arc's point after ``min_clear_length`` from the course line (0 without one)."""
    if course is None:
        return np.zeros(len(curvatures))
    horizon = params.min_clear_length
    ends = arc_points_many(curvatures, np.array([horizon]))[:, 0]
    c, s_ = math.cos(course.heading), math.sin(course.heading)
    wx = course.x + c * ends[:, 0] - s_ * ends[:, 1] - course.anchor_x
    wy = course.y + s_ * ends[:, 0] + c * ends[:, 1] - course.anchor_y
    return np.abs(-math.sin(course.direction) * wx + math.cos(course.direction) * wy)


def _blocked_by_vulnerable(
    params: ControllerParams, s: np.ndarray, obstacles: tuple[Obstacle, ...], desired_steering: float
) -> ArcChoice | None:
    """People (and whatever else is listed) are not slalom poles: blocking the desired path they stop us."""
    vulnerable = tuple(ob for ob in obstacles if ob.label in params.protected_classes)
    if not vulnerable:
        return None
    desired_curvature = np.array([steering_to_curvature(desired_steering, params.wheelbase)])
    blocked = free_length(params, s, arc_clearance(params, desired_curvature, s, None, (0, 0, 0), vulnerable))
    if blocked[0] < params.lookahead:
        return ArcChoice(steering=float(desired_steering), clear=False, free=float(blocked[0]))
    return None


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
    candidates = candidate_steerings(params, desired_steering, speed)
    curvatures = np.tan(candidates) / params.wheelbase
    step = min(0.1, grid.resolution if grid is not None else 0.1)
    s = arc_samples(params, step)
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
    end_error = np.abs(wrap_angle(heading_error + curvatures * horizon - desired_turn))
    on_course = (end_error <= params.max_heading_change) | (end_error <= abs(heading_error))
    clear = (free >= need - 1e-9) & on_course
    turn_scale = params.max_curvature * horizon
    margin = np.clip(clearance.min(axis=-1) - params.half_corridor, 0.0, params.clearance_comfort)
    score = (
        params.weight_progress * free / params.lookahead
        + params.weight_clearance * margin / params.clearance_comfort
        - params.weight_heading * end_error / turn_scale
        - params.weight_comfort * np.abs(candidates - previous_steering) / params.max_steering_angle
        - params.weight_lateral * _course_offsets(params, curvatures, course)
    )
    stop_for = _blocked_by_vulnerable(params, s, inputs.obstacles, desired_steering)
    if stop_for is not None:
        return stop_for
    if clear.any():
        best = int(np.argmax(np.where(clear, score, -np.inf)))
        return ArcChoice(steering=float(candidates[best]), clear=True, free=float(free[best]))
    # Nothing clear: the arc with the most room (ties → nearest the desired), and the caller brakes.
    order = np.lexsort((np.abs(candidates - desired_steering), -free))
    best = int(order[0])
    return ArcChoice(steering=float(candidates[best]), clear=False, free=float(free[best]))
