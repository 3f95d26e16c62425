"""`make demo` as a user runs it: their own scenario file, a simulator that dies, the exit code.

The exit code gates a user's CI: 0 passed, 1 failed, 2 could not run (tools/run_outcome.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge_rover.tools.demo import run_graph
from edge_rover.tools.run_outcome import COULD_NOT_RUN, node_failures, scenario_outcome

pytestmark = [pytest.mark.ros, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _demo(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["timeout", "-k", "10", str(int(timeout)), sys.executable, "-m", "edge_rover.tools.demo", *args],
        cwd=ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=timeout + 20,
    )  # fmt: skip


def test_a_users_own_scenario_file_runs_and_its_exit_code_is_the_verdict(tmp_path: Path) -> None:
    scenario = yaml.safe_load((ROOT / "config" / "scenarios" / "clear_road.yaml").read_text())
    scenario["name"], scenario["duration_s"] = "my_road", 6.0
    path = tmp_path / "scenarios" / "my_road.yaml"  # outside the package: only the demo knows it
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(scenario))
    result = _demo("--scenario", str(path), "--out", str(tmp_path / "runs"))
    metrics = json.loads((tmp_path / "runs" / "my_road" / "metrics.json").read_text())
    assert result.returncode == (0 if metrics["success"] else 1), result.stdout + result.stderr
    assert f"my_road: {'PASSED' if metrics['success'] else 'FAILED'}" in result.stdout
    assert "{" not in result.stdout  # a summary for people, no raw dictionaries
    assert " m/s" in result.stdout and " ms" in result.stdout


def test_lock_step_makes_the_simulator_wait_for_each_frames_detections(tmp_path: Path) -> None:
    """``--lock-step`` (``make demo LOCK_STEP=1``) reaches the simulator: a CPU too slow for real
    time then slows the run down instead of starving the controller's watchdog."""
    scenario = yaml.safe_load((ROOT / "config" / "scenarios" / "clear_road.yaml").read_text())
    scenario["name"], scenario["duration_s"] = "my_locked_road", 4.0
    path = tmp_path / "my_locked_road.yaml"
    path.write_text(yaml.safe_dump(scenario))
    result = _demo("--scenario", str(path), "--out", str(tmp_path / "runs"), "--lock-step")
    log = (tmp_path / "runs" / "my_locked_road" / "launch.log").read_text(errors="replace")
    assert "lock_step True" in log, result.stdout + result.stderr + log[-2000:]
    assert (tmp_path / "runs" / "my_locked_road" / "metrics.json").is_file()


def test_a_missing_scenario_file_could_not_run() -> None:
    result = _demo("--scenario", "/nonexistent/my.yaml", timeout=60)
    assert result.returncode == COULD_NOT_RUN
    assert "scenario file not found: /nonexistent/my.yaml" in result.stderr


def test_a_simulator_that_dies_at_start_is_reported_with_its_message(tmp_path: Path) -> None:
    """The installed simulator cannot read the scenario: the run could not run, and says why."""
    launch = ["sim.launch.py", f"scenario:={tmp_path / 'gone.yaml'}", "end_action:=shutdown"]
    rc = run_graph(launch, tmp_path / "run", 5.0, int(os.environ["ROS_DOMAIN_ID"]), progress=False)
    failures = node_failures((tmp_path / "run" / "launch.log").read_text())
    outcome = scenario_outcome(None, failures, rc)
    assert outcome.exit_code == COULD_NOT_RUN
    assert [f.node for f in failures] == ["sim"]
    assert "scenario file not found" in outcome.reasons[0]
