"""End-to-end latency: image capture stamp → the /cmd_vel it caused, through the real graph.

camera (folder of frames, looped) → detector → obstacle_mapper → controller (TwistStamped, stamp
= capture stamp of the newest frame used), each a separate process on real DDS. A probe node
records, per capture stamp, when its first /cmd_vel arrived, and counts the frames each stage
saw; psutil samples CPU% and RSS per node.

    python -m benchmarks.e2e_latency [--fps 15 30] [--seconds 30] [--size 640x480] [--frames DIR]

Writes benchmarks/results/e2e_latency.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import yaml

from edge_rover.common.graph import CAMERA_IMAGE, CMD_VEL, DETECTIONS, OBSTACLES, resolve
from edge_rover.common.processes import stop_process_groups
from edge_rover.common.ros_domain import claim_domain_id

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results" / "e2e_latency.json"
NODES = ["camera", "detector", "obstacle_mapper", "controller"]


def make_frames(folder: Path, count: int, width: int, height: int) -> Path:
    """Simulator frames of a pedestrian crossing when the simulator is available, else procedural."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        from edge_rover.simulation.frames import scenario_frames

        frames = scenario_frames("pedestrian_crossing", count, width, height)
    except ImportError:
        from edge_rover.tools.make_sample_bag import procedural_frame

        frames = (procedural_frame(i, width, height) for i in range(count))
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:05d}.png"), frame)
    return folder


