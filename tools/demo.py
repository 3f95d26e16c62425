"""The main job (`make demo`): a closed-loop simulator scenario through the real node graph.

    make demo                               # pedestrian_crossing, closed loop
    make demo SCENARIO=cone_slalom          # another scenario (config/scenarios/*.yaml)
    make demo SCENARIO=all                  # the whole suite, runs in parallel, results table
    make demo BAG=/path/to/rosbag2          # replay any bag (MCAP or sqlite3) through the graph

Each run: sim (or bag_replay) + detector + obstacle_mapper + controller as separate processes on
real DDS, recorded to MCAP by bag_recorder; then a report (HTML + PNG plots + annotated GIF +
bird's-eye plot), a Rerun recording when rerun-sdk is installed, and a one-screen summary.
Everything lands in out/runs/<name>/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from bags.reader import BagError, bag_info
from common.graph import RECORDED_TOPICS
from common.processes import stop_process_group
from common.ros_domain import claim_domain_id
from tools.report import make_report, print_summary

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "out" / "runs"
DEFAULT_SCENARIO = "pedestrian_crossing"


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def run_graph(
    launch_args: list[str], run_dir: Path, expected_s: float, domain_id: int, progress: bool
) -> int:
    """Start the recorder, then the launch file; wait for it to end (with a progress bar)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id)}
    recorder = _start(
        ["ros2", "run", "edge_rover", "bag_recorder", "--ros-args", "-p", f"output:={run_dir / 'bag'}",
         "-p", f"topics:={','.join(RECORDED_TOPICS)}", "-p", "overwrite:=true"],
        env, run_dir / "recorder.log",
    )  # fmt: skip
    time.sleep(1.0)
    timeout_s = int(expected_s * 3 + 60)
    launch_cmd = ["timeout", "-k", "10", str(timeout_s), "ros2", "launch", "edge_rover", *launch_args]
    launch = _start(launch_cmd, env, run_dir / "launch.log")
    try:
        bar = tqdm(total=round(expected_s), desc=run_dir.name, unit="s", disable=not progress, leave=False)
        start = time.monotonic()
        while launch.poll() is None:
            time.sleep(0.5)
            bar.update(min(round(time.monotonic() - start), bar.total) - bar.n)
        bar.close()
    finally:
        stop_process_group(launch, grace_s=15.0)
        time.sleep(0.5)
        stop_process_group(recorder, grace_s=15.0)
    return launch.returncode


def scenario_duration(name: str) -> float:
    from simulation.scenarios import find_scenario

    return find_scenario(name).duration_s


def _user_domain() -> int:
    return int(os.environ.get("ROS_DOMAIN_ID", "0"))  # the user's domain, so RViz on it sees the run


def run_scenario(name: str, domain_id: int | None = None, progress: bool = True) -> dict:
    run_dir = OUT / name
    metrics_path = run_dir / "metrics.json"
    metrics_path.unlink(missing_ok=True)
    rc = run_graph(
        ["sim.launch.py", f"scenario:={name}", f"metrics_path:={metrics_path}", "end_action:=shutdown"],
        run_dir, scenario_duration(name), _user_domain() if domain_id is None else domain_id, progress,
    )  # fmt: skip
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    if metrics is None:
        print(
            f"demo: {name}: the simulator wrote no metrics (exit {rc}); see {run_dir / 'launch.log'}",
            file=sys.stderr,
        )
    return finish(run_dir, metrics, rc)


def run_bag(bag: Path) -> dict:
    info = bag_info(bag)
    run_dir = OUT / f"replay_{info.path.name}"
    rc = run_graph(["replay.launch.py", f"bag:={info.path}", "wait_for_subscribers:=1"], run_dir,
                   info.duration_s, _user_domain(), True)  # fmt: skip
    return finish(run_dir, {"source_bag": str(info.path)}, rc)


def finish(run_dir: Path, metrics: dict | None, rc: int) -> dict:
    summary = make_report(run_dir / "bag", run_dir / "report", metrics)
    summary["exit_code"] = rc
    try:
        from tools.report import load_run
        from tools.rerun_export import export

        export(
            load_run(run_dir / "bag", max_frames=100_000, frame_stride=1, grid_stride=1), run_dir / "run.rrd"
        )
        summary["rerun"] = str(run_dir / "run.rrd")
    except (ImportError, SystemExit):
        pass  # rerun-sdk is an optional extra
    summary["report"] = str(run_dir / "report" / "index.html")
    return summary


def run_all(parallel: int) -> int:
    from simulation.scenarios import scenario_names

    names = scenario_names()
    print(f"demo: running {len(names)} scenarios, {parallel} at a time")
    claims = [claim_domain_id() for _ in names]  # one private DDS domain per run
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {
            name: pool.submit(run_scenario, name, domain, False)
            for name, (domain, _) in zip(names, claims, strict=True)
        }
        results = {name: f.result() for name, f in futures.items()}
    for _, handle in claims:
        handle.close()
    print("\n| scenario | success | collided | min gap m | first brake s | braking s | mean m/s | p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    failures = 0
    for name, summary in results.items():
        m = summary.get("scenario") or {}
        ok = m.get("success")
        failures += not ok
        cells = [ok, m.get("collided"), m.get("min_gap_m"), m.get("first_brake_s"), m.get("braking_s"),
                 m.get("mean_speed"), summary.get("latency_p99_ms")]  # fmt: skip
        print(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    print(f"\nreports: {OUT}/<scenario>/report/index.html")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bag", type=Path, help="replay this rosbag2 instead of running the simulator")
    parser.add_argument("--scenario", default=os.environ.get("SCENARIO") or DEFAULT_SCENARIO,
                        help="scenario name, a YAML path, or 'all'")  # fmt: skip
    parser.add_argument("--parallel", type=int, default=2, help="scenarios at a time with --scenario all")
    args = parser.parse_args(argv)
    try:
        if args.bag:
            summary = run_bag(args.bag)
        elif args.scenario == "all":
            return run_all(args.parallel)
        else:
            summary = run_scenario(args.scenario)
    except (BagError, ValueError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    print_summary(summary)
    print(f"\nreport: {summary['report']}")
    if "rerun" in summary:
        print(f"rerun:  rerun {summary['rerun']}")
    return 0 if summary["exit_code"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
