"""The controller's records: what one cycle reads, keeps, commands and reports."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import IntEnum

from edge_rover.control.geometry import GridMap
from edge_rover.control.watchdog import WatchdogState


class Stage(IntEnum):
    NONE = 0
    WARN = 1
    PARTIAL = 2
    FULL = 3
    HOLD = 4


# SafetyReport.state for each stage (WATCHDOG_STOP is the watchdog's, outside the stage machine).
STATE_NAMES = {
    Stage.NONE: "DRIVING",
    Stage.WARN: "WARN",
    Stage.PARTIAL: "PARTIAL_BRAKE",
    Stage.FULL: "FULL_BRAKE",
    Stage.HOLD: "HOLD",
}
WATCHDOG_STOP = "WATCHDOG_STOP"


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


@dataclass(frozen=True)
class Cycle:
    """What one cycle measured before deciding: its clock, period, ego speed, delays, input ages."""

    now: float  # s, controller clock
    dt: float  # s since the last cycle (clipped)
    ego: float  # m/s, odometry or the last command
    latency: float  # s, perception latency (capture → now), capped at max_latency
    delay: float  # s until a decision acts: latency + actuator lag + one period
    ages: dict[str, float | None]  # watched inputs' ages (s)
    watchdog: WatchdogState

    @property
    def ego_forward(self) -> float:
        """Forward ego speed (m/s): reversing does not close on obstacles ahead."""
        return max(self.ego, 0.0)
