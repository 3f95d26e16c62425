"""The demo's verdict and exit code from a launch log and the simulator's metrics (pure)."""

from __future__ import annotations

from edge_rover.tools.run_outcome import (
    COULD_NOT_RUN,
    FAILED,
    PASSED,
    combined_exit_code,
    node_failures,
    replay_outcome,
    scenario_outcome,
)

# Lines as ros2 launch writes them (copied from a real run; nodes run with emulate_tty colours).
SIM_DIED_AT_START = """\
[INFO] [sim-1]: process started with pid [8406]
[INFO] [detector-2]: process started with pid [8408]
[sim-1] sim: scenario file not found: /tmp/nope.yaml
[controller-4] \x1b[0m[INFO] [1796558019.891479886] [controller]: controller at 50 Hz\x1b[0m
[ERROR] [sim-1]: process has died [pid 8406, exit code 1, cmd '/venv/lib/edge_rover/sim --ros-args'].
[INFO] [controller-4]: sending signal 'SIGINT' to process[controller-4]
[INFO] [detector-2]: sending signal 'SIGINT' to process[detector-2]
[ERROR] [detector-2]: process has died [pid 8408, exit code -2, cmd '/venv/lib/edge_rover/detector'].
"""

DETECTOR_DIED_MID_RUN = """\
[INFO] [detector-2]: process started with pid [100]
[detector-2] \x1b[31m[ERROR] [1.0] [detector]: model file not readable: /x.onnx\x1b[0m
[ERROR] [detector-2]: process has died [pid 100, exit code 1, cmd 'detector'].
[INFO] [detector-2]: process started with pid [101]
[INFO] [sim-1]: process has finished cleanly [pid 99]
[INFO] [detector-2]: sending signal 'SIGINT' to process[detector-2]
"""

PASSING_METRICS = {"scenario": "x", "success": True, "reasons": []}


def test_a_simulator_that_dies_at_start_could_not_run_and_says_why() -> None:
    failures = node_failures(SIM_DIED_AT_START)
    assert [(f.node, f.exit_code) for f in failures] == [("sim", 1)]  # the detector's -2 is the shutdown's
    assert "scenario file not found: /tmp/nope.yaml" in failures[0].message
    outcome = scenario_outcome(None, failures, 0)
    assert outcome.exit_code == COULD_NOT_RUN
    assert "scenario file not found" in outcome.reasons[0]


def test_a_pipeline_node_that_died_fails_the_run_even_if_the_scenario_passed() -> None:
    failures = node_failures(DETECTOR_DIED_MID_RUN)
    assert [f.node for f in failures] == ["detector"]
    assert "model file not readable" in failures[0].message and "\x1b" not in failures[0].message
    outcome = scenario_outcome(PASSING_METRICS, failures, 0)
    assert outcome.exit_code == FAILED and "detector died (exit code 1)" in outcome.reasons[0]


def test_verdicts_follow_the_metrics_and_the_launch() -> None:
    assert scenario_outcome(PASSING_METRICS, [], 0).exit_code == PASSED
    failed = scenario_outcome({"success": False, "reasons": ["collided at 3.1 s"]}, [], 0)
    assert (failed.exit_code, failed.reasons) == (FAILED, ("collided at 3.1 s",))
    assert scenario_outcome(None, [], 0).exit_code == COULD_NOT_RUN  # no metrics: never "passed"
    assert scenario_outcome(PASSING_METRICS, [], 124).exit_code == COULD_NOT_RUN  # timed out
    assert replay_outcome([], 0).exit_code == PASSED
    assert replay_outcome(node_failures(DETECTOR_DIED_MID_RUN), 0).exit_code == FAILED


def test_a_batch_returns_its_worst_run() -> None:
    assert combined_exit_code([PASSED, PASSED]) == PASSED
    assert combined_exit_code([PASSED, FAILED]) == FAILED
    assert combined_exit_code([FAILED, COULD_NOT_RUN, PASSED]) == COULD_NOT_RUN
    assert combined_exit_code([]) == COULD_NOT_RUN
