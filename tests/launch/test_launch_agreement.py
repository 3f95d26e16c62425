"""Every launch file's nodes agree on the values they share (no processes are started).

Each launch description is evaluated with its launch arguments at their defaults, the way
``ros2 launch`` would: conditions, params files and overrides resolved into the parameters each
node would start with. A node's own spec default fills what nothing sets.

Caught before: sim.launch.py told the simulator that angular.z is a steering angle while the
controller wrote a yaw rate (about v / wheelbase times too much steering at speed).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("launch_ros")

from launch.actions import DeclareLaunchArgument, GroupAction
from launch.utilities import normalize_to_list_of_substitutions, perform_substitutions
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.utilities import evaluate_parameters

from edge_rover.common.conventions import ANGULAR_Z_PARAM
from edge_rover.simulation.scenarios import find_scenario
from launch import LaunchContext, LaunchDescription

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))


def _spec_defaults() -> dict[str, dict[str, Any]]:
    from edge_rover.common.param_docs import spec_tables

    return {node: {s.name: s.default for s in specs} for node, specs in spec_tables().items()}


def _description(path: Path) -> LaunchDescription:
    spec = importlib.util.spec_from_file_location(path.name.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def _entities(entities: list, context: LaunchContext):
    for entity in entities:
        condition = getattr(entity, "condition", None)
        if condition is not None and not condition.evaluate(context):
            continue
        if isinstance(entity, GroupAction):
            yield from _entities(entity.get_sub_entities(), context)
        else:
            yield entity


def _evaluated(
    path: Path, arguments: dict[str, str] | None, strict: bool = False
) -> tuple[LaunchDescription, LaunchContext]:
    """The launch description and a context holding its arguments (defaults, then ``arguments``)."""
    description = _description(path)
    context = LaunchContext()
    declared = [e for e in description.entities if isinstance(e, DeclareLaunchArgument)]
    for arg in declared:
        value = "required" if arg.default_value is None else perform_substitutions(context, arg.default_value)
        context.launch_configurations[arg.name] = value
    unknown = set(arguments or {}) - {arg.name for arg in declared}
    assert not (strict and unknown), f"{path.name} declares no argument {sorted(unknown)}"
    context.launch_configurations.update(arguments or {})
    return description, context


def node_namespaces(path: Path, arguments: dict[str, str] | None = None) -> dict[str, str]:
    """Node name → the namespace it would start in (PushRosNamespace in scoped groups followed)."""
    description, context = _evaluated(path, arguments, strict=True)
    found: dict[str, str] = {}

    def walk(entities: list, namespace: str) -> None:
        for entity in entities:
            condition = getattr(entity, "condition", None)
            if condition is not None and not condition.evaluate(context):
                continue
            if isinstance(entity, GroupAction):
                walk(entity.get_sub_entities(), namespace)  # scoped: a push inside ends with the group
            elif isinstance(entity, PushRosNamespace):
                pushed = perform_substitutions(context, entity.namespace).strip("/")
                namespace = f"{namespace}/{pushed}" if pushed else namespace
            elif isinstance(entity, Node):
                raw = normalize_to_list_of_substitutions(
                    entity._Node__node_name or entity._Node__node_executable
                )
                found[perform_substitutions(context, raw)] = namespace or "/"

    walk(description.entities, "")
    return found


def effective_parameters(
    path: Path, arguments: dict[str, str] | None = None, strict: bool = False
) -> dict[str, dict[str, Any]]:
    """Node name → the parameters it would start with (its spec defaults under what launch sets).

    ``strict``: every argument given must be one the launch file declares (ros2 launch would
    silently accept a misspelt one).
    """
    description, context = _evaluated(path, arguments, strict)
    defaults = _spec_defaults()
    nodes: dict[str, dict[str, Any]] = {}
    for node in _entities(description.entities, context):
        if not isinstance(node, Node):
            continue
        # launch_ros keeps these private; a node without a name (rviz2) goes by its executable.
        raw_name = normalize_to_list_of_substitutions(node._Node__node_name or node._Node__node_executable)
        name = perform_substitutions(context, raw_name)
        params = dict(defaults.get(name, {}))
        for item in evaluate_parameters(context, node._Node__parameters):
            if isinstance(item, dict):
                params.update(item)
            else:  # a params file: its node section (or the /** wildcard)
                content = yaml.safe_load(Path(item).read_text()) or {}
                for key in ("/**", name, f"/{name}"):
                    params.update((content.get(key) or {}).get("ros__parameters", {}))
        nodes[name] = params
    return nodes


@pytest.fixture(scope="module", params=LAUNCH_FILES, ids=lambda p: p.name)
def launched(request) -> tuple[str, dict[str, dict[str, Any]]]:
    return request.param.name, effective_parameters(request.param)


def test_every_launch_file_is_checked() -> None:
    assert {p.name for p in LAUNCH_FILES} >= {"sim.launch.py", "rover.launch.py", "replay.launch.py"}


def test_cmd_vel_angular_convention_agrees(launched) -> None:
    name, nodes = launched
    users = {n: p[ANGULAR_Z_PARAM] for n, p in nodes.items() if n in ("controller", "serial_bridge", "sim")}
    assert "controller" in users, f"{name}: no controller"
    assert len(set(users.values())) == 1, f"{name}: /cmd_vel angular.z means different things: {users}"


def test_grid_inflation_is_the_mappers_rover_half_width(launched) -> None:
    name, nodes = launched
    if "obstacle_mapper" not in nodes:
        pytest.skip(f"{name} starts no mapper")
    inflation = float(nodes["controller"]["grid_inflation"])
    half_width = float(nodes["obstacle_mapper"]["rover_half_width"])
    assert inflation == pytest.approx(half_width), f"{name}: controller {inflation} vs mapper {half_width}"


def test_controller_frame_period_matches_the_camera_rate(launched) -> None:
    name, nodes = launched
    period = float(nodes["controller"]["frame_period"])
    if "camera" in nodes:
        camera_period = 1.0 / float(nodes["camera"]["fps"])
    elif "sim" in nodes:
        scenario = nodes["sim"]["scenario"]
        camera_period = find_scenario(scenario).step_s
    else:
        pytest.skip(f"{name}: the camera rate is the bag's")
    assert math.isclose(period, camera_period, rel_tol=1e-3), (
        f"{name}: {period} s vs camera {camera_period} s"
    )


def test_the_check_sees_a_mismatch() -> None:
    """The evaluation is live: a different argument changes what the nodes get."""
    nodes = effective_parameters(ROOT / "launch" / "rover.launch.py", {"camera_fps": "10.0"})
    assert float(nodes["controller"]["frame_period"]) == pytest.approx(0.1)
    nodes = effective_parameters(ROOT / "launch" / "sim.launch.py", {ANGULAR_Z_PARAM: "steering_angle"})
    assert nodes["sim"][ANGULAR_Z_PARAM] == nodes["controller"][ANGULAR_Z_PARAM] == "steering_angle"


WORLDS = {"sim.launch.py": "sim", "rover.launch.py": "real", "replay.launch.py": "real"}


def test_each_launch_file_runs_the_model_of_its_world(launched) -> None:
    """The rover and a robot's bag get the real-world model, the simulator the sim model; each
    tells the detector where its images come from, and the model's card says the same world."""
    from edge_rover.calibration.calibration_io import resolve_url
    from edge_rover.common.launch_helpers import REAL_MODEL, SIM_MODEL
    from edge_rover.perception.detection.model_card import card_path_for, load_model_card

    name, nodes = launched
    if name not in WORLDS:
        pytest.skip(f"{name}: not one of the shipped worlds")
    detector = nodes["detector"]
    world = WORLDS[name]
    assert detector["source_domain"] == world, name
    assert detector["model_path"] == (SIM_MODEL if world == "sim" else REAL_MODEL), name
    model = Path(resolve_url(detector["model_path"]))
    assert model.is_file(), f"{name}: {model} missing"
    assert load_model_card(card_path_for(model)).domain == world, (
        f"{name}: {model.name} is not a {world} model"
    )


