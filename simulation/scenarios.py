"""Scenario files (``config/scenarios/*.yaml``): loading with field-naming errors, and the world.

A scenario states the rover's start and cruise speed, the obstacles (class, pose, size, motion,
appearance seed), the look of the world, and what success means (``stop_before``, ``pass`` or
``no_braking``). The same file drives the headless closed loop, the sim node and the bag writer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edge_rover.common.camera_model import CameraExtrinsics, CameraRig
from edge_rover.simulation.classes import CLASS_NAMES, DEFAULT_SIZES, DISTRACTOR_KINDS
from edge_rover.simulation.dynamics import (
    Motion,
    ObstacleState,
    RoverLimits,
    RoverState,
    oriented_rectangle,
    step_obstacle,
    step_rover,
)
from edge_rover.simulation.randomize import LIGHTING_KINDS, random_lighting
from edge_rover.simulation.scene import GroundDecal, Lighting, Scene, SceneObject
from edge_rover.simulation.textures import GROUND_KINDS

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "config" / "scenarios"
SUCCESS_KINDS = ("stop_before", "pass", "no_braking")
MOTION_KINDS = ("static", "linear", "waypoints")
STRIDE_M = 1.4  # metres per gait cycle of a walking person
# Bounds of a scenario's camera mounting error: beyond them it is a mis-calibration, not a knock.
MAX_PITCH_ERROR_DEG = 10.0
MAX_HEIGHT_ERROR_M = 0.3


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class ObstacleSpec:
    kind: str
    pose: tuple[float, float, float]  # world x, y, yaw
    size: tuple[float, float, float]
    appearance_seed: int = 0
    motion: Motion = field(default_factory=Motion)


@dataclass(frozen=True)
class SuccessSpec:
    kind: str
    target: int | None = None  # obstacle index the rover must stop before
    min_gap_m: float = 0.3  # stop_before: closest approach to the target
    max_gap_m: float = 6.0  # stop_before: the stop must be at most this far short of the target
    pass_x: float | None = None  # pass: progress along the start heading to reach
    min_clearance_m: float = 0.1  # pass / no_braking: closest approach to any obstacle
    max_stopped_s: float = 1.0  # pass: time allowed at standstill
    max_braking_s: float = 0.0  # no_braking: time allowed with a braking command
    min_mean_speed_ratio: float = 0.7  # pass / no_braking: mean speed / cruise speed


@dataclass(frozen=True)
class WorldSpec:
    ground: str = "asphalt"
    ground_seed: int = 0
    lighting: str = "day"
    lighting_seed: int = 0
    noise_sigma: float = 3.0
    lanes: bool = True
    road_half_width: float | None = None  # m either side of the start line; leaving it is a failure
    distractors: tuple[ObstacleSpec, ...] = ()

    def lighting_model(self) -> Lighting:
        return random_lighting(np.random.default_rng(self.lighting_seed), self.lighting)


@dataclass(frozen=True)
class CameraMountSpec:
    """How far the camera's true mount is off its nominal calibration (``config/extrinsics.yaml``).

    The world is rendered with the true mount (nominal + error); perception keeps the nominal
    calibration, as on a rover whose camera was knocked or mounted slightly off.
    """

    pitch_error_deg: float = 0.0  # > 0: the camera looks further down than calibrated
    height_error_m: float = 0.0  # > 0: the camera sits higher than calibrated

    def true_rig(self, nominal: CameraRig) -> CameraRig:
        """The rig the world is rendered with: ``nominal`` with this error applied."""
        if self.pitch_error_deg == 0.0 and self.height_error_m == 0.0:
            return nominal
        x, y, z = nominal.extrinsics.translation
        roll, pitch, yaw = nominal.extrinsics.rotation_rpy
        extrinsics = CameraExtrinsics(
            translation=(x, y, z + self.height_error_m),
            rotation_rpy=(roll, pitch + math.radians(self.pitch_error_deg), yaw),
            parent_frame=nominal.extrinsics.parent_frame,
            child_frame=nominal.extrinsics.child_frame,
        )
        return CameraRig(nominal.intrinsics, extrinsics)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration_s: float
    step_s: float
    start: tuple[float, float, float]
    cruise_speed: float
    limits: RoverLimits
    obstacles: tuple[ObstacleSpec, ...]
    success: SuccessSpec
    world: WorldSpec
    source: str = "<dict>"
    camera: CameraMountSpec = field(default_factory=CameraMountSpec)


# ---------------------------------------------------------------------------------------------
# Loading and validation


class _Fields:
    """Reads typed fields from a mapping; every error names ``source`` and the field path."""

    def __init__(self, data: Any, source: str, path: str) -> None:
        if not isinstance(data, dict):
            raise ScenarioError(
                f"{source}: {path or 'top level'} must be a mapping, got {type(data).__name__}"
            )
        self.data, self.source, self.path = data, source, path

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {self._name(key)}: {message}")

    def unknown(self, allowed: set[str]) -> None:
        extra = sorted(set(self.data) - allowed)
        if extra:
            raise self.fail(extra[0], f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def number(self, key: str, default: Any = ..., lo: float | None = None, hi: float | None = None) -> float:
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "missing required field")
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, got {value!r}")
        if lo is not None and value < lo:
            raise self.fail(key, f"must be >= {lo}, got {value}")
        if hi is not None and value > hi:
            raise self.fail(key, f"must be <= {hi}, got {value}")
        return float(value)

    def optional_number(self, key: str, lo: float | None = None) -> float | None:
        return None if self.data.get(key) is None else self.number(key, lo=lo)

    def integer(self, key: str, default: Any = ...) -> int:
        value = self.number(key, default)
        if value is not None and value != int(value):
            raise self.fail(key, f"must be an integer, got {value}")
        return int(value) if value is not None else None

    def vector(self, key: str, length: int, default: Any = ...) -> tuple[float, ...]:
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "missing required field")
            return default
        value = self.data[key]
        if (
            not isinstance(value, list)
            or len(value) != length
            or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
            )
        ):
            raise self.fail(key, f"must be a list of {length} finite numbers, got {value!r}")
        return tuple(float(v) for v in value)

    def choice(self, key: str, choices: tuple[str, ...], default: Any = ...) -> str:
        if key not in self.data:
            if default is ...:
                raise self.fail(key, f"missing required field (one of {list(choices)})")
            return default
        value = self.data[key]
        if value not in choices:
            raise self.fail(key, f"must be one of {list(choices)}, got {value!r}")
        return str(value)

    def child(self, key: str, default: Any = ...) -> _Fields:
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "missing required field")
            return _Fields(default, self.source, self._name(key))
        return _Fields(self.data[key], self.source, self._name(key))

    def items(self, key: str) -> list[_Fields]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, got {type(value).__name__}")
        return [_Fields(item, self.source, f"{self._name(key)}[{i}]") for i, item in enumerate(value)]


def _motion(f: _Fields) -> Motion:
    f.unknown({"type", "velocity", "waypoints", "speed", "start_time", "trigger_distance", "max_distance"})
    kind = f.choice("type", MOTION_KINDS, "static")
    velocity = f.vector("velocity", 2, (0.0, 0.0))
    waypoints: tuple[tuple[float, float], ...] = ()
    speed = f.number("speed", 0.0, lo=0.0, hi=40.0)
    if kind == "linear" and velocity == (0.0, 0.0):
        raise f.fail("velocity", "a linear motion needs a non-zero velocity [vx, vy]")
    if kind == "waypoints":
        raw = f.data.get("waypoints")
        if not isinstance(raw, list) or not raw:
            raise f.fail("waypoints", "must be a non-empty list of [x, y] points")
        points = []
        for i, point in enumerate(raw):
            if not (
                isinstance(point, list)
                and len(point) == 2
                and all(isinstance(v, (int, float)) for v in point)
            ):
                raise f.fail(f"waypoints[{i}]", f"must be [x, y], got {point!r}")
            points.append((float(point[0]), float(point[1])))
        waypoints = tuple(points)
        if speed <= 0:
            raise f.fail("speed", "a waypoints motion needs speed > 0")
    start_time = f.optional_number("start_time", lo=0.0)
    trigger = f.optional_number("trigger_distance", lo=0.0)
    if start_time is None and trigger is None:
        start_time = 0.0 if "start_time" not in f.data else None
    if start_time is None and trigger is None and kind != "static":
        raise f.fail("start_time", "a moving obstacle needs start_time or trigger_distance")
    return Motion(
        kind=kind,
        velocity=velocity,
        waypoints=waypoints,
        speed=speed,
        start_time=start_time,
        trigger_distance=trigger,
        max_distance=f.number("max_distance", math.inf, lo=0.0) if "max_distance" in f.data else math.inf,
    )


def _obstacle(f: _Fields, kinds: tuple[str, ...]) -> ObstacleSpec:
    f.unknown({"class", "pose", "size", "appearance_seed", "motion"})
    kind = f.choice("class", kinds)
    pose = f.vector("pose", 3)
    size = f.vector("size", 3, DEFAULT_SIZES[kind])
    if min(size) <= 0:
        raise f.fail("size", f"must be positive [length, width, height], got {list(size)}")
    return ObstacleSpec(
        kind=kind,
        pose=pose,
        size=size,
        appearance_seed=f.integer("appearance_seed", 0),
        motion=_motion(f.child("motion", {})),
    )


def scenario_from_dict(data: Any, source: str = "<dict>") -> Scenario:
    f = _Fields(data, source, "")
    f.unknown(
        {"name", "description", "duration_s", "step_s", "world", "rover", "obstacles", "success", "camera"}
    )
    name = f.data.get("name")
    if not isinstance(name, str) or not name:
        raise f.fail("name", "missing or empty scenario name")
    w = f.child("world", {})
    w.unknown(
        {
            "ground",
            "ground_seed",
            "lighting",
            "lighting_seed",
            "noise_sigma",
            "lanes",
            "road_half_width",
            "distractors",
        }
    )
    lanes = w.data.get("lanes", True)
    if not isinstance(lanes, bool):
        raise w.fail("lanes", f"must be true or false, got {lanes!r}")
    world = WorldSpec(
        ground=w.choice("ground", GROUND_KINDS, "asphalt"),
        ground_seed=w.integer("ground_seed", 0),
        lighting=w.choice("lighting", LIGHTING_KINDS, "day"),
        lighting_seed=w.integer("lighting_seed", 0),
        noise_sigma=w.number("noise_sigma", 3.0, lo=0.0, hi=40.0),
        lanes=lanes,
        road_half_width=w.optional_number("road_half_width", lo=0.5),
        distractors=tuple(_obstacle(d, DISTRACTOR_KINDS) for d in w.items("distractors")),
    )
    r = f.child("rover")
    r.unknown({"start", "cruise_speed", "limits"})
    limits_fields = r.child("limits", {})
    limits_fields.unknown(set(RoverLimits.__dataclass_fields__))
    limit_values = {k: limits_fields.number(k, lo=0.0) for k in limits_fields.data}
    try:
        limits = RoverLimits(**limit_values)
    except ValueError as exc:
        raise ScenarioError(f"{source}: rover.limits: {exc}") from exc
    cruise = r.number("cruise_speed", lo=0.0, hi=limits.max_speed)
    obstacles = tuple(_obstacle(o, CLASS_NAMES) for o in f.items("obstacles"))
    s = f.child("success")
    s.unknown(set(SuccessSpec.__dataclass_fields__) - {"kind"} | {"type"})
    kind = s.choice("type", SUCCESS_KINDS)
    target = s.integer("target", None) if s.data.get("target") is not None else None
    if kind == "stop_before" and target is None:
        raise s.fail("target", "stop_before needs the index of the obstacle to stop before")
    if target is not None and not 0 <= target < len(obstacles):
        raise s.fail("target", f"must index obstacles (0..{len(obstacles) - 1}), got {target}")
    if kind == "pass" and "pass_x" not in s.data:
        raise s.fail("pass_x", "pass needs pass_x, the progress (m) that counts as having passed")
    success = SuccessSpec(
        kind=kind,
        target=target,
        min_gap_m=s.number("min_gap_m", 0.3, lo=0.0),
        max_gap_m=s.number("max_gap_m", 6.0, lo=0.0),
        pass_x=s.optional_number("pass_x"),
        min_clearance_m=s.number("min_clearance_m", 0.1, lo=0.0),
        max_stopped_s=s.number("max_stopped_s", 1.0, lo=0.0),
        max_braking_s=s.number("max_braking_s", 0.0, lo=0.0),
        min_mean_speed_ratio=s.number("min_mean_speed_ratio", 0.7, lo=0.0, hi=1.0),
    )
    c = f.child("camera", {})
    c.unknown({"pitch_error_deg", "height_error_m"})
    camera = CameraMountSpec(
        pitch_error_deg=c.number("pitch_error_deg", 0.0, lo=-MAX_PITCH_ERROR_DEG, hi=MAX_PITCH_ERROR_DEG),
        height_error_m=c.number("height_error_m", 0.0, lo=-MAX_HEIGHT_ERROR_M, hi=MAX_HEIGHT_ERROR_M),
    )
    return Scenario(
        name=name,
        description=str(f.data.get("description", "")),
        duration_s=f.number("duration_s", lo=0.1, hi=3600.0),
        step_s=f.number("step_s", 0.05, lo=0.001, hi=1.0),
        start=r.vector("start", 3, (0.0, 0.0, 0.0)),
        cruise_speed=cruise,
        limits=limits,
        obstacles=obstacles,
        success=success,
        world=world,
        source=source,
        camera=camera,
    )


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"scenario file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    return scenario_from_dict(data, source=path.name)


def scenario_names(directory: Path | None = None) -> list[str]:
    """Scenario names in ``directory``, or in every place find_scenario looks (source tree, share)."""
    directories = [directory] if directory is not None else _scenario_dirs()
    return sorted({p.stem for d in directories for p in d.glob("*.yaml")})


def scenario_path(name_or_path: str) -> Path:
    """The file of a scenario given by path, or by name from ``config/scenarios`` (source or share)."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise ScenarioError(f"scenario file not found: {candidate}")
        return candidate
    for directory in _scenario_dirs():
        path = directory / f"{name_or_path}.yaml"
        if path.is_file():
            return path
    raise ScenarioError(f"no scenario named {name_or_path!r}; known: {', '.join(scenario_names())}")


