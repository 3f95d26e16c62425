"""Detector latency when it shares the CPU: OpenVINO CPU pinning on/off, 1 or 2 threads.

On the rover the detector is one process among several (camera, mapper, controller, bridge) on a
few cores. This runs the shipped model (our full path: letterbox, OpenVINO INT8 IR, decode, NMS)
on simulator frames at a camera's pace while ``--load-procs`` processes beside it burn the CPU in
bursts (busy ``--busy-ms``, idle ``--idle-ms``, like nodes woken by messages), and once on a
quiet machine. Each configuration runs in a fresh process (OpenVINO's thread pool is per
process), and they are interleaved over ``--rounds`` so drift in the background load hits them
alike.

    python benchmarks/detector_contention.py            # ~5 min on 2 cores

Writes benchmarks/results/detector_contention.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import load_average, versions  # noqa: E402  (after the sys.path line)
from edge_rover.common.processes import stop_process_groups  # noqa: E402
from edge_rover.perception.detection.backends import CPU_PINNING_ENV, cpu_pinning_from_env  # noqa: E402

SHIPPED = REPO / "models" / "edge_rover_yolov8n_int8.onnx"
BURN = (
    "import sys, time\n"
    "busy, idle, end = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])\n"
    "try:\n"
    "    while time.time() < end:\n"
    "        t = time.perf_counter()\n"
    "        while time.perf_counter() - t < busy:\n"
    "            pass\n"
    "        time.sleep(idle)\n"
    "except KeyboardInterrupt:\n"  # stop_process_groups' SIGINT: a quiet exit
    "    pass\n"
)


def _frames(count: int) -> list[np.ndarray]:
    from edge_rover.simulation.frames import scenario_frames

    return list(scenario_frames("clear_road", count, 640, 480))


def _start_load(procs: int, busy_ms: float, idle_ms: float, seconds: float) -> list[subprocess.Popen]:
    end = time.time() + seconds
    args = [str(busy_ms / 1e3), str(idle_ms / 1e3), str(end)]
    return [
        subprocess.Popen([sys.executable, "-c", BURN, *args], start_new_session=True) for _ in range(procs)
    ]


def measure_in_subprocess(pinning: bool, threads: int, frames: int, fps: float) -> list[float]:
    """Each configuration in a fresh process: OpenVINO's thread pool (and its pinning) is shared
    by every model a process compiles, so one process would measure the first set-up only."""
    env = {**os.environ, CPU_PINNING_ENV: "1" if pinning else "0"}
    command = [sys.executable, __file__, "--worker", str(threads), "--frames", str(frames), "--fps", str(fps)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(threads: int, frames: list[np.ndarray], fps: float) -> list[float]:
    """Per-frame latency (ms) of the detector with this thread count (pinning: the environment's)."""
    from edge_rover.perception.detection.detector import Detector, DetectorConfig

    detector = Detector(DetectorConfig(model_path=str(SHIPPED), threads=threads))
    if detector.backend_choice.backend != "openvino":
        raise SystemExit(f"needs the OpenVINO backend (openvino installed), got {detector.backend_choice}")
    assert detector.backend.cpu_pinning is cpu_pinning_from_env()
    times = []
    for frame in frames:
        started = time.perf_counter()
        detector.detect(frame)
        elapsed = time.perf_counter() - started
        times.append(elapsed * 1e3)
        time.sleep(max(0.0, 1.0 / fps - elapsed))
    return times


def _summary(times: list[float]) -> dict:
    values = np.asarray(times)
    return {
        "frames": int(values.size),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(float(values.max()), 2),
        "over_50ms": int((values > 50.0).sum()),
    }


def run(args: argparse.Namespace) -> dict:
    configs = [(pinning, threads) for threads in args.threads for pinning in (False, True)]
    seconds = args.frames / args.fps + 30.0  # one config's run plus model load, with margin
    collected: dict[tuple[int, bool, int], list[float]] = {}
    load_before = load_average()
    for round_index in range(args.rounds):
        for load_procs in (args.load_procs, 0):
            for pinning, threads in configs if round_index % 2 == 0 else configs[::-1]:
                load = _start_load(load_procs, args.busy_ms, args.idle_ms, seconds)
                try:
                    times = measure_in_subprocess(pinning, threads, args.frames, args.fps)
                finally:
                    stop_process_groups(load)
                collected.setdefault((load_procs, pinning, threads), []).extend(times)
                row = _summary(times)
                print(
                    f"round {round_index + 1}: load {load_procs} pinning {pinning} threads {threads}: "
                    f"p50 {row['p50_ms']} p99 {row['p99_ms']} max {row['max_ms']} ms",
                    file=sys.stderr,
                )

    def order(item: tuple) -> tuple:
        (load_procs, pinning, threads), _ = item
        return (-load_procs, -threads, pinning)

    rows = [
        {"load_procs": load_procs, "cpu_pinning": pinning, "threads": threads, **_summary(times)}
        for (load_procs, pinning, threads), times in sorted(collected.items(), key=order)
    ]
    return {
        "benchmark": "detector_contention",
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "versions": versions(),
        "parameters": {
            "model": SHIPPED.name,
            "frames": f"{args.frames} simulator frames (clear_road, 640x480) per config and round",
            "fps": args.fps,
            "rounds": args.rounds,
            "load": f"{args.load_procs} processes, busy {args.busy_ms} ms / idle {args.idle_ms} ms",
            "load_average_before": load_before,
            "load_average_after": load_average(),
        },
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        "| load processes | threads | CPU pinning | p50 ms | p99 ms | max ms | frames > 50 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['load_procs']} | {r['threads']} | {'on' if r['cpu_pinning'] else 'off'} "
            f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} "
            f"| {r['over_50ms']} / {r['frames']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=150, help="frames per config and round")
    parser.add_argument("--fps", type=float, default=10.0, help="camera pace (frames per second)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--load-procs", type=int, default=3, help="CPU-burning processes beside it")
    parser.add_argument("--busy-ms", type=float, default=30.0)
    parser.add_argument("--idle-ms", type=float, default=20.0)
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "detector_contention.json"
    )
    parser.add_argument("--worker", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:  # one configuration; pinning comes in the environment
        print(json.dumps(measure(args.worker, _frames(args.frames), args.fps)))
        return
    if args.frames < 10 or args.fps <= 0 or args.rounds < 1 or args.load_procs < 0 or min(args.threads) < 1:
        parser.error("need --frames >= 10, --fps > 0, --rounds >= 1, --load-procs >= 0, --threads >= 1")
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