def test_the_model_argument_reaches_the_detector() -> None:
    for launch in ("rover.launch.py", "replay.launch.py", "sim.launch.py"):
        args = {
            "model": "/tmp/my_model.onnx",
            **({"bag": "/tmp/bag"} if launch == "replay.launch.py" else {}),
        }
        nodes = effective_parameters(ROOT / "launch" / launch, args, strict=True)
        assert nodes["detector"]["model_path"] == "/tmp/my_model.onnx", launch


def test_a_simulator_bag_replays_with_the_sim_model() -> None:
    """replay.launch.py takes source_domain (a simulator bag: sim), and the demo passes the sim
    model and source_domain:=sim for a bag the simulator recorded (it has /sim/ground_truth)."""
    from types import SimpleNamespace

    from edge_rover.common.launch_helpers import SIM_MODEL
    from edge_rover.tools.demo import _world_of

    sim_bag = SimpleNamespace(topics={"/camera/image_raw": "sensor_msgs/msg/Image", "/sim/ground_truth": "x"})
    robot_bag = SimpleNamespace(topics={"/camera/image_raw": "sensor_msgs/msg/Image"})
    args = dict(a.split(":=", 1) for a in _world_of(sim_bag))
    assert args == {"model": SIM_MODEL, "source_domain": "sim"} and _world_of(robot_bag) == []
    nodes = effective_parameters(
        ROOT / "launch" / "replay.launch.py", {"bag": "/tmp/bag", **args}, strict=True
    )
    assert (nodes["detector"]["model_path"], nodes["detector"]["source_domain"]) == (SIM_MODEL, "sim")


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_node_runs_in_the_namespace_argument(path: Path) -> None:
    """namespace:=rover1 moves the whole graph (RViz, whose config names root topics, stays)."""
    assert set(node_namespaces(path).values()) == {"/"}, path.name
    arguments = {"namespace": "rover1", "rviz": "true"}
    if path.name == "replay.launch.py":
        arguments["bag"] = "/nonexistent"
    spaces = node_namespaces(path, arguments)
    assert spaces.pop("rviz2") == "/"
    assert spaces and set(spaces.values()) == {"/rover1"}, (path.name, spaces)


