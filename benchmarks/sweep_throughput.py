"""Sweep throughput: simulated scenario-seconds per wall second, 1 vs 2 local Ray workers.

The same seeds of the default distribution (``config/sweep_distribution.yaml``) go through
``python -m edge_rover.simulation.sweep`` (real INT8 detector, mapper, controller; one Ray task per
seed) once with ``--workers 1`` and once with ``--workers 2``, each into a fresh folder. Reported per
case: wall time of the task phase (Ray already up; the first task of each worker loads the model),
simulated seconds of the runs (DISCARDED seeds simulate nothing: the oracle check only), their
ratio, and the load average before and after — the CPU is shared, so the absolute figures swing;
the ratio between the two cases is the figure to read. The issue's target: ≥ 2 sim-s per wall-s.

    python -m benchmarks.sweep_throughput [--seeds 6] [--workers 1 2]

Writes benchmarks/results/sweep_throughput.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from edge_rover.simulation import sweep

RESULTS = Path(__file__).resolve().parent / "results" / "sweep_throughput.json"


def run_case(workers: int, seeds: int, first_seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="sweep_bench_") as tmp:
        out = Path(tmp) / "sweep"
        load_before = os.getloadavg()
        start = time.perf_counter()
        code = sweep.main(
            [
                "--runs", str(seeds), "--first-seed", str(first_seed), "--out", str(out),
                "--workers", str(workers), "--no-report",
            ]
        )  # fmt: skip
        total = time.perf_counter() - start
        summary = json.loads((out / "summary.json").read_text())
    this = summary["this_invocation"]
    return {
        "workers": workers,
        "exit_code": code,
        "seeds": seeds,
        "runs": summary["runs"],
        "discarded": summary["discarded"],
        "errors": summary["errors"],
        "sim_s": this["sim_s"],
        "task_phase_wall_s": this["wall_s"],
        "total_wall_s": round(total, 1),  # + Ray start/stop, summary
        "sim_s_per_wall_s": this["sim_s_per_wall_s"],
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    cases = [run_case(w, args.seeds, args.first_seed) for w in args.workers]
    base = cases[0]["sim_s_per_wall_s"]
    for case in cases:
        rate = case["sim_s_per_wall_s"]
        case["speedup_vs_first"] = round(rate / base, 2) if base and rate else None
    report = {
        "benchmark": "sweep_throughput",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": "2 cores shared with other jobs: see the load averages",
        },
        "parameters": {
            "distribution": "config/sweep_distribution.yaml",
            "seeds": f"{args.first_seed}..{args.first_seed + args.seeds - 1}",
            "detector_threads_per_task": 1,
            "engine": sweep.ray_version(),
        },
        "cases": cases,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(
        "| workers | runs (discarded) | sim s | task-phase wall s | sim s / wall s | vs 1 worker "
        "| load before → after |"
    )
    print("|---|---|---|---|---|---|---|")
    for c in cases:
        print(
            f"| {c['workers']} | {c['runs']} ({c['discarded']}) | {c['sim_s']} | {c['task_phase_wall_s']} "
            f"| {c['sim_s_per_wall_s']} | {c['speedup_vs_first']} "
            f"| {c['load_average_before'][0]} → {c['load_average_after'][0]} |"
        )
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
