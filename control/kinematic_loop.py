"""A kinematic closed loop around the controller core (tests, benchmark): world obstacles → base_link →
step → move the rover. Perfect perception; the drive follows the commanded speed through a
first-order lag (``speed_lag``) saturated at ``max_accel`` / ``max_decel`` (the simulator's defaults)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from edge_rover.control.controller import (
    Command,
    ControlInputs,
    ControllerState,
    Obstacle,
    SafetyReport,
    step,
)
from edge_rover.control.params import ControllerParams


@dataclass
class WorldObstacle:
    track_id: str
    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0
    size: float = 0.4
    label: str = ""


@dataclass
class Loop:
    params: ControllerParams = field(default_factory=ControllerParams)
    obstacles: list[WorldObstacle] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    speed: float = 0.0
    t: float = 0.0
    desired_speed: float | None = None
    speed_lag: float = 0.15  # s, drive time constant (0: follows the command exactly)
    max_accel: float = 1.5  # m/s² the drive can deliver
    max_decel: float = 4.0  # m/s² the brakes can deliver
    state: ControllerState = field(default_factory=ControllerState)
    log: list[tuple[float, Command, SafetyReport, float, float]] = field(default_factory=list)

    def base_obstacles(self) -> tuple[Obstacle, ...]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        out = []
        for ob in self.obstacles:
            dx, dy = ob.x - self.x, ob.y - self.y
            out.append(
                Obstacle(
                    ob.track_id,
                    c * dx + s * dy,
                    -s * dx + c * dy,
                    c * ob.vx + s * ob.vy,
                    -s * ob.vx + c * ob.vy,
                    ob.size,
                    ob.size,
                    ob.label,
                )
            )
        return tuple(out)

    def clearance(self) -> float:
        """Smallest distance from any obstacle's disc to the rover's rectangle (≤ 0: collision)."""
        p = self.params
        best = math.inf
        for ob in self.base_obstacles():
            dx = max(-0.1 - ob.x, 0.0, ob.x - p.front_overhang)
            dy = max(abs(ob.y) - 0.5 * p.rover_width, 0.0)
            best = min(best, math.hypot(dx, dy) - ob.radius)
        return best

    def run(self, seconds: float) -> None:
        dt = self.params.period
        for _ in range(round(seconds / dt)):
            self.t += dt
            inputs = ControlInputs(
                obstacles=self.base_obstacles(),
                obstacles_stamp=self.t,
                obstacles_received=self.t,
                frames_received=self.t,
                ego_speed=self.speed,
                desired_speed=self.desired_speed,
                yaw=self.yaw,
                position=(self.x, self.y),
            )
            self.state, cmd, report = step(self.params, self.state, inputs, self.t)
            self.log.append((self.t, cmd, report, self.x, self.clearance()))
            if self.speed_lag > 0.0:
                rate = (cmd.speed - self.speed) / max(self.speed_lag, dt)
                self.speed += min(max(rate, -self.max_decel), self.max_accel) * dt
            else:
                self.speed = cmd.speed
            self.yaw += self.speed * cmd.curvature * dt
            self.x += self.speed * math.cos(self.yaw) * dt
            self.y += self.speed * math.sin(self.yaw) * dt
            for ob in self.obstacles:
                ob.x += ob.vx * dt
                ob.y += ob.vy * dt
