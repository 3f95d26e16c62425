"""Headless closed loop: scenario world → (rendered) observation → any controller → metrics.

``run_scenario(scenario, controller_fn)`` is pure Python with no ROS: tests, benchmarks and the
bag writer call it with whatever controller callable they have. A controller receives an
:class:`Observation` and returns ``(linear_x, angular_z)`` like a geometry_msgs/Twist.

Metric definitions (also in the README):
- braking command: commanded linear.x below ``BRAKE_RATIO`` × cruise speed (while first speeding
  up from the start, only a command below the current speed counts);
- first visibility: first frame where an obstacle (the success target, else any) has
  ≥ ``VISIBLE_PIXELS`` visible pixels in the camera image (id buffer, occlusion included);
- reaction time: first braking command − first visibility;
- stopping distance: distance driven from the first braking command to standstill;
- false braking: time with a braking command while no obstacle is in the corridor ahead
  (rover width + margins, length grows with speed; obstacles predicted 0-2 s ahead);
- minimum gap: smallest footprint-to-footprint distance to any obstacle (0 = collided).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge_rover.calibration.calibration_io import load_camera_info, load_extrinsics
from edge_rover.common.camera_model import CameraRig
from edge_rover.simulation.dynamics import (
    RoverState,
    oriented_rectangle,
    polygon_gap,
    polygons_overlap,
    rover_footprint,
)
from edge_rover.simulation.renderer import ObjectTruth, Renderer
from edge_rover.simulation.scenarios import Scenario, ScenarioWorld, lateral_offsets

BRAKE_RATIO = 0.8
VISIBLE_PIXELS = 20
STOPPED_SPEED = 0.05
CORRIDOR_MARGIN = 0.25  # m each side of the rover
COMFORT_DECEL = 2.0  # m/s² used to size the corridor that counts as "needs braking"


@dataclass(frozen=True)
class Observation:
    """What a controller may look at in one step."""

    time: float
    rover: RoverState  # odometry (world = odom frame)
    yaw_rate: float
    cruise_speed: float
    truth: list[ObjectTruth]  # visible labelled objects in this frame (base_link), for oracles/tests
    image: np.ndarray | None  # BGR frame when the run renders images


Controller = Callable[[Observation], tuple[float, float]]


@dataclass
class RunMetrics:
    collided: bool = False
    collision_time: float | None = None
    left_road_s: float | None = None  # when the footprint first crossed a road edge (if the world has one)
    stop_gap_m: float | None = None  # gap to the target at the first standstill before it (after moving)
    min_gap_m: float = math.inf
    target_min_gap_m: float | None = None
    first_visible_s: float | None = None
    first_threat_s: float | None = None  # first time an obstacle is in the corridor ahead
    first_brake_s: float | None = None
    reaction_time_s: float | None = None  # first braking command - first visibility
    threat_reaction_s: float | None = None  # first braking command - first threat
    stopping_distance_m: float | None = None
    false_braking_s: float = 0.0
    braking_s: float = 0.0
    stopped_s: float = 0.0  # at standstill after having first moved
    mean_speed: float = 0.0
    progress_m: float = 0.0  # along the start heading
    duration_s: float = 0.0

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in vars(self).items()}


@dataclass
class RunResult:
    scenario: str
    success: bool
    reasons: list[str]
    metrics: RunMetrics
    log: dict[str, list[float]] = field(default_factory=dict)


def default_rig(width: int = 640, height: int = 480) -> CameraRig:
    """The project's default camera (config/camera_info.yaml + config/extrinsics.yaml)."""
    intrinsics = load_camera_info("package://edge_rover/config/camera_info.yaml")
    if (intrinsics.width, intrinsics.height) != (width, height):
        intrinsics = intrinsics.scaled(width, height)
    return CameraRig(intrinsics, load_extrinsics("package://edge_rover/config/extrinsics.yaml"))


def _corridor(state: RoverState, scenario: Scenario) -> np.ndarray:
    limits = scenario.limits
    front = limits.length - limits.rear_overhang
    speed = max(state.speed, 0.0)
    length = max(3.0, speed * 1.0 + speed**2 / (2 * COMFORT_DECEL) + 1.0)
    width = limits.width + 2 * CORRIDOR_MARGIN
    return oriented_rectangle(state.x, state.y, state.yaw, length, width, x_offset=front + length / 2)


def _threat_ahead(world: ScenarioWorld) -> bool:
    corridor = _corridor(world.rover, world.scenario)
    for state, spec in zip(world.obstacles, world.scenario.obstacles, strict=True):
        for dt in (0.0, 0.5, 1.0, 1.5, 2.0):
            box = oriented_rectangle(
                state.x + state.vx * dt, state.y + state.vy * dt, state.yaw, *spec.size[:2]
            )
            if polygons_overlap(corridor, box):
                return True
    return False


