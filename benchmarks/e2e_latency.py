"""End-to-end latency: image capture stamp → the /cmd_vel it caused, through the real graph.

camera (folder of frames, looped) → detector → obstacle_mapper → controller (TwistStamped, stamp
= capture stamp of the newest frame used), each a separate process on real DDS. A probe node
records, per capture stamp, when its first /cmd_vel arrived and when each stage's message for it
arrived (camera_info, detections, obstacles: where the latency goes), and counts the frames each
stage saw; psutil samples CPU% and RSS per node.

    python -m benchmarks.e2e_latency [--fps 15 30] [--seconds 30] [--size 640x480] [--frames DIR|real]

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

from dev.real_model import SHARED
from edge_rover.common.graph import CAMERA_INFO, CMD_VEL, DETECTIONS, DIAGNOSTICS, OBSTACLES, resolve
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


def make_real_frames(folder: Path, width: int, height: int, data: Path = SHARED) -> Path:
    """The real pictures of ../shared/data (photos + coco8) as camera frames: centre-cropped to the
    frame's aspect ratio and resized, so nothing is squashed (the camera would not squash either)."""
    pictures = sorted((data / "images").glob("*.jpg")) + sorted((data / "coco8" / "images").glob("*/*.jpg"))
    if not pictures:
        raise SystemExit(f"--frames real: no pictures under {data}/images or {data}/coco8/images")
    folder.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(pictures):
        image = cv2.imread(str(path))
        if image is None:
            raise SystemExit(f"--frames real: {path} is not a readable image")
        h, w = image.shape[:2]
        crop_w, crop_h = min(w, round(h * width / height)), min(h, round(w * height / width))
        x0, y0 = (w - crop_w) // 2, (h - crop_h) // 2
        frame = cv2.resize(
            image[y0 : y0 + crop_h, x0 : x0 + crop_w], (width, height), interpolation=cv2.INTER_AREA
        )
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    return folder


