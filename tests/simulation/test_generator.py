"""Scenario generator: seeded, valid scenario YAMLs, a derived success block, the mount error."""

from __future__ import annotations

import math

import pytest
import yaml

from edge_rover.simulation.closed_loop import default_rig, run_scenario
from edge_rover.simulation.generator import (
    DistributionError,
    check_distribution,
    check_solvable,
    generate,
    load_distribution,
    parse_seeds,
)
from edge_rover.simulation.reference_controllers import stop_controller
from edge_rover.simulation.scenarios import (
    ScenarioError,
    find_scenario,
    load_scenario,
    scenario_from_dict,
    scenario_path,
)


@pytest.fixture(scope="module")
def dist() -> dict:
    return load_distribution()


def test_same_seed_same_scenario_other_seed_other(dist: dict) -> None:
    assert generate(7, dist).data == generate(7, dist).data
    assert generate(7, dist).data != generate(8, dist).data


def test_every_generated_scenario_loads_and_has_a_success_block(dist: dict, tmp_path) -> None:
    situations = set()
    for seed in range(60):
        generated = generate(seed, dist)
        scenario = load_scenario(generated.write(tmp_path))  # through the file, as make demo reads it
        assert scenario.name == f"sweep_{seed:06d}"
        assert scenario.success.kind in ("stop_before", "pass", "no_braking")
        if scenario.success.kind == "stop_before":
            assert scenario.obstacles[scenario.success.target].kind == generated.conditions["class"]
        assert abs(scenario.camera.pitch_error_deg) <= 2.0 and abs(scenario.camera.height_error_m) <= 0.03
        situations.add(generated.conditions["situation"])
    assert situations == {"crossing", "occluded_step_out", "standing", "walking_ahead", "oncoming", "clear"}


def test_oracle_check_discards_an_unsolvable_scenario(dist: dict) -> None:
    data = generate(3, dist).data
    data["duration_s"] = 12.0
    # A person standing 2.5 m ahead at cruise speed: no stop is possible before it.
    data["obstacles"] = [{"class": "person", "pose": [2.5, 0.0, 0.0]}]
    data["success"] = {"type": "stop_before", "target": 0, "min_gap_m": 0.5}
    data["rover"]["cruise_speed"] = 2.2
    assert not check_solvable(scenario_from_dict(data)).success


def test_camera_mount_error_moves_the_rendered_camera_only() -> None:
    base = find_scenario("clear_road")
    nominal = default_rig()
    assert base.camera.true_rig(nominal) is nominal  # stock scenarios: no error
    data = yaml.safe_load(scenario_path("clear_road").read_text())
    data["camera"] = {"pitch_error_deg": 1.5, "height_error_m": -0.02}
    scenario = scenario_from_dict(data)
    true = scenario.camera.true_rig(nominal)
    assert true.extrinsics.translation[2] == pytest.approx(nominal.extrinsics.translation[2] - 0.02)
    pitch = nominal.extrinsics.rotation_rpy[1] + math.radians(1.5)
    assert true.extrinsics.rotation_rpy[1] == pytest.approx(pitch)
    assert true.intrinsics is nominal.intrinsics


@pytest.mark.parametrize(
    ("camera", "message"),
    [
        ({"pitch_error_deg": 12.0}, "camera.pitch_error_deg: must be <= 10.0"),
        ({"height_error_m": "low"}, "camera.height_error_m: must be a finite number"),
        ({"roll_error_deg": 1.0}, "camera.roll_error_deg: unknown field"),
    ],
)
def test_camera_block_is_validated(camera: dict, message: str) -> None:
    data = {"name": "x", "duration_s": 1.0, "rover": {"cruise_speed": 1.0}, "success": {"type": "no_braking"}}
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict({**data, "camera": camera}, source="x.yaml")


def test_distribution_errors_name_the_field(dist: dict) -> None:
    with pytest.raises(DistributionError, match="cruise_speed: must be a range"):
        check_distribution({**dist, "cruise_speed": [2.0, 1.0]})
    with pytest.raises(DistributionError, match=r"lighting\.sunny: unknown"):
        check_distribution({**dist, "lighting": {"sunny": 1.0}})
    with pytest.raises(DistributionError, match="camera: missing required field"):
        check_distribution({k: v for k, v in dist.items() if k != "camera"})


def test_parse_seeds() -> None:
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]


def test_the_loop_renders_through_the_true_mount() -> None:
    """A camera pitched 2° further down than calibrated sees a cone ahead higher in the image."""
    data = {
        "name": "mount",
        "duration_s": 0.1,
        "rover": {"cruise_speed": 1.0},
        "obstacles": [{"class": "traffic_cone", "pose": [8.0, 0.0, 0.0]}],
        "success": {"type": "no_braking"},
    }
    tops = []
    for pitch in (0.0, 2.0):
        seen: list = []
        scenario = scenario_from_dict({**data, "camera": {"pitch_error_deg": pitch}})
        run_scenario(scenario, stop_controller, on_step=lambda _w, obs, _c, seen=seen: seen.extend(obs.truth))
        tops.append(seen[0].bbox[1])
    assert tops[1] < tops[0] - 5  # 2° at 320 px focal length ≈ 11 px