# Ours but not respawned: their exit ends the graph on purpose (the scenario / the bag is over).
ENDS_THE_GRAPH = {"sim", "bag_replay"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("perfect", ["false", "true"])
def test_every_node_of_ours_is_respawned(path: Path, perfect: str) -> None:
    """A node whose liveness watch finds it cannot work (common/liveness.py) exits non-zero: the
    launch must start it again (after RESPAWN_DELAY_S), or the graph stays deaf."""
    from edge_rover.common.launch_helpers import RESPAWN_DELAY_S

    arguments = {"bag": "/nonexistent"} if path.name == "replay.launch.py" else {}
    if path.name == "sim.launch.py":
        arguments["perfect_perception"] = perfect
    description, context = _evaluated(path, arguments)
    checked = []
    for node in _entities(description.entities, context):
        if not isinstance(node, Node) or node._Node__package != "edge_rover":
            continue
        raw = normalize_to_list_of_substitutions(node._Node__node_executable)
        executable = perform_substitutions(context, raw)
        if executable in ENDS_THE_GRAPH:
            continue
        respawn = node._ExecuteLocal__respawn
        respawn = perform_substitutions(context, respawn) if isinstance(respawn, list) else respawn
        assert str(respawn).lower() == "true", f"{path.name}: {executable} has respawn={respawn!r}"
        assert node._ExecuteLocal__respawn_delay == RESPAWN_DELAY_S, executable
        checked.append(executable)
    assert checked, path.name
