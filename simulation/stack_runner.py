"""Headless stack runner: one scenario through the real perception and control cores, no DDS.

Each simulator frame is rendered (through the scenario's true camera mount), the detector core
runs the shipped INT8 model on it (``config/detector.yaml``: the detector node's own parameters),
the obstacle mapper core (``config/obstacle_mapper.yaml``, nominal calibration from
``config/camera_info.yaml`` + ``config/extrinsics.yaml``, ``/odom`` from the simulated rover) turns
the boxes into tracks and a grid, and the controller core (``config/controller.yaml`` + the sim
launch's overrides: grid inflation = rover half width, watchdog frame period = the scenario's
``step_s``; the desired speed is the scenario's cruise speed, as the sim publishes on
``/cmd_vel_in``) decides at its own rate. The run is scored by the scenario's success block with
the simulator's metrics, like ``make demo``.

The graph's latency is modelled, not measured per run (so a run is deterministic per scenario):
a frame's obstacles reach the controller ``latency_s`` after its capture (default
:data:`GRAPH_LATENCY_S`, the measured camera → /cmd_vel p50 of ``benchmarks/e2e_latency.py``), the
controller ticks at ``rate_hz`` and also decides when obstacles arrive (``decide_on_obstacles``),
and the simulator applies the newest command at its next step, as the sim node does. Not
modelled: a CPU too slow for real time (the graph's watchdog then stops the rover), DDS drops.

    python -m edge_rover.simulation.stack_runner all | <scenario name or file> ... [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edge_rover.calibration.calibration_io import load_camera_info, load_extrinsics
from edge_rover.common.camera_model import CameraRig
from edge_rover.control.controller import ControlInputs, ControllerState, Obstacle, step
from edge_rover.control.geometry import GridMap
from edge_rover.control.params import ControllerParams, params_from_values
from edge_rover.perception.detection.detector import Detector
from edge_rover.perception.detection.detector_node import config_from_params
from edge_rover.perception.mapping.obstacle_mapper import ObstacleMapperCore, OdomSample, core_from_values
from edge_rover.perception.mapping.obstacle_types import Detection2D, TrackedObstacle, load_class_profiles
from edge_rover.simulation.closed_loop import (
    CORRIDOR_MARGIN,
    STOPPED_SPEED,
    Observation,
    RunResult,
    run_scenario,
)
from edge_rover.simulation.dynamics import oriented_rectangle, polygons_overlap
from edge_rover.simulation.scenarios import Scenario, ScenarioWorld, find_scenario, scenario_names
from edge_rover.tools.run_outcome import scenario_outcome

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
# Camera frame → /cmd_vel, p50 over the separate-process graph at 15 and 30 fps (17.5 / 17.7 ms;
# benchmarks/results/e2e_latency.json). Below one 50 ms sim frame: a command computed from frame k
# is applied from the step after frame k, as in the sim node.
GRAPH_LATENCY_S = 0.018
LAUNCH_ROVER_HALF_WIDTH = 0.35  # common/launch_helpers.ROVER_HALF_WIDTH_DEFAULT, the sim launch's value
# A standstill counts as a stop for nothing when no obstacle is (or within 2 s will be) in the
# corridor this far ahead of the bumper: a success block allows a stop up to 6 m short of a target.
FALSE_STOP_RANGE_M = 8.0


def node_values(node: str) -> dict[str, Any]:
    """A node's parameters as shipped in ``config/<node>.yaml`` (generated from its PARAM_SPECS)."""
    data = yaml.safe_load((CONFIG / f"{node}.yaml").read_text())
    return dict(data[node]["ros__parameters"])


def make_detector(threads: int | None = None) -> Detector:
    """The detector core configured like the detector node (``threads`` may be lowered for sweeps)."""
    values = node_values("detector")
    if threads is not None:
        values["threads"] = threads
    return Detector(config_from_params(values), log=lambda _line: None)


def make_mapper(rig: CameraRig) -> ObstacleMapperCore:
    """The obstacle mapper core with the node's parameters (as ``obstacle_mapper_node`` builds it)."""
    p = node_values("obstacle_mapper")
    core = core_from_values(p, load_class_profiles(CONFIG / "classes.yaml"), LAUNCH_ROVER_HALF_WIDTH)
    core.set_rig(rig)
    return core


