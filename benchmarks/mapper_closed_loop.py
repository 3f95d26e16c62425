"""The obstacle mapper in the simulator's headless closed loop, on every scenario, fast.

Like ``benchmarks/control_closed_loop.py`` (the product controller on ground-truth obstacles) but
with perception in the loop: each step the simulator's visible-pixel boxes, jittered like a
detector's (``benchmarks/obstacle_map.py``: σ = 1 px per edge, 5 % misses), go through the obstacle
mapper's pipeline (projection → tracker → grid, node defaults, ``/odom`` from the simulated rover)
and its tracks and grid drive ``edge_rover.control.controller.step`` (with a 0.05 s perception latency); the
run is scored by the scenario's own success block. No detector, no DDS: seconds per scenario, so
mapper changes can be judged on closed-loop behaviour. The full graph is ``make demo``.

Alternatives in the same run: the mapper as shipped, and with boxes cut by the image's side
placed like whole ones (``ProjectionConfig.handle_side_cut=False``: the side-cut handling off).

    python -m benchmarks.mapper_closed_loop [--seeds 3] [--scenarios a b ...]

Writes benchmarks/results/mapper_closed_loop.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchmarks.control_closed_loop import SimControllerAdapter
from benchmarks.obstacle_map import Noise, detections_from_truth, make_core
from edge_rover.calibration.calibration_io import load_camera_info, load_extrinsics
from edge_rover.common.camera_model import CameraRig
from edge_rover.control.controller import Obstacle
from edge_rover.control.geometry import GridMap
from edge_rover.control.params import ControllerParams
from edge_rover.perception.mapping.ground_projection import ProjectionConfig
from edge_rover.perception.mapping.obstacle_mapper import OdomSample
from edge_rover.perception.mapping.obstacle_types import load_class_profiles
from edge_rover.simulation.closed_loop import Observation, run_scenario
from edge_rover.simulation.scenarios import Scenario, find_scenario, scenario_names
from edge_rover.simulation.stack_runner import obstacles_from_tracks

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "mapper_closed_loop.json"
VARIANTS = {
    "mapper": ProjectionConfig(),
    "side_cut_as_whole": ProjectionConfig(handle_side_cut=False),
}


class MapperControllerAdapter(SimControllerAdapter):
    """Simulator boxes → obstacle mapper core → controller, as a ``simulation.closed_loop`` controller."""

    def __init__(
        self,
        params: ControllerParams,
        scenario: Scenario,
        latency: float,
        seed: int,
        projection: ProjectionConfig,
    ) -> None:
        super().__init__(params, scenario, latency)
        rig = CameraRig(
            load_camera_info(str(ROOT / "config" / "camera_info.yaml")),
            load_extrinsics(str(ROOT / "config" / "extrinsics.yaml")),
        )
        self.core = make_core(load_class_profiles(ROOT / "config" / "classes.yaml"), rig, projection)
        grid = self.core.grid.config
        self.grid_origin = (-grid.behind, -grid.half_width, 0.0)
        self.image_size = (rig.intrinsics.width, rig.intrinsics.height)
        self.rng = np.random.default_rng(seed)

    def perceive(self, obs: Observation) -> tuple[tuple[Obstacle, ...], GridMap]:
        """This step's simulator boxes through the mapper pipeline: its tracks and its grid."""
        now = obs.time
        boxes = detections_from_truth(obs.truth, self.rng, Noise(), self.image_size)
        frame = self.core.process(
            boxes, stamp=now, now=now, odom=OdomSample(now, obs.rover.speed, obs.yaw_rate)
        )
        obstacles = obstacles_from_tracks(frame.tracks)
        grid = GridMap.from_occupancy(
            frame.grid,
            self.core.grid.config.resolution,
            self.grid_origin,
            self.params.grid_occupied_threshold,
            self.core.grid.config.rover_half_width,
        )
        return obstacles, grid


def run(name: str, variant: str, seed: int, latency: float) -> dict:
    scenario = find_scenario(name)
    adapter = MapperControllerAdapter(ControllerParams(), scenario, latency, seed, VARIANTS[variant])
    result = run_scenario(scenario, adapter)
    m = result.metrics
    return {
        "success": result.success,
        "reasons": result.reasons,
        "collided": m.collided,
        "min_gap_m": m.min_gap_m,
        "braking_s": m.braking_s,
        "false_braking_s": m.false_braking_s,
        "mean_speed": m.mean_speed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="box-noise seeds per scenario")
    parser.add_argument("--scenarios", nargs="*", default=None)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    names = args.scenarios or scenario_names()
    jobs = [(n, v, s) for n in names for v in VARIANTS for s in range(args.seeds)]
    runs: dict[str, dict[str, list[dict]]] = {}
    for name, variant, seed in tqdm(jobs, desc="closed loop", unit="run"):
        runs.setdefault(name, {}).setdefault(variant, []).append(run(name, variant, seed, args.latency))
    summary = {
        name: {
            variant: {
                "success_runs": sum(r["success"] for r in rs),
                "runs": len(rs),
                "collisions": sum(r["collided"] for r in rs),
                "median_braking_s": float(np.median([r["braking_s"] for r in rs])),
                "max_braking_s": float(np.max([r["braking_s"] for r in rs])),
                "min_gap_m": min((r["min_gap_m"] for r in rs if r["min_gap_m"] is not None), default=None),
                "failure_reasons": sorted({reason for r in rs for reason in r["reasons"]}),
            }
            for variant, rs in by_variant.items()
        }
        for name, by_variant in runs.items()
    }
    report = {
        "benchmark": "mapper_closed_loop",
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "versions": {"numpy": np.__version__},
        "parameters": {
            "seeds": args.seeds,
            "latency_s": args.latency,
            "boxes": "simulator visible-pixel boxes, 1 px edge noise, 5 % misses",
            "variants": {k: repr(v) for k, v in VARIANTS.items()},
        },
        "figures": summary,
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(summary))
    return 0


def markdown(summary: dict) -> str:
    lines = [
        "| scenario | mapper: success | braking s (median / max) | min gap m "
        "| side-cut boxes as whole (before): success | braking s | min gap m |",
        "|---|---|---|---|---|---|---|",
    ]

    def cells(v: dict) -> str:
        gap = "–" if v["min_gap_m"] is None or not np.isfinite(v["min_gap_m"]) else f"{v['min_gap_m']:.2f}"
        braking = f"{v['median_braking_s']:.2f} / {v['max_braking_s']:.2f}"
        return f"{v['success_runs']}/{v['runs']} | {braking} | {gap}"

    for name, by_variant in summary.items():
        lines.append(f"| {name} | {cells(by_variant['mapper'])} | {cells(by_variant['side_cut_as_whole'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