def find_scenario(name_or_path: str) -> Scenario:
    """A scenario by file path, or by name from ``config/scenarios`` (source tree or package share)."""
    return load_scenario(scenario_path(name_or_path))


def _scenario_dirs() -> list[Path]:
    dirs = [SCENARIO_DIR]
    try:
        from ament_index_python.packages import get_package_share_directory

        dirs.append(Path(get_package_share_directory("edge_rover")) / "config" / "scenarios")
    except Exception:
        pass
    return dirs


# ---------------------------------------------------------------------------------------------
# The world of a scenario


class ScenarioWorld:
    """Rover + obstacles of one scenario, stepped at ``scenario.step_s`` (pure; no clocks)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.time = 0.0
        x, y, yaw = scenario.start
        self.rover = RoverState(x=x, y=y, yaw=yaw, speed=0.0)
        self.obstacles = [ObstacleState(o.pose[0], o.pose[1], o.pose[2]) for o in scenario.obstacles]
        self._decals = _lane_decals(scenario) if scenario.world.lanes else []
        if scenario.world.road_half_width is not None:
            self._decals += _road_edge_decals(scenario, scenario.world.road_half_width)
        self._lighting = scenario.world.lighting_model()

    def step(self, linear_x: float, angular_z: float, angular_is_steering: bool = False) -> None:
        dt = self.scenario.step_s
        rover_xy = (self.rover.x, self.rover.y)
        self.obstacles = [
            step_obstacle(state, spec.motion, self.time, dt, rover_xy)
            for state, spec in zip(self.obstacles, self.scenario.obstacles, strict=True)
        ]
        self.rover = step_rover(
            self.rover, linear_x, angular_z, dt, self.scenario.limits, angular_is_steering
        )
        self.time = round(self.time + dt, 9)

    def obstacle_footprints(self) -> list[np.ndarray]:
        return [
            oriented_rectangle(s.x, s.y, s.yaw, spec.size[0], spec.size[1])
            for s, spec in zip(self.obstacles, self.scenario.obstacles, strict=True)
        ]

    def scene(self, frame_seed: int = 0) -> Scene:
        objects = []
        for state, spec in zip(self.obstacles, self.scenario.obstacles, strict=True):
            moving = math.hypot(state.vx, state.vy) > 0.05
            objects.append(
                SceneObject(
                    kind=spec.kind,
                    x=state.x,
                    y=state.y,
                    yaw=state.yaw,
                    size=spec.size,
                    velocity=(state.vx, state.vy),
                    seed=spec.appearance_seed,
                    gait_phase=2 * math.pi * state.travelled / STRIDE_M,
                    walking=1.0 if moving else 0.0,
                )
            )
        for d in self.scenario.world.distractors:
            objects.append(
                SceneObject(d.kind, d.pose[0], d.pose[1], d.pose[2], d.size, seed=d.appearance_seed)
            )
        world = self.scenario.world
        return Scene(
            ground_kind=world.ground,
            ground_seed=world.ground_seed,
            lighting=self._lighting,
            objects=objects,
            decals=self._decals,
            rover_pose=(self.rover.x, self.rover.y, self.rover.yaw),
            rover_velocity=(self.rover.speed, self.rover.yaw_rate(self.scenario.limits)),
            noise_sigma=world.noise_sigma,
            motion_blur_px=min(self.rover.speed * 1.2, 4.0) if self.rover.speed > 1.5 else 0.0,
            frame_seed=frame_seed,
        )


def _lane_decals(scenario: Scenario) -> list[GroundDecal]:
    """Dashed centre-ish lane lines either side of the start line, along the start heading."""
    x0, y0, yaw = scenario.start
    c, s = math.cos(yaw), math.sin(yaw)
    decals = []
    length = max(60.0, scenario.cruise_speed * scenario.duration_s + 30.0)
    for lane_y in (-1.75, 1.75):
        for k in np.arange(-5.0, length, 3.0):
            local = np.array(
                [[k, lane_y - 0.06], [k + 1.5, lane_y - 0.06], [k + 1.5, lane_y + 0.06], [k, lane_y + 0.06]]
            )
            world = local @ np.array([[c, s], [-s, c]]) + (x0, y0)
            decals.append(GroundDecal(world, (225.0, 225.0, 225.0)))
    return decals


def _road_edge_decals(scenario: Scenario, half_width: float) -> list[GroundDecal]:
    """Solid edge lines where the road ends (leaving it fails the run)."""
    x0, y0, yaw = scenario.start
    c, s = math.cos(yaw), math.sin(yaw)
    length = max(60.0, scenario.cruise_speed * scenario.duration_s + 30.0)
    decals = []
    for edge in (-half_width, half_width):
        local = np.array(
            [[-5.0, edge - 0.08], [length, edge - 0.08], [length, edge + 0.08], [-5.0, edge + 0.08]]
        )
        decals.append(GroundDecal(local @ np.array([[c, s], [-s, c]]) + (x0, y0), (235.0, 235.0, 235.0)))
    return decals


def lateral_offsets(scenario: Scenario, points: np.ndarray) -> np.ndarray:
    """Signed distance (m, left positive) of world points from the scenario's start line."""
    x0, y0, yaw = scenario.start
    return (points[:, 0] - x0) * -math.sin(yaw) + (points[:, 1] - y0) * math.cos(yaw)
