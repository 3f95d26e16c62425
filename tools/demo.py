"""The main job (`make demo`): a closed-loop simulator scenario through the real node graph.

    make demo                               # pedestrian_crossing, closed loop
    make demo SCENARIO=cone_slalom          # another scenario (config/scenarios/*.yaml)
    make demo SCENARIO=all                  # the whole suite, runs in parallel, results table
    make demo SCENARIO=path/to/my.yaml      # your own scenario file
    make demo BAG=/path/to/rosbag2          # replay any bag (MCAP or sqlite3) through the graph
    make demo SCENARIO=all LOCK_STEP=1      # the simulator waits for each frame's detections

Exit code: 0 the scenario passed, 1 it failed (or a node died), 2 it could not run (the simulator
died, wrote no metrics or timed out); ``SCENARIO=all`` returns the worst of its runs.

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

from edge_rover.bags.reader import BagError, bag_info
from edge_rover.common.graph import RECORDED_TOPICS
from edge_rover.common.processes import stop_process_group
from edge_rover.common.ros_domain import claim_domain_id
from edge_rover.tools.report import make_report, print_summary
from edge_rover.tools.run_outcome import (
    COULD_NOT_RUN,
    combined_exit_code,
    node_failures,
    replay_outcome,
    scenario_outcome,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT = REPO_ROOT / "out" / "runs"
DEFAULT_SCENARIO = "pedestrian_crossing"


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            args, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )


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


def _user_domain() -> int:
    return int(os.environ.get("ROS_DOMAIN_ID", "0"))  # the user's domain, so RViz on it sees the run


def run_scenario(
    name_or_path: str,
    domain_id: int | None = None,
    progress: bool = True,
    out: Path = OUT,
    lock_step: bool = False,
) -> dict:
    """One scenario (a name from config/scenarios or a YAML path) through the graph; ``lock_step``:
    the simulator waits for each frame's detections (a CPU slower than real time then slows the
    run instead of starving the controller's watchdog)."""
    from edge_rover.simulation.scenarios import load_scenario, scenario_path

    # The simulator is handed the file's absolute path, so the installed node reads the very file
    # the demo found (a name resolved in the source tree need not exist in the package share).
    path = scenario_path(name_or_path).resolve()
    scenario = load_scenario(path)
    run_dir = out / path.stem
    metrics_path = run_dir / "metrics.json"
    metrics_path.unlink(missing_ok=True)
    launch_args = [
        "sim.launch.py",
        f"scenario:={path}",
        f"metrics_path:={metrics_path}",
        "end_action:=shutdown",
        f"frame_period:={scenario.step_s}",
        f"lock_step:={str(lock_step).lower()}",
    ]
    domain = _user_domain() if domain_id is None else domain_id
    rc = run_graph(launch_args, run_dir, scenario.duration_s, domain, progress)
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    failures = node_failures(_read_log(run_dir / "launch.log"))
    summary = finish(run_dir, metrics, rc)
    summary["name"] = path.stem
    summary["outcome"] = scenario_outcome(metrics, failures, rc)
    return summary


def _world_of(info) -> list[str]:
    """A bag the simulator recorded (it has /sim/ground_truth) replays with the simulator's model;
    any other bag is real footage and keeps replay.launch.py's default, the real-world model."""
    if "/sim/ground_truth" not in info.topics:
        return []
    from edge_rover.perception.detection.model_card import DOMAIN_MODELS

    return [f"model:={DOMAIN_MODELS['sim']}", "source_domain:=sim"]


def run_bag(bag: Path, out: Path = OUT) -> dict:
    info = bag_info(bag)
    run_dir = out / f"replay_{info.path.name}"
    rc = run_graph(["replay.launch.py", f"bag:={info.path}", "wait_for_subscribers:=1", *_world_of(info)],
                   run_dir, info.duration_s, _user_domain(), True)  # fmt: skip
    summary = finish(run_dir, {"source_bag": str(info.path)}, rc)
    summary.pop("scenario", None)  # a bag has no scenario metrics
    summary["name"] = f"replay of {info.path.name}"
    summary["outcome"] = replay_outcome(node_failures(_read_log(run_dir / "launch.log")), rc)
    return summary