class MetricsTracker:
    """Accumulates the run metrics step by step (shared by ``run_scenario`` and the sim node)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.metrics = RunMetrics()
        self.log: dict[str, list[float]] = {
            k: [] for k in ("t", "x", "y", "yaw", "speed", "cmd_v", "cmd_w", "gap")
        }
        self._brake_position: tuple[float, float] | None = None
        self._speed_sum = 0.0
        self._moved = False
        self._reached_cruise = False

    def before_step(self, world: ScenarioWorld, visible: list[ObjectTruth], cmd: tuple[float, float]) -> None:
        """Record the frame's visibility and the command about to be applied."""
        m, scenario, dt = self.metrics, self.scenario, self.scenario.step_s
        cmd_v, cmd_w = cmd
        target = scenario.success.target
        if m.first_visible_s is None and any(target is None or t.object_index == target for t in visible):
            m.first_visible_s = world.time
        self._reached_cruise |= world.rover.speed >= BRAKE_RATIO * scenario.cruise_speed
        braking = is_braking(cmd_v, world.rover.speed, scenario.cruise_speed, self._reached_cruise)
        threat = _threat_ahead(world)
        if threat and m.first_threat_s is None:
            m.first_threat_s = world.time
        if braking:
            m.braking_s += dt
            if m.first_brake_s is None:
                m.first_brake_s = world.time
                self._brake_position = (world.rover.x, world.rover.y)
            if not threat:
                m.false_braking_s += dt
        rover = world.rover
        self._moved |= rover.speed > 0.5 * scenario.cruise_speed
        if abs(rover.speed) < STOPPED_SPEED and self._moved and target is not None and m.stop_gap_m is None:
            # A stop counts as "before the target" when the target is ahead of the rover.
            state = world.obstacles[target]
            ahead = (state.x - rover.x) * math.cos(rover.yaw) + (state.y - rover.y) * math.sin(rover.yaw)
            if ahead > 0:
                footprint = rover_footprint(rover, scenario.limits)
                m.stop_gap_m = polygon_gap(footprint, world.obstacle_footprints()[target])
        if abs(rover.speed) < STOPPED_SPEED:
            if self._moved:  # standing at the start (waiting for inputs, speeding up) is no stop
                m.stopped_s += dt
            if (
                self._brake_position is not None
                and m.stopping_distance_m is None
                and m.first_brake_s < world.time
            ):
                bx, by = self._brake_position
                m.stopping_distance_m = math.hypot(rover.x - bx, rover.y - by)
        self._speed_sum += rover.speed
        values = (world.time, rover.x, rover.y, rover.yaw, rover.speed, cmd_v, cmd_w)
        for name, value in zip(("t", "x", "y", "yaw", "speed", "cmd_v", "cmd_w"), values, strict=True):
            self.log[name].append(float(value))

    def after_step(self, world: ScenarioWorld) -> bool:
        """Check gaps and collision after the world moved; True when the rover collided."""
        m = self.metrics
        footprint = rover_footprint(world.rover, self.scenario.limits)
        gaps = [polygon_gap(footprint, box) for box in world.obstacle_footprints()]
        gap = min(gaps) if gaps else math.inf
        self.log["gap"].append(gap)
        m.min_gap_m = min(m.min_gap_m, gap)
        target = self.scenario.success.target
        if target is not None:
            previous = m.target_min_gap_m if m.target_min_gap_m is not None else math.inf
            m.target_min_gap_m = min(previous, gaps[target])
        if gap <= 0.0 and not m.collided:
            m.collided = True
            m.collision_time = world.time
        half_width = self.scenario.world.road_half_width
        off_road = (
            half_width is not None and np.abs(lateral_offsets(self.scenario, footprint)).max() > half_width
        )
        if off_road and m.left_road_s is None:
            m.left_road_s = world.time
        return m.collided

    def finish(self, world: ScenarioWorld) -> RunResult:
        m, scenario = self.metrics, self.scenario
        m.duration_s = world.time
        m.mean_speed = self._speed_sum / max(len(self.log["t"]), 1)
        start_x, start_y, start_yaw = scenario.start
        heading = np.array([math.cos(start_yaw), math.sin(start_yaw)])
        m.progress_m = float(np.dot([world.rover.x - start_x, world.rover.y - start_y], heading))
        if m.first_visible_s is not None and m.first_brake_s is not None:
            m.reaction_time_s = round(m.first_brake_s - m.first_visible_s, 6)
        if m.first_threat_s is not None and m.first_brake_s is not None:
            m.threat_reaction_s = round(m.first_brake_s - m.first_threat_s, 6)
        success, reasons = evaluate(scenario, m)
        return RunResult(scenario.name, success, reasons, m, self.log)


