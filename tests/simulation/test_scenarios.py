"""Scenario files: every one loads and runs headless; bad files name the field; success logic."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge_rover.simulation.closed_loop import run_scenario
from edge_rover.simulation.reference_controllers import OracleController, cruise_controller
from edge_rover.simulation.scenarios import (
    SCENARIO_DIR,
    ScenarioError,
    find_scenario,
    load_scenario,
    scenario_names,
)

REQUIRED = {
    "clear_road",
    "static_obstacle",
    "pedestrian_crossing",
    "obstacle_beside_path",
    "cone_slalom",
    "late_appearing_obstacle",
    "night_pedestrian",
}


def test_required_scenarios_exist() -> None:
    assert set(scenario_names()) >= REQUIRED


@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_loads_and_runs_headless_for_a_few_seconds(name: str) -> None:
    scenario = find_scenario(name)
    result = run_scenario(scenario, cruise_controller, duration_s=2.0)
    assert result.metrics.duration_s == pytest.approx(2.0, abs=scenario.step_s)
    assert result.metrics.mean_speed > 0.5
    assert len(result.log["t"]) == round(2.0 / scenario.step_s)


@pytest.mark.parametrize(
    ("name", "cruise_succeeds"),
    [("static_obstacle", False), ("obstacle_beside_path", True), ("pedestrian_crossing", False)],
)
def test_success_criteria_tell_a_braking_controller_from_a_blind_one(
    name: str, cruise_succeeds: bool
) -> None:
    scenario = find_scenario(name)
    oracle = run_scenario(scenario, OracleController(scenario.limits))
    assert oracle.success, oracle.reasons
    blind = run_scenario(scenario, cruise_controller)
    assert blind.success is cruise_succeeds, blind.reasons
    if name == "static_obstacle":
        assert blind.metrics.collided
        assert oracle.metrics.stopping_distance_m is not None and oracle.metrics.stopping_distance_m < 2.0
        assert oracle.metrics.first_visible_s == 0.0


def test_braking_beside_the_path_counts_as_false_braking() -> None:
    scenario = find_scenario("obstacle_beside_path")
    result = run_scenario(
        scenario, lambda obs: (0.5 if obs.time >= 2.0 else obs.cruise_speed, 0.0), duration_s=4.0
    )
    assert not result.success
    assert result.metrics.false_braking_s == pytest.approx(2.0, abs=0.06)
    # Speeding up from the start is not braking.
    ramp = run_scenario(scenario, lambda obs: (obs.cruise_speed, 0.0), duration_s=2.0)
    assert ramp.metrics.braking_s == 0.0
    assert any("braked" in reason for reason in result.reasons)


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _valid() -> dict:
    return yaml.safe_load((SCENARIO_DIR / "pedestrian_crossing.yaml").read_text())


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["obstacles"][0].update(pose=[1.0, 2.0]), "obstacles[0].pose"),
        (lambda d: d["obstacles"][0].update({"class": "unicorn"}), "obstacles[0].class"),
        (lambda d: d["obstacles"][0]["motion"].update(velocity=[0.0, 0.0]), "obstacles[0].motion.velocity"),
        (lambda d: d["rover"].update(cruise_speed=-1.0), "rover.cruise_speed"),
        (lambda d: d["rover"].pop("cruise_speed"), "rover.cruise_speed"),
        (lambda d: d["success"].update(type="win"), "success.type"),
        (lambda d: d["success"].update(target=7), "success.target"),
        (lambda d: d.update(duration_s="long"), "duration_s"),
        (lambda d: d["world"].update(ground="lava"), "world.ground"),
        (lambda d: d.update(colour="red"), "colour"),
        (lambda d: d["rover"].update(limits={"wheelbase": 0.0}), "rover.limits"),
        (lambda d: d["world"].update(road_half_width=0.1), "world.road_half_width"),
    ],
)
def test_bad_scenario_files_name_the_field(tmp_path: Path, mutate, field: str) -> None:
    data = _valid()
    mutate(data)
    with pytest.raises(ScenarioError) as error:
        load_scenario(_write(tmp_path, data))
    assert "bad.yaml" in str(error.value)
    assert field in str(error.value)


def test_missing_file_and_unknown_name_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match="no scenario named 'nope'"):
        find_scenario("nope")


def test_standing_still_is_not_stopping_before_the_obstacle() -> None:
    from edge_rover.simulation.reference_controllers import stop_controller

    result = run_scenario(find_scenario("static_obstacle"), stop_controller, duration_s=3.0)
    assert not result.success
    assert any("never stopped before the target" in reason for reason in result.reasons)


def test_driving_off_the_road_fails() -> None:
    scenario = find_scenario("static_obstacle")  # road_half_width 3.5 m
    result = run_scenario(scenario, lambda obs: (obs.cruise_speed, 0.6), duration_s=8.0)
    assert result.metrics.left_road_s is not None
    assert any("left the road" in reason for reason in result.reasons)
