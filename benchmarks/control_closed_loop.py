"""The product controller in the simulator's headless closed loop, on every scenario.

``edge_rover.simulation.closed_loop.run_scenario`` renders each step (id buffer, for what the camera can
see), hands the visible objects' ground truth to the controller as tracked obstacles (position,
velocity, size, yaw in base_link — i.e. perfect perception of what is in view, delayed by
``--latency``), drives the rover's dynamics (lag, limits) with the returned Twist (angular.z =
yaw rate) and scores the run with the scenario's own success block. The oracle reference
controller runs on the same scenarios for comparison. The full pipeline (rendered image →
detector → mapper → controller) is ``launch/sim.launch.py``; this isolates the controller.

    python -m benchmarks.control_closed_loop [--latency 0.05] [--scenarios a b ...]

Writes benchmarks/results/control_closed_loop.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import deque
from dataclasses import asdict, replace
from pathlib import Path

from tqdm import tqdm

from edge_rover.control.controller import ControlInputs, ControllerState, Obstacle, step
from edge_rover.control.geometry import GridMap
from edge_rover.control.params import ControllerParams
from edge_rover.simulation.closed_loop import Observation, run_scenario
from edge_rover.simulation.reference_controllers import OracleController
from edge_rover.simulation.scenarios import Scenario, find_scenario, scenario_names

RESULTS = Path(__file__).resolve().parent / "results" / "control_closed_loop.json"


class SimControllerAdapter:
    """The controller core's ``step`` as a ``simulation.closed_loop`` controller callable."""

    def __init__(self, params: ControllerParams, scenario: Scenario, latency: float) -> None:
        limits = scenario.limits
        self.params = replace(
            params,
            cruise_speed=scenario.cruise_speed,
            max_speed=max(params.max_speed, scenario.cruise_speed),
            wheelbase=limits.wheelbase,
            rover_width=limits.width,
            front_overhang=limits.length - limits.rear_overhang,
            max_steering_angle=min(params.max_steering_angle, limits.max_steer),
        )
        self.state = ControllerState()
        self.latency = latency
        self.history: deque[tuple[float, tuple[Obstacle, ...], GridMap | None]] = deque()
        self.states: list[str] = []
        self.step_s = scenario.step_s
        self.last_cmd = 0.0
        self.slowing_s = 0.0  # commanded speed going down, or a braking stage (not a ramp-up)
        self.first_slowing: float | None = None

    def perceive(self, obs: Observation) -> tuple[tuple[Obstacle, ...], GridMap | None]:
        """What the controller is given for this step: here the visible objects' ground truth."""
        seen = tuple(
            Obstacle(
                str(t.object_index),
                t.position[0],
                t.position[1],
                t.velocity[0],
                t.velocity[1],
                t.size[0],
                t.size[1],
                t.class_name,
                1.0,
                t.yaw,
            )
            for t in obs.truth
        )
        return seen, None

    def __call__(self, obs: Observation) -> tuple[float, float]:
        now = obs.time
        # Perception latency: the controller sees the frame captured ``latency`` ago.
        self.history.append((now, *self.perceive(obs)))
        while len(self.history) > 1 and self.history[1][0] <= now - self.latency + 1e-9:
            self.history.popleft()
        stamp, obstacles, grid = self.history[0]
        inputs = ControlInputs(
            obstacles=obstacles,
            obstacles_stamp=stamp,
            obstacles_received=now,
            frames_received=now,
            grid=grid,
            grid_received=None if grid is None else now,
            ego_speed=obs.rover.speed,
            yaw=obs.rover.yaw,
            position=(obs.rover.x, obs.rover.y),
        )
        self.state, command, report = step(self.params, self.state, inputs, now)
        self.states.append(report.state)
        slowing = command.speed < self.last_cmd - 1e-6 or report.state in ("PARTIAL_BRAKE", "FULL_BRAKE")
        if slowing:
            self.slowing_s += self.step_s
            if self.first_slowing is None:
                self.first_slowing = now
        self.last_cmd = command.speed
        return command.speed, command.yaw_rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05, help="perception latency (s)")
    parser.add_argument("--scenarios", nargs="*", default=None, help="names (default: all)")
    parser.add_argument("--no-oracle", action="store_true", help="skip the oracle reference runs")
    args = parser.parse_args(argv)
    names = args.scenarios or scenario_names()
    params = ControllerParams()
    rows = []
    for name in tqdm(names, desc="scenarios", unit="run"):
        scenario = find_scenario(name)
        runs = [("controller", SimControllerAdapter(params, scenario, args.latency))]
        if not args.no_oracle:
            runs.append(("oracle", OracleController(scenario.limits)))
        for label, controller in runs:
            start = time.perf_counter()
            result = run_scenario(scenario, controller)
            m = result.metrics
            row = {
                "scenario": name,
                "controller": label,
                "success": result.success,
                "reasons": result.reasons,
                "wall_s": round(time.perf_counter() - start, 2),
                **m.as_dict(),
            }
            if isinstance(controller, SimControllerAdapter):
                row["states"] = {s: controller.states.count(s) for s in sorted(set(controller.states))}
                row["slowing_s"] = round(controller.slowing_s, 2)
                first = controller.first_slowing
                row["slowing_reaction_s"] = (
                    None
                    if first is None or m.first_visible_s is None
                    else round(first - m.first_visible_s, 2)
                )
            rows.append(row)
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "parameters": {
            **asdict(params),
            "perception_latency_s": args.latency,
            "perception": "ground truth of visible objects",
        },
        "runs": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    def fmt(value: object, digits: int = 2) -> str:
        if value is None:
            return "–"
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    print(
        "| scenario | controller | success | collided | min gap m | reaction s | false braking s "
        "| braking s | slowing s | mean speed m/s | progress m |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['scenario']} | {r['controller']} | {'yes' if r['success'] else 'NO'} | "
            f"{'YES' if r['collided'] else 'no'} | {fmt(r['min_gap_m'])} | {fmt(r['reaction_time_s'])} | "
            f"{fmt(r['false_braking_s'])} | {fmt(r['braking_s'])} | {fmt(r.get('slowing_s'))} | "
            f"{fmt(r['mean_speed'])} | "
            f"{fmt(r['progress_m'], 1)} |"
        )
    failed = [
        f"{r['scenario']}: {'; '.join(r['reasons'])}"
        for r in rows
        if r["controller"] == "controller" and not r["success"]
    ]
    if failed:
        print("\ncontroller failures:\n- " + "\n- ".join(failed))
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