def is_braking(cmd_v: float, speed: float, cruise: float, reached_cruise: bool) -> bool:
    """A braking command: linear.x below BRAKE_RATIO × cruise — except while first speeding up
    from the start (before the rover ever reached that speed), when only a command below the
    current speed (asking to slow down) counts.
    """
    if not math.isfinite(cmd_v):
        return True
    if cmd_v >= BRAKE_RATIO * cruise:
        return False
    return reached_cruise or cmd_v < speed - 0.1


def visible_truth(truths: list[ObjectTruth]) -> list[ObjectTruth]:
    return [t for t in truths if t.visible_pixels >= VISIBLE_PIXELS]


def run_scenario(
    scenario: Scenario,
    controller_fn: Controller,
    *,
    duration_s: float | None = None,
    render_images: bool = False,
    rig: CameraRig | None = None,
    on_step: Callable[[ScenarioWorld, Observation, tuple[float, float]], None] | None = None,
) -> RunResult:
    """Run ``scenario`` closed-loop with ``controller_fn`` and score it against its success block.

    ``rig`` is the nominal camera (default: the project's); frames are rendered with the
    scenario's true mount (``scenario.camera``, nominal + mounting error).
    Each step: render (id buffer always, for visibility; the image only if ``render_images``),
    ask the controller, update metrics, advance the world. Collision ends the run.
    """
    world = ScenarioWorld(scenario)
    # The world is seen through the true mount; ``rig`` is the nominal calibration.
    renderer = Renderer(scenario.camera.true_rig(rig or default_rig()))
    duration = scenario.duration_s if duration_s is None else duration_s
    steps = max(1, round(duration / scenario.step_s))
    tracker = MetricsTracker(scenario)
    for step in range(steps):
        scene = world.scene(frame_seed=step)
        result = renderer.render(scene, with_truth=True, with_image=render_images)
        visible = visible_truth(result.truth)
        obs = Observation(
            time=world.time,
            rover=world.rover,
            yaw_rate=world.rover.yaw_rate(scenario.limits),
            cruise_speed=scenario.cruise_speed,
            truth=visible,
            image=result.image if render_images else None,
        )
        cmd = controller_fn(obs)
        cmd = (float(cmd[0]), float(cmd[1]))
        if on_step is not None:
            on_step(world, obs, cmd)
        tracker.before_step(world, visible, cmd)
        world.step(*cmd)
        if tracker.after_step(world):
            break
    return tracker.finish(world)


def evaluate(scenario: Scenario, m: RunMetrics) -> tuple[bool, list[str]]:
    """Success per the scenario's ``success`` block; the reasons say what failed."""
    spec = scenario.success
    reasons = []
    if m.collided:
        reasons.append(f"collided at t={m.collision_time:.2f} s")
    if m.left_road_s is not None:
        reasons.append(f"left the road at t={m.left_road_s:.2f} s")
    if spec.kind == "stop_before":
        if m.target_min_gap_m is None or m.target_min_gap_m < spec.min_gap_m:
            reasons.append(f"closest approach to the target {m.target_min_gap_m} m < {spec.min_gap_m} m")
        if m.stop_gap_m is None:
            reasons.append("never stopped before the target (after having moved)")
        elif m.stop_gap_m > spec.max_gap_m:
            reasons.append(f"stopped {m.stop_gap_m:.2f} m short of the target > max_gap_m {spec.max_gap_m} m")
    else:
        if m.min_gap_m < spec.min_clearance_m:
            reasons.append(f"clearance {m.min_gap_m:.2f} m < {spec.min_clearance_m} m")
        if m.mean_speed < spec.min_mean_speed_ratio * scenario.cruise_speed:
            floor = spec.min_mean_speed_ratio * scenario.cruise_speed
            reasons.append(f"mean speed {m.mean_speed:.2f} m/s < {floor:.2f} m/s")
        if spec.kind == "pass":
            if spec.pass_x is not None and m.progress_m < spec.pass_x:
                reasons.append(f"progress {m.progress_m:.1f} m < pass_x {spec.pass_x} m")
            if m.stopped_s > spec.max_stopped_s:
                reasons.append(f"stood still {m.stopped_s:.2f} s > {spec.max_stopped_s} s")
        if spec.kind == "no_braking" and m.braking_s > spec.max_braking_s:
            reasons.append(f"braked for {m.braking_s:.2f} s > {spec.max_braking_s} s")
    return not reasons, reasons
