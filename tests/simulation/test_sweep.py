"""Sweeps on Ray: a 4-run sweep through a local Ray (seconds-scale scenarios), resume, retry, summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the sweep extra (requirements/sweep.txt) is not installed")

from edge_rover.simulation import sweep  # noqa: E402
from edge_rover.simulation.generator import DistributionError, generate, load_distribution  # noqa: E402
from edge_rover.simulation.scenarios import load_scenario  # noqa: E402
from edge_rover.simulation.stack_runner import make_detector, run_stack  # noqa: E402
from edge_rover.simulation.sweep_report import category, wilson  # noqa: E402

TINY = Path(__file__).parent / "data" / "sweep_tiny.yaml"


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (starting one costs ~10 s here); the sweep reuses it."""
    sweep.start_ray(None, workers=2, cluster_pip=False)
    yield
    ray.shutdown()


def test_four_run_sweep_then_resume(local_ray, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert sweep.main(["--runs", "4", "--out", str(out), "--dist", str(TINY), "--workers", "2"]) == 0
    records = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert sorted(r["seed"] for r in records) == [0, 1, 2, 3]
    assert {r["verdict"] for r in records} <= {"PASSED", "FAILED", "DISCARDED"}, records
    ran = [r for r in records if r["verdict"] != "DISCARDED"]
    assert ran, "every tiny scenario was discarded: the test distribution no longer exercises the stack"
    for r in ran:
        assert r["oracle"]["verdict"] == "PASSED"
        assert r["stages"]["frames"] > 0 and r["metrics"]["duration_s"] > 0
        # the written scenario is a normal scenario file (what make demo SCENARIO=<file> replays)
        assert load_scenario(out / r["scenario_file"]).name == r["scenario"]
    summary = json.loads((out / "summary.json").read_text())
    for key in ("runs", "collisions", "avoidable_collisions", "success_rate", "false_stop_rate", "engine"):
        assert key in summary
    assert summary["engine"] == f"ray {ray.__version__}" == "ray 2.60.0"
    assert summary["runs"] == len(ran) and summary["seeds"] == 4
    assert summary["success_rate_ci95"][0] <= summary["success_rate"] <= summary["success_rate_ci95"][1]
    page = (out / "report" / "index.html").read_text()
    assert "make demo SCENARIO=" in page and "outcomes.png" in page
    # resumable: the same seeds again submit nothing and keep the records
    assert sweep.main(["--runs", "4", "--out", str(out), "--dist", str(TINY), "--no-report"]) == 0
    assert len((out / "runs.jsonl").read_text().splitlines()) == 4
    # a different distribution in the same folder would give the seeds other scenarios: refused
    assert sweep.main(["--runs", "4", "--out", str(out)]) == 2


def _flaky(seed: int, marker: str) -> dict:
    """Seed 0 fails on its first attempt only; seed 1 on every attempt."""
    attempts = Path(marker) / str(seed)
    attempts.mkdir(parents=True, exist_ok=True)
    n = len(list(attempts.iterdir()))
    (attempts / str(n)).touch()
    if seed == 1 or n == 0:
        raise RuntimeError(f"seed {seed} attempt {n} failed")
    return {"record": {"seed": seed, "verdict": "PASSED", "reasons": []}}


def test_a_failed_task_is_retried_once_then_recorded_as_error(local_ray, tmp_path: Path) -> None:
    results: list[dict] = []
    remote = ray.remote(num_cpus=1, max_retries=1, retry_exceptions=True)(_flaky)
    sweep.sweep_tasks(remote, [0, 1], (str(tmp_path),), results.append, max_in_flight=2)
    by_seed = {r["record"]["seed"]: r["record"] for r in results}
    assert by_seed[0]["verdict"] == "PASSED"  # the retry succeeded
    assert by_seed[1]["verdict"] == "ERROR" and "seed 1 attempt 1 failed" in by_seed[1]["reasons"][0]
    assert len(list((tmp_path / "1").iterdir())) == 2  # tried twice, not more


def test_stack_runner_is_deterministic_per_seed() -> None:
    """The same scenario twice through the real detector, mapper and controller: the same run."""
    dist = load_distribution(TINY)
    scenario = next(
        g.scenario()
        for g in (generate(s, dist) for s in range(20))
        if g.conditions["situation"] == "standing"
    )
    detector = make_detector(1)
    first, second = run_stack(scenario, detector), run_stack(scenario, detector)
    assert first.result.metrics.as_dict() == second.result.metrics.as_dict()
    a, b = ({k: v for k, v in run.stages.items() if k != "wall_ms_p50"} for run in (first, second))
    assert a == b and a["detections"] > 0


def test_resume_ignores_a_torn_last_line(tmp_path: Path) -> None:
    (tmp_path / "runs.jsonl").write_text('{"seed": 3, "verdict": "PASSED"}\n{"seed": 4, "verd')
    assert sweep.done_seeds(tmp_path) == {3}


def test_resume_refuses_another_distribution(tmp_path: Path) -> None:
    dist = load_distribution()
    sweep.check_distribution_file(tmp_path, dist)
    sweep.check_distribution_file(tmp_path, dist)  # the same one: fine
    with pytest.raises(DistributionError, match="another distribution"):
        sweep.check_distribution_file(tmp_path, load_distribution(TINY))


def test_wilson_interval_and_failure_categories() -> None:
    assert wilson(0, 0) is None
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)  # the textbook value
    lo, hi = wilson(9, 10)
    assert lo == pytest.approx(0.5958, abs=1e-4) and hi == pytest.approx(0.9821, abs=1e-4)
    assert category(["mean speed 1.0 m/s < 1.5 m/s", "collided at t=3.00 s"]) == "collision"
    assert category(["stopped 12.1 m short of the target > max_gap_m 6.0 m"]) == "stopped too far short"