def obstacles_from_tracks(tracks: Sequence[TrackedObstacle]) -> tuple[Obstacle, ...]:
    """Mapper tracks as the controller sees them: what /obstacles carries between the two nodes
    (id as a string, footprint centre, velocity over ground, footprint size, class, score)."""
    return tuple(
        Obstacle(
            track_id=str(t.track_id),
            x=float(t.position[0]),
            y=float(t.position[1]),
            vx=float(t.velocity[0]),
            vy=float(t.velocity[1]),
            size_x=float(t.size[0]),
            size_y=float(t.size[1]),
            label=t.class_name,
            confidence=float(t.score),
        )
        for t in tracks
    )


def controller_params(scenario: Scenario) -> ControllerParams:
    """config/controller.yaml with the sim launch's overrides (grid inflation, frame period)."""
    names = set(ControllerParams.__dataclass_fields__)
    values = {k: v for k, v in node_values("controller").items() if k in names}
    values.update(grid_inflation=LAUNCH_ROVER_HALF_WIDTH, frame_period=scenario.step_s)
    return params_from_values(values)


def nominal_rig() -> CameraRig:
    """The calibration perception uses (the mapper node's files), whatever the true mount is."""
    return CameraRig(
        load_camera_info(str(CONFIG / "camera_info.yaml")), load_extrinsics(str(CONFIG / "extrinsics.yaml"))
    )


@dataclass
class StageInfo:
    """What each stage saw over a run (for the sweep's report)."""

    frames: int = 0
    detections: int = 0
    frames_with_detections: int = 0
    target_class: str | None = None
    first_target_detection_s: float | None = None  # first frame with a box of the target's class
    first_track_s: float | None = None
    max_tracks: int = 0
    mapper_dropped: dict[str, int] = field(default_factory=dict)
    states: Counter = field(default_factory=Counter)  # controller cycles per safety state
    first_non_driving_s: float | None = None
    detector_ms: list[float] = field(default_factory=list)
    mapper_ms: list[float] = field(default_factory=list)
    controller_ms: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def p50(values: list[float]) -> float | None:
            return round(float(np.median(values)), 3) if values else None

        return {
            "frames": self.frames,
            "detections": self.detections,
            "frames_with_detections": self.frames_with_detections,
            "target_class": self.target_class,
            "first_target_detection_s": self.first_target_detection_s,
            "first_track_s": self.first_track_s,
            "max_tracks": self.max_tracks,
            "mapper_dropped": dict(self.mapper_dropped),
            "controller_states": dict(sorted(self.states.items())),
            "first_non_driving_s": self.first_non_driving_s,
            "wall_ms_p50": {
                "detector": p50(self.detector_ms),
                "mapper": p50(self.mapper_ms),
                "controller": p50(self.controller_ms),
            },
        }


