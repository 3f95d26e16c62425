"""Braking: conflicts in the commanded corridor, their time-to-collision, and the stage machine.

Conflicts come from tracked obstacles (extrapolated over ``prediction_horizon``) and occupied grid
cells; each is measured from the front bumper along the arc. The stage machine NONE → WARN →
PARTIAL → FULL → HOLD escalates at once and de-escalates with hysteresis after ``release_time``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_rover.control.controller.arcs import STOPPED_SPEED, arc_clearance, arc_samples, free_length
from edge_rover.control.controller.types import Conflict, ControllerState, Obstacle, Stage
from edge_rover.control.geometry import GridMap, arc_coordinates, arc_tangent, stopping_distance
from edge_rover.control.params import ControllerParams

PREDICTION_STEP = 0.1  # s between extrapolated obstacle positions


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
        conflicts.append(
            Conflict(source=ob.track_id, gap=gap, closing_speed=closing, ttc=ttc, entry_time=float(times[k]))
        )
    return conflicts


def grid_conflict(
    params: ControllerParams,
    grid: GridMap,
    base_in_grid: tuple[float, float, float],
    curvature: float,
    ego: float,
) -> Conflict | None:
    """The first occupied cell in the arc's corridor within ``lookahead``, or None."""
    s = arc_samples(params, min(0.1, grid.resolution))
    clearance = arc_clearance(params, np.array([curvature]), s, grid, base_in_grid, ())
    free = float(free_length(params, s, clearance)[0])
    if free >= params.lookahead:
        return None
    ttc = free / ego if ego > 1e-6 else math.inf
    return Conflict(source="grid", gap=max(free, 0.0), closing_speed=ego, ttc=ttc, entry_time=0.0)


def conflicts_on_arc(
    params: ControllerParams,
    obstacles: tuple[Obstacle, ...],
    grid: GridMap | None,
    base_in_grid: tuple[float, float, float],
    curvature: float,
    ego_forward: float,
    latency: float,
) -> list[Conflict]:
    """Every conflict on the commanded arc: tracked obstacles, then the grid (if it brakes)."""
    conflicts = obstacle_conflicts(params, obstacles, curvature, ego_forward, latency)
    if grid is not None and params.grid_braking:
        found = grid_conflict(params, grid, base_in_grid, curvature, ego_forward)
        if found is not None:
            conflicts.append(found)
    return conflicts


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


@dataclass(frozen=True)
class Braking:
    """This cycle's stage, when its cause went away (for release), and the conflict that matters most."""

    stage: Stage
    clear_since: float | None
    worst: Conflict | None  # smallest (TTC, gap)


def braking_stage(
    params: ControllerParams,
    state: ControllerState,
    conflicts: list[Conflict],
    arc_clear: bool,
    ego_forward: float,
    delay: float,
    now: float,
) -> Braking:
    """The stage the conflicts call for (``delay`` holds the perception latency, lag and one period)."""
    enter, stay = Stage.NONE, Stage.NONE
    worst: Conflict | None = None
    for conflict in conflicts:
        enter = max(enter, stage_needed(params, conflict, ego_forward, delay, 1.0))
        stay = max(stay, stage_needed(params, conflict, ego_forward, delay, 1.0 + params.hysteresis))
        if worst is None or (conflict.ttc, conflict.gap) < (worst.ttc, worst.gap):
            worst = conflict
    nearest_gap = min((c.gap for c in conflicts if c.entry_time == 0.0), default=math.inf)
    # With no clear arc the rover stops wherever it is: that, too, is "blocked" for HOLD.
    blocked_near = nearest_gap <= params.standoff + params.release_gap or not arc_clear
    blocked_hold = nearest_gap <= params.standoff + params.hold_gap or not arc_clear
    stage, clear_since = next_stage(params, state, enter, stay, blocked_near, blocked_hold, now)
    return Braking(stage=stage, clear_since=clear_since, worst=worst)