def start_node(name: str, params: dict[str, str], log_dir: Path) -> subprocess.Popen:
    args = ["ros2", "run", "edge_rover", name, "--ros-args"]
    config = REPO_ROOT / "config" / f"{name}.yaml"
    if config.is_file():
        args += ["--params-file", str(config)]
    for key, value in params.items():
        args += ["-p", f"{key}:={value}"]
    log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def probe(seconds: float, warmup: float, procs: dict[str, subprocess.Popen]) -> dict:
    import rclpy
    from geometry_msgs.msg import TwistStamped
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray, Detection3DArray

    from edge_rover.common.msgs.stamps import stamp_to_sec
    from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS

    rclpy.init()
    node = rclpy.create_node("e2e_probe")
    seen: dict[str, set[float]] = {"camera": set(), "detector": set(), "obstacle_mapper": set()}
    first_cmd: dict[float, float] = {}
    measuring = {"on": False}

    def mark(stage: str):
        def callback(msg) -> None:
            if measuring["on"]:
                seen[stage].add(round(stamp_to_sec(msg.header.stamp), 6))

        return callback

    def on_cmd(msg: TwistStamped) -> None:
        stamp = round(stamp_to_sec(msg.header.stamp), 6)
        if measuring["on"] and stamp > 0 and stamp not in first_cmd:
            first_cmd[stamp] = node.get_clock().now().nanoseconds / 1e9

    node.create_subscription(Image, resolve(CAMERA_IMAGE), mark("camera"), SENSOR_QOS)
    node.create_subscription(Detection2DArray, resolve(DETECTIONS), mark("detector"), SENSOR_QOS)
    node.create_subscription(Detection3DArray, resolve(OBSTACLES), mark("obstacle_mapper"), SENSOR_QOS)
    node.create_subscription(TwistStamped, resolve(CMD_VEL), on_cmd, RELIABLE_QOS)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    roots = {name: psutil.Process(p.pid) for name, p in procs.items()}
    tracked: dict[int, psutil.Process] = {}  # cpu_percent needs the same object between calls

    def tree(name: str) -> list[psutil.Process]:
        procs_now = [roots[name], *roots[name].children(recursive=True)]
        return [tracked.setdefault(q.pid, q) for q in procs_now]

    cpu: dict[str, list[float]] = {n: [] for n in procs}
    rss: dict[str, float] = dict.fromkeys(procs, 0.0)
    total_rss: list[float] = []  # summed over all processes, one sample per second (soak check)
    start = time.monotonic()
    next_sample = start + warmup
    while time.monotonic() - start < warmup + seconds:
        executor.spin_once(timeout_sec=0.01)
        if not measuring["on"] and time.monotonic() - start >= warmup:
            measuring["on"] = True
            for name in roots:
                for q in tree(name):
                    q.cpu_percent(None)
            next_sample = time.monotonic() + 1.0
        if measuring["on"] and time.monotonic() >= next_sample:
            next_sample += 1.0
            sample = 0.0
            for name in roots:
                members = tree(name)
                cpu[name].append(sum(q.cpu_percent(None) for q in members))
                now_rss = sum(q.memory_info().rss for q in members) / 2**20
                rss[name] = max(rss[name], now_rss)
                sample += now_rss
            total_rss.append(sample)
    rclpy.try_shutdown()
    latencies = np.array(sorted(first_cmd[s] - s for s in first_cmd if s in seen["camera"]))
    ordered = [first_cmd[s] - s for s in sorted(first_cmd) if s in seen["camera"]]
    third = max(1, len(ordered) // 3)
    return {
        "frames_published": len(seen["camera"]),
        "frames_detected": len(seen["detector"]),
        "frames_mapped": len(seen["obstacle_mapper"]),
        "frames_commanded": len(latencies),
        "latency_ms": {
            "p50": round(float(np.percentile(latencies, 50)) * 1e3, 1) if len(latencies) else None,
            "p99": round(float(np.percentile(latencies, 99)) * 1e3, 1) if len(latencies) else None,
            "max": round(float(latencies.max()) * 1e3, 1) if len(latencies) else None,
            "first_third_p50": round(float(np.median(ordered[:third])) * 1e3, 1) if ordered else None,
            "last_third_p50": round(float(np.median(ordered[-third:])) * 1e3, 1) if ordered else None,
        },
        "cpu_percent_mean": {n: round(float(np.mean(v)), 1) if v else None for n, v in cpu.items()},
        "peak_rss_mb": {n: round(v, 1) for n, v in rss.items()},
        "rss_growth_percent": _growth(total_rss),
    }


def merged_params(overrides: dict[str, dict], path: Path) -> Path:
    """One params file with every node's config/<node>.yaml section plus the run's overrides."""
    merged: dict = {}
    for name in NODES:
        config = REPO_ROOT / "config" / f"{name}.yaml"
        section = yaml.safe_load(config.read_text()) if config.is_file() else {name: {"ros__parameters": {}}}
        merged.update(section)
        merged.setdefault(name, {"ros__parameters": {}})["ros__parameters"].update(overrides.get(name, {}))
    path.write_text(yaml.safe_dump(merged))
    return path


def start_composed(overrides: dict[str, dict], log_dir: Path) -> subprocess.Popen:
    params = merged_params(overrides, log_dir / "params.yaml")
    log = open(log_dir / "composed.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.composed_graph", "--params", str(params)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO_ROOT,
    )  # fmt: skip


def _growth(samples: list[float]) -> float | None:
    """RSS growth from the first to the last tenth of the run (after warm-up), in percent."""
    if len(samples) < 10:
        return None
    tenth = len(samples) // 10
    first, last = np.mean(samples[:tenth]), np.mean(samples[-tenth:])
    return round(float((last - first) / first * 100.0), 2)


def run_once(
    fps: float,
    seconds: float,
    frames: Path,
    size: tuple[int, int],
    model: str | None,
    mode: str,
    detector_params: dict[str, int] | None = None,
) -> dict:
    log_dir = Path(tempfile.mkdtemp(prefix="e2e_logs_"))
    overrides: dict[str, dict] = {
        "camera": {
            "source": str(frames),
            "fps": float(fps),
            "loop": True,
            "width": size[0],
            "height": size[1],
        },
        "detector": {**({"model_path": model} if model else {}), **(detector_params or {})},
        "obstacle_mapper": {},
        "controller": {"cmd_vel_stamped": True, "decide_on_obstacles": mode != "timer_only"},
    }
    if mode == "composed":
        procs = {"composed": start_composed(overrides, log_dir)}
    else:
        as_text = {
            n: {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in o.items()}
            for n, o in overrides.items()
        }
        procs = {name: start_node(name, as_text[name], log_dir) for name in NODES}
    try:
        result = probe(seconds, warmup=5.0, procs=procs)
    finally:
        stop_process_groups(list(procs.values()))
    dead = {n: p.returncode for n, p in procs.items() if p.returncode not in (0, -2, None)}
    result["fps"] = fps
    result["mode"] = mode
    result["logs"] = str(log_dir)
    if dead:
        result["errors"] = dead
    return result


def print_table(results: list[dict]) -> None:
    print("| mode | FPS | published | detected | mapped | commanded | p50 ms | p99 ms | max ms | "
          "p50 first→last third | CPU% per process | peak RSS MB (sum) | RSS growth % |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = r["latency_ms"]
        cpu = "/".join(str(v) for v in r["cpu_percent_mean"].values())
        rss = sum(r["peak_rss_mb"].values())
        print(
            f"| {r['mode']} | {r['fps']:.0f} | {r['frames_published']} | {r['frames_detected']} | "
            f"{r['frames_mapped']} | "
            f"{r['frames_commanded']} | {lat['p50']} | {lat['p99']} | {lat['max']} | "
            f"{lat['first_third_p50']}→{lat['last_third_p50']} | {cpu} | {rss:.0f} | "
            f"{r['rss_growth_percent']} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fps", type=float, nargs="+", default=[15.0, 30.0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--frames", type=Path, help="folder of frames (default: rendered by the simulator)")
    parser.add_argument("--model", help="detector model_path (default: the detector's config)")
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["separate", "composed"],
        choices=["separate", "composed", "timer_only"],
        help="timer_only: separate processes, the controller deciding on its 50 Hz timer only "
        "(decide_on_obstacles:=false), the behaviour before event-driven decisions",
    )
    parser.add_argument("--detector-threads", type=int, default=None,
                        help="the detector's inference threads (default: its config)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    detector_params = {"threads": args.detector_threads} if args.detector_threads else None
    # A private DDS domain: other graphs on this machine (tests, demos) must not mix in.
    domain, _lock = claim_domain_id()
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    size = tuple(int(v) for v in args.size.split("x"))
    frames = args.frames or make_frames(Path(tempfile.mkdtemp(prefix="e2e_frames_")), 150, *size)
    results = [
        run_once(fps, args.seconds, frames, size, args.model, mode, detector_params)
        for mode in args.modes
        for fps in args.fps
    ]
    report = {
        "benchmark": "e2e_latency",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        },
        "parameters": {
            "seconds": args.seconds,
            "size": args.size,
            "model": args.model or "config/detector.yaml",
            "detector_threads": args.detector_threads or "config/detector.yaml",
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print_table(results)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
