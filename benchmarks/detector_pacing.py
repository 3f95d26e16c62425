"""The detector alone, back to back vs paced at the camera's rate: how much of its in-graph time is
the graph and how much is the pause between frames.

In the end-to-end graph the detector runs one frame every 33 ms and idles between them; a latency
benchmark calls it back to back. Same process, same model and frames, blocks of 60 frames
alternating (back to back, paced, back to back, ...), so a change in the host's speed hits both.

    python -m benchmarks.detector_pacing [--model models/edge_rover_yolov8n_coco_int8.onnx] [--blocks 6]

Writes benchmarks/results/detector_pacing.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.detector import IMAGES, SHARED, _frames
from benchmarks.machine import load_average, versions
from edge_rover.perception.detection.detector import Detector, DetectorConfig

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "detector_pacing.json"
BLOCK = 60
WARMUP = 10  # first frames of the run: model warm-up, not pacing


def run_block(detector: Detector, frames: list[np.ndarray], period_s: float | None) -> list[float]:
    """Whole-``detect()`` times (ms) of one block; ``period_s`` None: back to back."""
    times, due = [], time.perf_counter()
    for i in range(BLOCK):
        if period_s is not None:
            due += period_s
            time.sleep(max(0.0, due - time.perf_counter()))
        start = time.perf_counter()
        detector.detect(frames[i % len(frames)])
        times.append((time.perf_counter() - start) * 1e3)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="models/edge_rover_yolov8n_coco_int8.onnx")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--blocks", type=int, default=6, help="blocks of 60 frames per mode (default 6)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not all((SHARED / "images" / n).is_file() for n in IMAGES):
        raise SystemExit(f"missing real pictures in {SHARED / 'images'} (see ../shared/data/README.md)")
    frames = _frames()  # the detector benchmark's 640x480 rover frames
    model = Path(args.model) if Path(args.model).is_absolute() else REPO / args.model
    detector = Detector(DetectorConfig(str(model), threads=args.threads), log=lambda _m: None)
    modes = {"back_to_back": None, f"paced_{args.fps:g}fps": 1.0 / args.fps}
    times: dict[str, list[float]] = {m: [] for m in modes}
    before = load_average()
    for _ in range(args.blocks):
        for mode, period in modes.items():
            times[mode] += run_block(detector, frames, period)
    rows = {
        mode: {f"p{q}_ms": round(float(np.percentile(v[WARMUP:], q)), 2) for q in (50, 90, 99)}
        for mode, v in times.items()
    }
    report = {
        "benchmark": "detector_pacing",
        "command": f"python -m benchmarks.detector_pacing --model {args.model} --blocks {args.blocks}",
        "backend": detector.backend_choice.backend,
        "threads": args.threads,
        "load_average_before": before,
        "load_average_after": load_average(),
        "versions": versions(),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print("| mode | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|")
    for mode, row in rows.items():
        print(f"| {mode} | {row['p50_ms']} | {row['p90_ms']} | {row['p99_ms']} |")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