class StackController:
    """Rendered frame → detector core → mapper core → (latency) → controller core, as a
    ``simulation.closed_loop`` controller callable."""

    def __init__(
        self,
        scenario: Scenario,
        detector: Detector,
        rig: CameraRig,
        latency_s: float = GRAPH_LATENCY_S,
        on_detections: Callable[[list], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.on_detections = on_detections
        self.detector = detector
        self.mapper = make_mapper(rig)
        self.params = controller_params(scenario)
        self.latency_s = latency_s
        self.state = ControllerState()
        self.command = (0.0, 0.0)  # the sim holds still until the first /cmd_vel
        self.next_tick: float | None = None
        self.pending: deque[tuple[float, float, tuple[Obstacle, ...], GridMap]] = deque()
        self.inputs: tuple[float, tuple[Obstacle, ...], GridMap] | None = None  # stamp, obstacles, grid
        self.received: float | None = None
        grid = self.mapper.grid.config
        self.grid_origin = (-grid.behind, -grid.half_width, 0.0)
        self.info = StageInfo()
        target = scenario.success.target
        self.info.target_class = scenario.obstacles[target].kind if target is not None else None
        self.odom: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # speed, x, y, yaw

    # -- perception of one frame
    def perceive(self, obs: Observation) -> tuple[tuple[Obstacle, ...], GridMap] | None:
        info, now = self.info, obs.time
        start = time.perf_counter()
        result = self.detector.detect(obs.image)
        info.detector_ms.append((time.perf_counter() - start) * 1000)
        dets = result.detections
        info.frames += 1
        info.detections += len(dets)
        info.frames_with_detections += len(dets) > 0
        names = dets.names()
        if info.first_target_detection_s is None and info.target_class in names:
            info.first_target_detection_s = round(now, 3)
        boxes = [
            Detection2D(tuple(float(v) for v in box), name, float(score))
            for box, name, score in zip(dets.boxes, names, dets.scores, strict=True)
        ]
        if self.on_detections is not None:  # the frame's boxes, compact (a sweep's trace, a GIF)
            self.on_detections(
                [[*(round(v, 1) for v in b.box), b.class_name, round(b.score, 2)] for b in boxes]
            )
        start = time.perf_counter()
        frame = self.mapper.process(
            boxes, stamp=now, now=now, odom=OdomSample(now, obs.rover.speed, obs.yaw_rate)
        )
        info.mapper_ms.append((time.perf_counter() - start) * 1000)
        if isinstance(frame, str):
            info.mapper_dropped[frame] = info.mapper_dropped.get(frame, 0) + 1
            return None
        if frame.tracks and info.first_track_s is None:
            info.first_track_s = round(now, 3)
        info.max_tracks = max(info.max_tracks, len(frame.tracks))
        obstacles = obstacles_from_tracks(frame.tracks)
        grid = GridMap.from_occupancy(
            frame.grid,
            self.mapper.grid.config.resolution,
            self.grid_origin,
            self.params.grid_occupied_threshold,
            self.params.grid_inflation,
        )
        return obstacles, grid

    # -- the controller's cycles between two simulator steps
    def _tick(self, now: float) -> None:
        stamp, obstacles, grid = self.inputs if self.inputs is not None else (None, (), None)
        speed, x, y, yaw = self.odom
        inputs = ControlInputs(
            obstacles=obstacles,
            obstacles_stamp=stamp,
            obstacles_received=self.received,
            frames_received=self.received,
            extra_watched=(("detections", self.received),),
            grid=grid,
            grid_received=self.received if grid is not None else None,
            ego_speed=speed,
            desired_speed=self.scenario.cruise_speed,
            yaw=yaw,
            position=(x, y),
        )
        start = time.perf_counter()
        self.state, command, report = step(self.params, self.state, inputs, now)
        self.info.controller_ms.append((time.perf_counter() - start) * 1000)
        self.info.states[report.state] += 1
        if report.state != "DRIVING" and self.info.first_non_driving_s is None and self.received is not None:
            self.info.first_non_driving_s = round(now, 3)
        self.command = (command.speed, command.yaw_rate)

    def _advance(self, until: float) -> None:
        """Run every controller event (timer ticks, obstacle arrivals) up to ``until`` (inclusive)."""
        period = self.params.period
        while True:
            arrival = self.pending[0][0] if self.pending else np.inf
            tick = self.next_tick if self.next_tick is not None else np.inf
            now = min(arrival, tick)
            if now > until + 1e-9:
                return
            if arrival <= tick:
                _, stamp, obstacles, grid = self.pending.popleft()
                self.inputs, self.received = (stamp, obstacles, grid), arrival
                self._tick(arrival)
                self.next_tick = arrival + period  # decide_on_obstacles restarts the timer
            else:
                self._tick(tick)
                self.next_tick = tick + period

    def __call__(self, obs: Observation) -> tuple[float, float]:
        now = obs.time
        self._advance(now)  # what the controller decided up to this frame is what the sim applies
        command = self.command
        rover = obs.rover
        self.odom = (rover.speed, rover.x, rover.y, rover.yaw)
        perceived = self.perceive(obs)
        if perceived is not None:
            self.pending.append((now + self.latency_s, now, *perceived))
            if self.next_tick is None:  # the controller's timer starts with the graph
                self.next_tick = now
        return command


class StandstillWatch:
    """Standstill time (after having moved) with nothing in the corridor ahead: stops for nothing."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.moved = False
        self.false_stop_s = 0.0
        self.first_false_stop_s: float | None = None

    def _clear_ahead(self, world: ScenarioWorld) -> bool:
        limits, rover = self.scenario.limits, world.rover
        front = limits.length - limits.rear_overhang
        corridor = oriented_rectangle(
            rover.x,
            rover.y,
            rover.yaw,
            FALSE_STOP_RANGE_M,
            limits.width + 2 * CORRIDOR_MARGIN,
            x_offset=front + FALSE_STOP_RANGE_M / 2,
        )
        for state, spec in zip(world.obstacles, self.scenario.obstacles, strict=True):
            for dt in (0.0, 0.5, 1.0, 1.5, 2.0):
                box = oriented_rectangle(
                    state.x + state.vx * dt, state.y + state.vy * dt, state.yaw, *spec.size[:2]
                )
                if polygons_overlap(corridor, box):
                    return False
        return True

    def __call__(self, world: ScenarioWorld, _obs: Observation, _cmd: tuple[float, float]) -> None:
        speed = abs(world.rover.speed)
        self.moved |= speed > 0.5 * self.scenario.cruise_speed
        if self.moved and speed < STOPPED_SPEED and self._clear_ahead(world):
            self.false_stop_s += self.scenario.step_s
            if self.first_false_stop_s is None:
                self.first_false_stop_s = round(world.time, 3)


@dataclass
class StackRun:
    result: RunResult
    stages: dict[str, Any]
    wall_s: float

    @property
    def verdict(self) -> str:
        """PASSED / FAILED, worded like ``make demo`` (tools/run_outcome.py)."""
        metrics = {
            **self.result.metrics.as_dict(),
            "success": self.result.success,
            "reasons": self.result.reasons,
        }
        return scenario_outcome(metrics, [], 0).word

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.result.scenario,
            "verdict": self.verdict,
            "success": self.result.success,
            "reasons": self.result.reasons,
            "metrics": self.result.metrics.as_dict(),
            "stages": self.stages,
            "wall_s": round(self.wall_s, 3),
        }


def run_stack(
    scenario: Scenario,
    detector: Detector | None = None,
    latency_s: float = GRAPH_LATENCY_S,
    on_frame: Callable | None = None,
    on_detections: Callable[[list], None] | None = None,
) -> StackRun:
    """One scenario through the stack; ``on_frame(world, obs, cmd)`` sees every step and
    ``on_detections(boxes)`` every frame's detector boxes ``[x1, y1, x2, y2, class, score]``."""
    start = time.perf_counter()
    detector = detector or make_detector()
    rig = nominal_rig()
    controller = StackController(scenario, detector, rig, latency_s, on_detections)
    watch = StandstillWatch(scenario)

    def on_step(world: ScenarioWorld, obs: Observation, cmd: tuple[float, float]) -> None:
        watch(world, obs, cmd)
        if on_frame is not None:
            on_frame(world, obs, cmd)

    result = run_scenario(scenario, controller, render_images=True, rig=rig, on_step=on_step)
    stages = controller.info.as_dict()
    stages.update(false_stop_s=round(watch.false_stop_s, 3), first_false_stop_s=watch.first_false_stop_s)
    return StackRun(result, stages, time.perf_counter() - start)


def _table(runs: list[StackRun]) -> str:
    lines = [
        "| scenario | verdict | collided | min gap (m) | first brake (s) | braking (s) "
        "| mean speed (m/s) | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        m = run.result.metrics
        verdict = run.verdict if run.result.success else f"{run.verdict}: {'; '.join(run.result.reasons)}"
        gap = "–" if not np.isfinite(m.min_gap_m) else f"{m.min_gap_m:.2f}"
        brake = "–" if m.first_brake_s is None else f"{m.first_brake_s:.2f}"
        lines.append(
            f"| {run.result.scenario} | {verdict} | {'YES' if m.collided else 'no'} | {gap} | {brake} "
            f"| {m.braking_s:.2f} | {m.mean_speed:.2f} | {run.wall_s:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="+", help="'all' (config/scenarios), names or YAML paths")
    parser.add_argument("--latency", type=float, default=GRAPH_LATENCY_S, help="modelled graph latency (s)")
    parser.add_argument("--threads", type=int, default=None, help="detector threads (default: the node's)")
    parser.add_argument("--json", type=Path, default=None, help="write every run's result here")
    args = parser.parse_args(argv)
    names = scenario_names() if args.scenarios == ["all"] else args.scenarios
    try:
        scenarios = [find_scenario(n) for n in names]
        detector = make_detector(args.threads)
    except Exception as exc:  # a bad scenario file or model: one line, exit 2 like make demo
        print(f"stack_runner: {exc}", file=sys.stderr)
        return 2
    runs = []
    for scenario in scenarios:
        run = run_stack(scenario, detector, args.latency)
        print(f"{scenario.name}: {run.verdict} ({run.wall_s:.1f} s wall)", file=sys.stderr)
        runs.append(run)
    print(_table(runs))
    passed = sum(r.result.success for r in runs)
    print(f"\n{passed} of {len(runs)} passed, {sum(r.result.metrics.collided for r in runs)} collided")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r.as_dict() for r in runs], indent=2) + "\n")
    return 0 if passed == len(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
