"""``security:=true`` on the launch files: every node of ours gets its enclave and the SROS2
environment, or the launch stops with one line (real LaunchService, real keystore, real processes).

The Fast DDS of the PyPI wheels here is built without DDS Security: rmw refuses a secured node
("This Fast DDS version doesn't have the security libraries"), so an authenticated graph cannot
run here. Where a test needs the launch to get past that check, LD_LIBRARY_PATH names a folder
with a stand-in ``libfastrtps.so`` that carries the plugin's name (the check reads no more).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_rover.common.graph import ROVER_NODES
from edge_rover.common.sros2 import (
    SECURITY_ENV,
    SECURITY_MARKER,
    SecurityConfigError,
    check_secured_launch,
    enclave_of,
    find_fastdds_library,
    has_security_plugins,
)
from edge_rover.tools import keystore as ks
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.ros]

LAUNCH_NODES = {
    "rover.launch.py": set(ROVER_NODES),
    "sim.launch.py": {"sim", "detector", "obstacle_mapper", "controller"},
    "replay.launch.py": {"bag_replay", "detector", "obstacle_mapper", "controller"},
}
SECURITY_VARIABLES = ("ROS_SECURITY_KEYSTORE", "ROS_SECURITY_ENABLE", "ROS_SECURITY_STRATEGY")


@pytest.fixture(autouse=True)
def _restore_environment():
    """An in-process LaunchService applies SetEnvironmentVariable to this very process."""
    saved = dict(os.environ)
    for name in SECURITY_VARIABLES:
        os.environ.pop(name, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keystore")
    ks.create(path, sorted(set().union(*LAUNCH_NODES.values())))
    return path


@pytest.fixture
def security_capable_fastdds(tmp_path: Path) -> None:
    """LD_LIBRARY_PATH first names a folder whose libfastrtps carries the plugin's name."""
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "libfastrtps.so.2.14.5").write_bytes(b"\0stand-in\0" + SECURITY_MARKER + b"\0")
    os.environ["LD_LIBRARY_PATH"] = f"{folder}{os.pathsep}{os.environ.get('LD_LIBRARY_PATH', '')}"


def _environment_seen_by_a_launched_process(tmp_path: Path, **arguments: str) -> tuple[int, dict | None]:
    from launch.actions import ExecuteProcess, SetLaunchConfiguration

    from edge_rover.common.launch_helpers import security_actions
    from launch import LaunchDescription, LaunchService

    report = tmp_path / "env_seen.txt"
    names = list(SECURITY_VARIABLES)
    reporter = ExecuteProcess(
        cmd=[sys.executable, "-c", f"import os, json; open({str(report)!r}, 'w').write(json.dumps("
             f"{{n: os.environ.get(n) for n in {names!r}}}))"],
    )  # fmt: skip
    preset = [SetLaunchConfiguration(name, value) for name, value in arguments.items()]
    service = LaunchService(argv=[])
    service.include_launch_description(
        LaunchDescription([*preset, *security_actions(["controller", "camera"]), reporter])
    )
    rc = service.run()
    return rc, (json.loads(report.read_text()) if report.exists() else None)


def test_security_true_gives_a_launched_process_the_sros2_environment(
    tmp_path: Path, store: Path, security_capable_fastdds: None
) -> None:
    rc, env = _environment_seen_by_a_launched_process(tmp_path, security="true", keystore=str(store))
    assert rc == 0
    assert env == {
        "ROS_SECURITY_KEYSTORE": str(store.resolve()),
        "ROS_SECURITY_ENABLE": "true",
        "ROS_SECURITY_STRATEGY": "Enforce",
    }


def test_security_is_off_by_default(tmp_path: Path) -> None:
    rc, env = _environment_seen_by_a_launched_process(tmp_path)
    assert rc == 0 and env == dict.fromkeys(SECURITY_VARIABLES)


def test_a_keystore_without_the_nodes_enclave_stops_the_launch(
    tmp_path: Path, security_capable_fastdds: None
) -> None:
    partial = tmp_path / "partial"
    ks.create(partial, ["controller"])  # no camera enclave
    rc, env = _environment_seen_by_a_launched_process(tmp_path, security="true", keystore=str(partial))
    assert rc != 0 and env is None  # nothing started
    with pytest.raises(SecurityConfigError, match="has no enclave for camera"):
        check_secured_launch(str(partial), ["controller", "camera"])
    with pytest.raises(SecurityConfigError, match="needs a keystore"):
        check_secured_launch("", ["controller"])


