"""The controller node in the simulator's closed loop through real DDS (separate processes, sim time).

For each scenario: ``sim`` (renders, publishes /clock, /odom, camera_info, the driver's
/cmd_vel_in and — ``obstacles_from_truth`` — /obstacles from the visible ground truth) and
``controller`` (use_sim_time, /cmd_vel back to the sim) run as processes; the sim scores the run
with the scenario's success block and writes its metrics. Perception is perfect here; the
detector and obstacle mapper replace ``obstacles_from_truth`` in ``launch/sim.launch.py``.

    python -m benchmarks.control_sim_graph [--scenarios a b ...] [--real-time-factor 1.0]

Writes benchmarks/results/control_sim_graph.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from tqdm import tqdm

from edge_rover.common.processes import stop_process_group
from edge_rover.simulation.scenarios import find_scenario, scenario_names

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results" / "control_sim_graph.json"
EXE = Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "lib" / "edge_rover"


def _start(args: list[str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def run_one(name: str, rtf: float, work: Path, timeout_s: float) -> dict:
    metrics = work / f"{name}.json"
    sim = _start(
        [
            str(EXE / "sim"), "--ros-args",
            "-p", f"scenario:={name}", "-p", "obstacles_from_truth:=true", "-p", "end_action:=shutdown",
            "-p", f"metrics_path:={metrics}", "-p", f"real_time_factor:={rtf}",
        ],
        work / f"{name}.sim.log",
    )  # fmt: skip
    controller = _start(
        [
            str(EXE / "controller"), "--ros-args",
            "--params-file", str(REPO_ROOT / "config" / "controller.yaml"),
            "-p", "use_sim_time:=true", "-p", "watch_detections:=false",
            # The watchdog counts in the simulator's frame periods (the launch files do the same).
            "-p", f"frame_period:={find_scenario(name).step_s}",
        ],
        work / f"{name}.controller.log",
    )  # fmt: skip
    try:
        sim.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass
    finally:
        stop_process_group(controller)
        stop_process_group(sim)
    if not metrics.is_file():
        return {"scenario": name, "success": False, "reasons": ["no metrics written (see logs)"]}
    data = json.loads(metrics.read_text())
    return {"scenario": name, **data}


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", nargs="*", default=None)
    parser.add_argument("--real-time-factor", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=120.0, help="wall seconds per scenario")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="control_sim_graph_"))
    rows = [
        run_one(n, args.real_time_factor, work, args.timeout)
        for n in tqdm(args.scenarios or scenario_names())
    ]
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "parameters": {"real_time_factor": args.real_time_factor, "perception": "sim obstacles_from_truth"},
        "logs": str(work),
        "runs": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    columns = [
        "scenario",
        "success",
        "collided",
        "min gap m",
        "false braking s",
        "braking s",
        "mean speed m/s",
    ]
    print("| " + " | ".join([*columns, "why not"]) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        m = r.get("metrics", {})
        cells = [
            _cell(m.get(k)) for k in ("collided", "min_gap_m", "false_braking_s", "braking_s", "mean_speed")
        ]
        ok = "yes" if r.get("success") else "NO"
        print(f"| {r['scenario']} | {ok} | " + " | ".join(cells) + f" | {'; '.join(r.get('reasons', []))} |")
    print(f"\nwrote {RESULTS} (logs in {work})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
