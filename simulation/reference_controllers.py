"""Reference controllers for the headless loop: a cruise control and a ground-truth oracle.

The oracle sees the simulator's ground truth (only objects visible to the camera), brakes for
what would be hit and, optionally, steers by scoring constant-curvature arcs. It shows that every
scenario is solvable with the rover's limits; the real controller (``control/``) is judged by the
same metrics.
"""

from __future__ import annotations

import math

import numpy as np

from edge_rover.simulation.closed_loop import Observation
from edge_rover.simulation.dynamics import RoverLimits


def cruise_controller(obs: Observation) -> tuple[float, float]:
    """Drive straight at the scenario's cruise speed; ignores everything."""
    return obs.cruise_speed, 0.0


def stop_controller(obs: Observation) -> tuple[float, float]:
    """Command a standstill from the first step."""
    return 0.0, 0.0


class OracleController:
    """Ground-truth braking (+ optional arc steering); a baseline, not the product controller."""

    def __init__(
        self,
        limits: RoverLimits,
        steer: bool = True,
        plan_decel: float = 2.5,
        margin: float = 0.35,
        horizon_s: float = 3.0,
        stop_buffer_m: float = 1.2,
        route_yaw: float = 0.0,
        max_heading_error: float = 0.7,
    ) -> None:
        self.route_yaw = route_yaw
        self.max_heading_error = max_heading_error
        self.limits = limits
        self.steer = steer
        self.plan_decel = plan_decel
        self.margin = margin
        self.horizon_s = horizon_s
        self.stop_buffer_m = stop_buffer_m
        max_w = 0.45  # rad/s: gentle arcs only; a blocked road means stop, not a U-turn
        ws = np.linspace(-max_w, max_w, 19) if steer else np.zeros(1)
        self.candidates = ws[np.argsort(np.abs(ws), kind="stable")]

    def _conflict_times(self, truths: list, speed: float) -> np.ndarray:
        """First time (s) each candidate arc comes too close to an obstacle (inf: never)."""
        times = np.arange(0.0, self.horizon_s + 1e-9, 0.1)
        if not truths:
            return np.full(len(self.candidates), np.inf)
        # Each obstacle as a row of circles along its length (a car is not a 2.3 m disc).
        centres, velocities, radii = [], [], []
        for truth in truths:
            length, width = truth.size[0], truth.size[1]
            n = max(1, math.ceil(length / max(width, 1e-3)))
            axis = np.array([math.cos(truth.yaw), math.sin(truth.yaw)])
            for k in range(n):
                offset = (k + 0.5) / n - 0.5
                centres.append(np.asarray(truth.position[:2]) + axis * offset * length)
                velocities.append(truth.velocity[:2])
                radii.append(math.hypot(width / 2, length / (2 * n)))
        pos, vel, radius = np.array(centres), np.array(velocities), np.array(radii)
        obst = pos[:, None, :] + vel[:, None, :] * times[None, :, None]  # (N, T, 2)
        w = self.candidates[:, None]
        t = times[None, :]
        safe_w = np.where(np.abs(w) < 1e-6, 1e-6, w)
        x = np.where(np.abs(w) < 1e-6, speed * t, speed / safe_w * np.sin(safe_w * t))
        y = np.where(np.abs(w) < 1e-6, 0.0, speed / safe_w * (1 - np.cos(safe_w * t)))
        heading = w * t
        front = self.limits.length - self.limits.rear_overhang - self.limits.width / 2
        points = [np.stack([x, y], axis=-1)]
        points.append(points[0] + front * np.stack([np.cos(heading), np.sin(heading)], axis=-1))
        rover_r = self.limits.width / 2 * 1.15
        hit = np.zeros((len(self.candidates), len(times)), dtype=bool)
        for p in points:  # (K, T, 2) vs (N, T, 2)
            d = np.linalg.norm(p[:, None, :, :] - obst[None, :, :, :], axis=-1)  # (K, N, T)
            hit |= np.any(d < (radius[None, :, None] + rover_r + self.margin), axis=1)
        first = np.where(hit.any(axis=1), times[np.argmax(hit, axis=1)], np.inf)
        return first

    def __call__(self, obs: Observation) -> tuple[float, float]:
        cruise = obs.cruise_speed
        speed = max(obs.rover.speed, 0.3)
        plan_speed = max(cruise, speed)
        conflicts = self._conflict_times(obs.truth, plan_speed)
        straight = int(np.argmin(np.abs(self.candidates)))
        # Keep to the route (the start line): steer back toward it when nothing is in the way.
        heading_error = math.atan2(
            math.sin(obs.rover.yaw - self.route_yaw), math.cos(obs.rover.yaw - self.route_yaw)
        )
        lateral = -math.sin(self.route_yaw) * obs.rover.x + math.cos(self.route_yaw) * obs.rover.y
        track = float(np.clip(-0.4 * lateral - 1.2 * heading_error, -0.45, 0.45)) if self.steer else 0.0
        # Yield to people: never swerve around a person in the path, stop for them.
        people = [t for t in obs.truth if t.class_name == "person"]
        yield_to_person = bool(people) and not np.isinf(self._conflict_times(people, plan_speed)[straight])
        if self.steer and not yield_to_person:
            # Only arcs that keep roughly to the route: going around, not turning away.
            end_heading = obs.rover.yaw + self.candidates * self.horizon_s - self.route_yaw
            on_route = np.abs(np.arctan2(np.sin(end_heading), np.cos(end_heading))) <= self.max_heading_error
            free = np.nonzero(np.isinf(conflicts) & on_route)[0]
            if len(free):
                best = free[np.argmin(np.abs(self.candidates[free] - track))]
                return cruise, float(self.candidates[best])
        elif np.isinf(conflicts[straight]):
            return cruise, 0.0
        # No free arc: brake if the straight-ahead conflict is inside the stopping envelope.
        distance = conflicts[straight] * plan_speed
        stopping = obs.rover.speed**2 / (2 * self.plan_decel) + self.stop_buffer_m + obs.rover.speed * 0.2
        if distance <= stopping + 1.0:
            return 0.0, 0.0
        return cruise, 0.0