def start_node(
    name: str, params: dict[str, str], log_dir: Path, prefix: list[str] | None = None
) -> subprocess.Popen:
    """``ros2 run`` of one node; ``prefix`` goes before it (``chrt -f 10``: every thread inherits)."""
    args = [*(prefix or []), "ros2", "run", "edge_rover", name, "--ros-args"]
    config = REPO_ROOT / "config" / f"{name}.yaml"
    if config.is_file():
        args += ["--params-file", str(config)]
    for key, value in params.items():
        args += ["-p", f"{key}:={value}"]
    log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def probe(seconds: float, warmup: float, procs: dict[str, subprocess.Popen]) -> dict:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import TwistStamped
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.subscription import Subscription
    from sensor_msgs.msg import CameraInfo
    from vision_msgs.msg import Detection2DArray, Detection3DArray

    from edge_rover.common.msgs.diagnostics import diagnostics_from_msg
    from edge_rover.common.msgs.stamps import stamp_to_sec
    from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS

    rclpy.init()
    node = rclpy.create_node("e2e_probe")
    # per stage, capture stamp → when the probe first got that frame's message (where the latency
    # goes); its keys are also the frames each stage saw
    arrived: dict[str, dict[float, float]] = {"camera": {}, "detector": {}, "obstacle_mapper": {}}
    first_cmd: dict[float, float] = {}
    measuring = {"on": False}

    # Arrival = when DDS handed the sample to the probe's reader (MessageInfo received_timestamp,
    # system clock like the stamps), not when this Python loop got round to it: the probe's own
    # pauses (the 1 Hz psutil sample) would otherwise land on the figure it measures. rclpy
    # before Iron (Humble) passes no MessageInfo: the callback's clock is used there.
    with_info = hasattr(Subscription, "CallbackType")
    probe_backlog: list[float] = []  # callback time - DDS receive time, per command (s)

    def arrival(info: dict | None) -> float:
        received = (info or {}).get("received_timestamp") or 0
        return received / 1e9 if received else node.get_clock().now().nanoseconds / 1e9

    def taking_info(callback):
        return callback if with_info else lambda msg: callback(msg, None)

    def mark(stage: str):
        def callback(msg, info) -> None:
            if measuring["on"]:
                arrived[stage].setdefault(round(stamp_to_sec(msg.header.stamp), 6), arrival(info))

        return taking_info(callback)

    def cmd_callback(msg: TwistStamped, info) -> None:
        stamp = round(stamp_to_sec(msg.header.stamp), 6)
        if measuring["on"] and stamp > 0 and stamp not in first_cmd:
            first_cmd[stamp] = arrival(info)
            probe_backlog.append(node.get_clock().now().nanoseconds / 1e9 - first_cmd[stamp])

    on_cmd = taking_info(cmd_callback)

    # camera_info carries each frame's capture stamp too: taking the 0.9 MB image here would cost
    # the probe ~6 % of a core (15.8 vs 10-11 %, measured) on the same 2 cores as the graph it measures
    node.create_subscription(CameraInfo, resolve(CAMERA_INFO), mark("camera"), SENSOR_QOS)
    node.create_subscription(Detection2DArray, resolve(DETECTIONS), mark("detector"), SENSOR_QOS)
    node.create_subscription(Detection3DArray, resolve(OBSTACLES), mark("obstacle_mapper"), SENSOR_QOS)
    node.create_subscription(TwistStamped, resolve(CMD_VEL), on_cmd, RELIABLE_QOS)
    # the detector's own view of its last 300 frames (image → detections, in the node): tells a
    # slow model from frames that waited
    detector_timing: dict[str, str] = {}

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in diagnostics_from_msg(msg):
            if measuring["on"] and "processing_ms_p99" in status.values:
                detector_timing.update({k: v for k, v in status.values.items() if k.endswith("_ms_p50")
                                        or k.endswith("_ms_p99") or k.endswith("_ms_max")})  # fmt: skip

    node.create_subscription(DiagnosticArray, resolve(DIAGNOSTICS), on_diagnostics, RELIABLE_QOS)
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
    probe_cpu_start = probe_wall_start = 0.0
    next_sample = start + warmup
    while time.monotonic() - start < warmup + seconds:
        executor.spin_once(timeout_sec=0.01)
        if not measuring["on"] and time.monotonic() - start >= warmup:
            measuring["on"] = True
            probe_cpu_start, probe_wall_start = time.process_time(), time.monotonic()
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
    probe_cpu = (time.process_time() - probe_cpu_start) / (time.monotonic() - probe_wall_start) * 100.0
    rclpy.try_shutdown()
    commanded = sorted(s for s in first_cmd if s in arrived["camera"])  # frames the probe saw leave
    ordered = [first_cmd[s] - s for s in commanded]
    latencies = np.array(sorted(ordered))
    third = max(1, len(ordered) // 3)
    return {
        "frames_published": len(arrived["camera"]),
        "frames_detected": len(arrived["detector"]),
        "frames_mapped": len(arrived["obstacle_mapper"]),
        "frames_commanded": len(latencies),
        "latency_ms": {
            "p50": round(float(np.percentile(latencies, 50)) * 1e3, 1) if len(latencies) else None,
            "p99": round(float(np.percentile(latencies, 99)) * 1e3, 1) if len(latencies) else None,
            "max": round(float(latencies.max()) * 1e3, 1) if len(latencies) else None,
            "first_third_p50": round(float(np.median(ordered[:third])) * 1e3, 1) if ordered else None,
            "last_third_p50": round(float(np.median(ordered[-third:])) * 1e3, 1) if ordered else None,
        },
        "stage_arrival_ms": {
            stage: _percentiles([t - s for s, t in times.items() if s in first_cmd])
            for stage, times in arrived.items()
        },
        "slowest_frames": slowest_frames(commanded, first_cmd, arrived),
        "arrival_clock": "dds_received_timestamp" if with_info else "probe_callback",
        "probe_backlog_ms": _percentiles(probe_backlog),
        "detector_diagnostics_ms": {k: float(v) for k, v in detector_timing.items()},
        "cpu_percent_mean": {n: round(float(np.mean(v)), 1) if v else None for n, v in cpu.items()},
        "probe_cpu_percent": round(probe_cpu, 1),
        "peak_rss_mb": {n: round(v, 1) for n, v in rss.items()},
        "rss_growth_percent": _growth(total_rss),
    }


def slowest_frames(
    commanded: list[float],
    first_cmd: dict[float, float],
    arrived: dict[str, dict[float, float]],
    count: int = 12,
) -> list[dict]:
    """The ``count`` slowest of the ``commanded`` frames (capture stamps, in order): when in the run
    (s after its first frame) and how long each stage took, so a tail that repeats every second
    (a 1 Hz timer somewhere) or comes in a burst shows itself."""
    if not commanded:
        return []
    worst = sorted(commanded, key=lambda s: first_cmd[s] - s, reverse=True)[:count]
    return [
        {
            "at_s": round(s - commanded[0], 3),
            "latency_ms": round((first_cmd[s] - s) * 1e3, 1),
            **{
                f"{stage}_ms": round((times[s] - s) * 1e3, 1)
                for stage, times in arrived.items()
                if s in times
            },
        }
        for s in sorted(worst)
    ]


def _percentiles(values_s: list[float]) -> dict[str, float | None]:
    """p50 / p99 in ms of capture stamp → arrival delays (s)."""
    if not values_s:
        return {"p50": None, "p99": None}
    values = np.asarray(values_s) * 1e3
    return {f"p{q}": round(float(np.percentile(values, q)), 1) for q in (50, 99)}


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
    settings: dict[str, dict] | None = None,
    prefixes: dict[str, list[str]] | None = None,
) -> dict:
    """One run of the graph; ``settings``: more parameters per node (``{"camera": {...}}``);
    ``prefixes``: a command line before a node's (``{"detector": ["chrt", "-f", "10"]}``)."""
    log_dir = Path(tempfile.mkdtemp(prefix="e2e_logs_"))
    overrides: dict[str, dict] = {
        "camera": {
            "source": str(frames),
            "fps": float(fps),
            "loop": True,
            "width": size[0],
            "height": size[1],
        },
        "detector": {"model_path": model} if model else {},
        "obstacle_mapper": {},
        "controller": {"cmd_vel_stamped": True, "decide_on_obstacles": mode != "timer_only"},
    }
    for node, values in (settings or {}).items():
        overrides[node].update(values)
    if mode == "composed":
        procs = {"composed": start_composed(overrides, log_dir)}
    else:
        as_text = {
            n: {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in o.items()}
            for n, o in overrides.items()
        }
        procs = {name: start_node(name, as_text[name], log_dir, (prefixes or {}).get(name)) for name in NODES}
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
          "p50 first→last third | p50 ms at camera/detector/mapper out | CPU% per process | "
          "peak RSS MB (sum) | RSS growth % |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = r["latency_ms"]
        cpu = "/".join(str(v) for v in r["cpu_percent_mean"].values())
        rss = sum(r["peak_rss_mb"].values())
        stages = "/".join(str(v["p50"]) for v in r["stage_arrival_ms"].values())
        print(
            f"| {r['mode']} | {r['fps']:.0f} | {r['frames_published']} | {r['frames_detected']} | "
            f"{r['frames_mapped']} | "
            f"{r['frames_commanded']} | {lat['p50']} | {lat['p99']} | {lat['max']} | "
            f"{lat['first_third_p50']}→{lat['last_third_p50']} | {stages} | {cpu} | {rss:.0f} | "
            f"{r['rss_growth_percent']} |"
        )


