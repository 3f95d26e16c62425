"""Graph benchmark in the ros2_benchmark style: the real graph at fixed input rates, then the peak.

camera (a looped folder of frames) → detector → obstacle_mapper → controller, separate processes on
real DDS (benchmarks.e2e_latency.run_once). Each fixed rate (default 10, 30, 60 Hz) runs
``--repeats`` times; then the peak rate with < 5 % frame loss is bracketed by bisection between
the highest passing and the lowest failing fixed rate. Per run: capture stamp → /cmd_vel latency
p50/p99/max, latency spread (p99 − p50, our jitter figure), frame loss (published camera frames
that never led to a /cmd_vel), CPU % per node. The JSON names its input data by sha256.

    python -m benchmarks.graph_rates [--rates 10 30 60] [--repeats 5] [--seconds 10]

Differences from ros2_benchmark, stated: input is the camera node replaying a folder of PNGs (from
the page cache), not a rosbag held in a playback node's memory; jitter is the latency spread, not
the output inter-arrival deviation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.e2e_latency import make_frames, run_once
from benchmarks.machine import load_average, versions
from edge_rover.common.ros_domain import claim_domain_id

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "graph_rates.json"
MAX_LOSS = 0.05


def folder_sha256(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def frame_loss(result: dict) -> float:
    published = result["frames_published"]
    return 1.0 if published == 0 else 1.0 - result["frames_commanded"] / published


def summarize(rate: float, runs: list[dict]) -> dict:
    """One row: medians over the repeats (each run's own p50/p99/max), worst loss, mean CPU per node."""

    def median(key: str) -> float | None:
        values = [r["latency_ms"][key] for r in runs if r["latency_ms"][key] is not None]
        return round(float(np.median(values)), 1) if values else None

    losses = [frame_loss(r) for r in runs]
    nodes = runs[0]["cpu_percent_mean"].keys()
    cpu = {
        n: round(
            float(np.mean([r["cpu_percent_mean"][n] for r in runs if r["cpu_percent_mean"][n] is not None])),
            1,
        )
        for n in nodes
    }
    p50, p99 = median("p50"), median("p99")
    return {
        "rate_hz": rate,
        "repeats": len(runs),
        "latency_ms_p50": p50,
        "latency_ms_p99": p99,
        "latency_ms_max": median("max"),
        "spread_ms_p99_minus_p50": round(p99 - p50, 1) if p50 is not None and p99 is not None else None,
        "frame_loss_mean": round(float(np.mean(losses)), 4),
        "frame_loss_worst": round(float(np.max(losses)), 4),
        "passes": float(np.mean(losses)) < MAX_LOSS and not any("errors" in r for r in runs),
        "cpu_percent_mean": cpu,
        "errors": [r["errors"] for r in runs if "errors" in r],
    }


def run_rate(rate: float, repeats: int, seconds: float, frames: Path, size: tuple[int, int]) -> dict:
    runs = []
    for i in range(repeats):
        runs.append(run_once(rate, seconds, frames, size, None, "separate"))
        print(f"{rate:g} Hz run {i + 1}/{repeats}: loss {frame_loss(runs[-1]):.1%}", file=sys.stderr)
    return summarize(rate, runs)


def markdown(rows: list[dict]) -> str:
    lines = [
        "| rate Hz | repeats | p50 ms | p99 ms | max ms | p99−p50 ms | loss mean / worst | CPU % per node |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cpu = ", ".join(f"{k} {v}" for k, v in r["cpu_percent_mean"].items())
        lines.append(
            f"| {r['rate_hz']:g} | {r['repeats']} | {r['latency_ms_p50']} | {r['latency_ms_p99']} | "
            f"{r['latency_ms_max']} | {r['spread_ms_p99_minus_p50']} | "
            f"{r['frame_loss_mean']:.1%} / {r['frame_loss_worst']:.1%} | {cpu} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 30.0, 60.0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--peak-steps", type=int, default=2, help="bisection steps for the peak rate")
    parser.add_argument("--peak-repeats", type=int, default=2)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--frames", type=Path)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    domain, _lock = claim_domain_id()
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    size = tuple(int(v) for v in args.size.split("x"))
    frames = args.frames or make_frames(Path(tempfile.mkdtemp(prefix="graph_rates_frames_")), 150, *size)
    rows = [run_rate(rate, args.repeats, args.seconds, frames, size) for rate in sorted(args.rates)]
    passing = [r["rate_hz"] for r in rows if r["passes"]]
    failing = [r["rate_hz"] for r in rows if not r["passes"] and (not passing or r["rate_hz"] > max(passing))]
    low, high = (max(passing) if passing else 0.0), (min(failing) if failing else None)
    peak_rows = []
    for _ in range(args.peak_steps if high is not None else 0):
        mid = round((low + high) / 2, 1)
        row = run_rate(mid, args.peak_repeats, args.seconds, frames, size)
        peak_rows.append(row)
        low, high = (mid, high) if row["passes"] else (low, mid)
    report = {
        "benchmark": "graph_rates",
        "machine": {"cpus": os.cpu_count(), "load_average": load_average()},
        "versions": versions(),
        "parameters": {
            "rates": args.rates, "repeats": args.repeats, "seconds": args.seconds, "size": args.size,
            "frames": str(frames), "frames_sha256": folder_sha256(frames), "max_loss": MAX_LOSS,
        },
        "fixed_rates": rows,
        "peak_search": peak_rows,
        "peak_rate_hz": {"highest_passing": low, "lowest_failing": high},
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(rows + peak_rows))
    print(f"\npeak rate with < {MAX_LOSS:.0%} loss: >= {low:g} Hz, < {high} Hz; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