def _read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def finish(run_dir: Path, metrics: dict | None, rc: int) -> dict:
    try:
        summary = make_report(run_dir / "bag", run_dir / "report", metrics)
    except BagError as exc:  # nothing was recorded (the graph died at start): no report to make
        summary = {"report_error": str(exc)}
        if metrics:
            summary["scenario"] = metrics
        summary["exit_code"] = rc
        summary["log"] = str(run_dir / "launch.log")
        return summary
    summary["exit_code"] = rc
    summary["log"] = str(run_dir / "launch.log")
    try:
        from edge_rover.tools.report import load_run
        from edge_rover.tools.rerun_export import export

        export(
            load_run(run_dir / "bag", max_frames=100_000, frame_stride=1, grid_stride=1), run_dir / "run.rrd"
        )
        summary["rerun"] = str(run_dir / "run.rrd")
    except (ImportError, SystemExit):
        pass  # rerun-sdk is an optional extra
    summary["report"] = str(run_dir / "report" / "index.html")
    return summary


def print_run(summary: dict) -> None:
    """One screen for a person: the verdict first, then the figures with units, then the files."""
    outcome = summary["outcome"]
    print(f"\n{summary['name']}: {outcome.word}")
    for reason in outcome.reasons:
        print(f"  why          {reason}")
    if "report_error" not in summary:
        print_summary(summary)
    else:
        print(f"  report       none: {summary['report_error']}")
    print(f"  log          {summary['log']}")
    if "report" in summary:
        print(f"  report       {summary['report']}")
    if "rerun" in summary:
        print(f"  rerun        rerun {summary['rerun']}")


def _cell(value: object, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def run_all(parallel: int, out: Path = OUT, lock_step: bool = False) -> int:
    from edge_rover.simulation.scenarios import scenario_names

    names = scenario_names()
    print(f"demo: running {len(names)} scenarios, {parallel} at a time")
    claims = [claim_domain_id() for _ in names]  # one private DDS domain per run
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {
            name: pool.submit(run_scenario, name, domain, False, out, lock_step)
            for name, (domain, _) in zip(names, claims, strict=True)
        }
        results = {name: f.result() for name, f in futures.items()}
    for _, handle in claims:
        handle.close()
    print(
        "\n| scenario | verdict | collided | min gap (m) | first brake (s) | braking (s) "
        "| mean speed (m/s) | p99 latency (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, summary in results.items():
        m = summary.get("scenario") or {}
        cells = [summary["outcome"].word, m.get("collided"), m.get("min_gap_m"), m.get("first_brake_s"),
                 m.get("braking_s"), m.get("mean_speed"), summary.get("latency_p99_ms")]  # fmt: skip
        print(f"| {name} | " + " | ".join(_cell(c) for c in cells) + " |")
    for name, summary in results.items():
        for reason in summary["outcome"].reasons:
            print(f"{name}: {reason}")
    print(f"\nreports: {out}/<scenario>/report/index.html")
    return combined_exit_code([r["outcome"].exit_code for r in results.values()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bag", type=Path, help="replay this rosbag2 instead of running the simulator")
    parser.add_argument("--scenario", default=os.environ.get("SCENARIO") or DEFAULT_SCENARIO,
                        help="scenario name, a YAML path, or 'all'")  # fmt: skip
    parser.add_argument("--parallel", type=int, default=2, help="scenarios at a time with --scenario all")
    parser.add_argument("--out", type=Path, default=OUT, help="runs are written to OUT/<name>/")
    parser.add_argument("--lock-step", action="store_true",
                        help="the sim waits for each frame's detections (slow CPUs)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.bag:
            summary = run_bag(args.bag, args.out)
        elif args.scenario == "all":
            return run_all(args.parallel, args.out, args.lock_step)
        else:
            summary = run_scenario(args.scenario, out=args.out, lock_step=args.lock_step)
    except (BagError, ValueError) as exc:  # ScenarioError is a ValueError
        print(f"demo: could not run: {exc}", file=sys.stderr)
        return COULD_NOT_RUN
    print_run(summary)
    return summary["outcome"].exit_code


if __name__ == "__main__":
    raise SystemExit(main())