def test_the_fastdds_here_has_no_security_and_a_secured_launch_says_so(tmp_path: Path, store: Path) -> None:
    library = find_fastdds_library()
    assert library is not None and library.name.startswith("libfastrtps.so")
    if has_security_plugins(library):  # a ROS install with DDS Security: nothing is blocked there
        pytest.skip(f"{library} has the security plugins")
    with pytest.raises(SecurityConfigError, match="built without DDS Security"):
        check_secured_launch(str(store), ["controller"])
    rc, env = _environment_seen_by_a_launched_process(tmp_path, security="true", keystore=str(store))
    assert rc != 0 and env is None
    # rmw agrees: a node in its enclave, security enforced, does not start.
    secured = {**os.environ, "ROS_SECURITY_KEYSTORE": str(store), **SECURITY_ENV}
    code = "import rclpy; rclpy.init(); rclpy.create_node('controller')"
    result = subprocess.run(
        [sys.executable, "-c", code, "--ros-args", "--enclave", enclave_of("controller")],
        env=secured, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "doesn't have the security libraries" in result.stderr


def _nodes_and_their_enclaves(launch_file: str, arguments: dict[str, str]) -> dict[str, list[str]]:
    """Each Node of ours the launch description would start (conditions evaluated) → its arguments."""
    from launch.actions import DeclareLaunchArgument
    from launch.utilities import normalize_to_list_of_substitutions, perform_substitutions
    from launch_ros.actions import Node

    from launch import LaunchContext
    from tests.launch.test_launch_agreement import _description, _entities

    description = _description(REPO_ROOT / "launch" / launch_file)
    context = LaunchContext()
    for arg in description.entities:
        if isinstance(arg, DeclareLaunchArgument):
            default = "x" if arg.default_value is None else perform_substitutions(context, arg.default_value)
            context.launch_configurations[arg.name] = default
    context.launch_configurations.update(arguments)
    nodes = {}
    for node in _entities(description.entities, context):
        if isinstance(node, Node) and node.node_package == "edge_rover":
            sub = lambda value: perform_substitutions(context, normalize_to_list_of_substitutions(value))  # noqa: E731
            nodes[sub(node._Node__node_name)] = [sub(a) for a in node._Node__arguments or []]
    return nodes


@pytest.mark.parametrize("launch_file", sorted(LAUNCH_NODES))
def test_every_node_of_each_launch_file_runs_in_its_enclave(launch_file: str, store: Path) -> None:
    arguments = {"security": "true", "keystore": str(store)}
    if launch_file == "sim.launch.py":
        arguments["pipeline"] = "true"
    nodes = _nodes_and_their_enclaves(launch_file, arguments)
    assert set(nodes) == LAUNCH_NODES[launch_file]
    for name, args in nodes.items():
        assert args[-3:] == ["--ros-args", "--enclave", enclave_of(name)], (name, args)
        assert (store / "enclaves" / enclave_of(name).lstrip("/") / "permissions.p7s").is_file()


@pytest.mark.parametrize("launch_file", sorted(LAUNCH_NODES))
def test_each_launch_file_sets_security_before_its_nodes(launch_file: str) -> None:
    from launch.actions import DeclareLaunchArgument, ExecuteProcess, GroupAction, OpaqueFunction
    from launch.launch_description_sources import get_launch_description_from_python_launch_file

    from edge_rover.common.launch_helpers import _security_environment

    description = get_launch_description_from_python_launch_file(str(REPO_ROOT / "launch" / launch_file))
    entities = description.entities
    security = [e for e in entities if isinstance(e, DeclareLaunchArgument) and e.name == "security"]
    assert security and security[0].default_value is not None
    secure = [
        i
        for i, e in enumerate(entities)
        if isinstance(e, OpaqueFunction) and e._OpaqueFunction__function is _security_environment
    ]
    nodes = [i for i, e in enumerate(entities) if isinstance(e, (ExecuteProcess, GroupAction))]
    assert secure and nodes and secure[0] < min(nodes)
    # The enclaves it checks are exactly the nodes it starts.
    [function] = [entities[i] for i in secure]
    assert set(function._OpaqueFunction__args[0]) == LAUNCH_NODES[launch_file]