def summarize(folder: Path) -> None:
    """One table row per result JSON in ``folder`` (an interleaved A/B such as e2e_cache_ab.sh)."""
    print("| run | commanded / published | p50 ms | p99 ms | max ms | p99 ms at camera/detector/mapper out | "
          "detector in-node p50 / p99 ms | CPU% per process |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for path in sorted(folder.glob("*.json")):
        for r in json.loads(path.read_text())["results"]:
            lat, diag = r["latency_ms"], r.get("detector_diagnostics_ms", {})
            stages = "/".join(str(v["p99"]) for v in r.get("stage_arrival_ms", {}).values())
            cpu = "/".join(str(v) for v in r["cpu_percent_mean"].values())
            print(f"| {path.stem} | {r['frames_commanded']} / {r['frames_published']} | {lat['p50']} | "
                  f"{lat['p99']} | {lat['max']} | {stages} | {diag.get('processing_ms_p50')} / "
                  f"{diag.get('processing_ms_p99')} | {cpu} |")  # fmt: skip


def parse_setting(text: str) -> tuple[str, str, object]:
    """argparse type of ``--set``: 'controller.rate_hz=50.0' → ('controller', 'rate_hz', 50.0)."""
    target, sep, value = text.partition("=")
    node, dot, name = target.partition(".")
    if not (sep and dot and name) or node not in NODES:
        raise argparse.ArgumentTypeError(f"expected NODE.PARAM=VALUE with NODE one of {NODES}, got {text!r}")
    return node, name, yaml.safe_load(value)


SCHED_POLICIES = {"fifo": "-f", "rr": "-r"}


def parse_sched(text: str) -> tuple[str, list[str]]:
    """argparse type of ``--sched``: 'detector=fifo:10' → ('detector', ['chrt', '-f', '10'])."""
    node, sep, rest = text.partition("=")
    policy, colon, priority = rest.partition(":")
    if not (sep and colon) or node not in NODES or policy not in SCHED_POLICIES or not priority.isdigit():
        raise argparse.ArgumentTypeError(
            f"expected NODE=POLICY:PRIORITY with NODE one of {NODES}, POLICY one of "
            f"{sorted(SCHED_POLICIES)}, got {text!r}"
        )
    if not 1 <= int(priority) <= 99:
        raise argparse.ArgumentTypeError(f"--sched {text}: the priority must be 1-99")
    return node, ["chrt", SCHED_POLICIES[policy], priority]


def settings_by_node(settings: list[tuple[str, str, object]]) -> dict[str, dict]:
    by_node: dict[str, dict] = {}
    for node, name, value in settings:
        by_node.setdefault(node, {})[name] = value
    return by_node


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fps", type=float, nargs="+", default=[15.0, 30.0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--frames", help="folder of frames, or 'real': the real pictures of "
                        "../shared/data (default: rendered by the simulator)")  # fmt: skip
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
    parser.add_argument("--camera-cache-mb", type=int, default=None,
                        help="the camera's folder_cache_mb (0: decode every frame on every lap, "
                        "as before the cache; default: its config)")  # fmt: skip
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        type=parse_setting, help="one more node parameter, e.g. controller.rate_hz=50.0 "
                        "(repeatable; the value is read as YAML: write 50.0 for a float parameter, "
                        "ROS refuses an integer there and the node stops)")  # fmt: skip
    parser.add_argument("--sched", action="append", default=[], metavar="NODE=POLICY:PRIORITY",
                        type=parse_sched, help="run a node under a real-time policy, e.g. "
                        "detector=fifo:10 (chrt; needs CAP_SYS_NICE; repeatable)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--summarize", type=Path, metavar="DIR",
                        help="print a table of the result JSONs in DIR and exit (runs nothing)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.summarize:
        summarize(args.summarize)
        return 0
    # the two named options are --set shorthands (a --set of the same parameter wins)
    settings = settings_by_node(args.settings)
    if args.detector_threads:
        settings.setdefault("detector", {}).setdefault("threads", args.detector_threads)
    if args.camera_cache_mb is not None:
        settings.setdefault("camera", {}).setdefault("folder_cache_mb", args.camera_cache_mb)
    # A private DDS domain: other graphs on this machine (tests, demos) must not mix in.
    domain, _lock = claim_domain_id()
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    size = tuple(int(v) for v in args.size.split("x"))
    scratch = Path(tempfile.mkdtemp(prefix="e2e_frames_"))
    if args.frames == "real":
        frames = make_real_frames(scratch, *size)
    else:
        frames = Path(args.frames) if args.frames else make_frames(scratch, 150, *size)
    results = [
        run_once(fps, args.seconds, frames, size, args.model, mode, settings, dict(args.sched))
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
            "frames": args.frames or "simulator",
            "model": args.model or "config/detector.yaml",
            "detector_threads": args.detector_threads or "config/detector.yaml",
            "camera_folder_cache_mb": "config/camera.yaml"
            if args.camera_cache_mb is None
            else args.camera_cache_mb,
            "settings": settings_by_node(args.settings),
            "sched": {node: " ".join(prefix) for node, prefix in args.sched},
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print_table(results)
    print(f"\nwrote {args.out}")
    failures = [failure for r in results if (failure := run_failure(r))]
    for failure in failures:
        print(f"ERROR: {failure}", file=sys.stderr)
    return 1 if failures else 0


def run_failure(result: dict) -> str | None:
    """Why a run measured nothing worth a figure (a node died, no frame reached /cmd_vel), or None."""
    where = f"{result['mode']} at {result['fps']:g} FPS"
    if result.get("errors"):
        died = ", ".join(f"{n} (exit {code})" for n, code in result["errors"].items())
        return f"{where}: {died} stopped early; its log is in {result['logs']}"
    if not result["frames_commanded"]:
        return f"{where}: no frame reached /cmd_vel; the node logs are in {result['logs']}"
    return None


if __name__ == "__main__":
    raise SystemExit(main())
