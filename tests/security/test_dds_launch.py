"""The launch files give every node a Fast DDS profile that listens on named interfaces only.

Real launch machinery (LaunchService) runs ``dds_network_actions()`` followed by a process that
reports the profile it inherited; the profile's allowlist is then read back. Each shipped launch
file is checked to run those actions before it starts any node.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from edge_rover.common.dds_profile import ProfileError, launch_profile, udp_allowlists, with_allowlist
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.ros]

SHIPPED = REPO_ROOT / "config" / "fastdds_profiles.xml"


@pytest.fixture(autouse=True)
def _restore_environment():
    """An in-process LaunchService applies SetEnvironmentVariable to this very process: without
    this, later tests would start nodes with the derived profile these tests delete."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _profile_seen_by_a_launched_process(tmp_path: Path, **arguments: str) -> tuple[int, Path | None]:
    """Launch dds_network_actions + one process; return (launch rc, the profile the process got)."""
    from launch.actions import ExecuteProcess, SetLaunchConfiguration

    from edge_rover.common.launch_helpers import dds_network_actions
    from launch import LaunchDescription, LaunchService

    report = tmp_path / "profile_seen.txt"
    reporter = ExecuteProcess(
        cmd=[sys.executable, "-c", f"import os; open({str(report)!r}, 'w').write(os.environ.get("
             "'FASTRTPS_DEFAULT_PROFILES_FILE', ''))"],
    )  # fmt: skip
    preset = [SetLaunchConfiguration(name, value) for name, value in arguments.items()]
    service = LaunchService(argv=[])
    service.include_launch_description(LaunchDescription([*preset, *dds_network_actions(), reporter]))
    rc = service.run()
    return rc, (Path(report.read_text()) if report.exists() else None)


def test_default_is_the_profile_in_the_environment_when_it_is_restricted(tmp_path: Path) -> None:
    rc, profile = _profile_seen_by_a_launched_process(tmp_path)
    assert rc == 0
    assert profile == Path(os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"])  # the tests' UDP profile
    allowlists = udp_allowlists(profile.read_text())
    assert allowlists and all(addresses == ["127.0.0.1"] for addresses in allowlists.values())


def test_named_interfaces_give_a_derived_profile(tmp_path: Path) -> None:
    rc, profile = _profile_seen_by_a_launched_process(tmp_path, dds_interfaces="lo,127.0.0.2")
    assert rc == 0 and profile is not None and profile != SHIPPED
    assert udp_allowlists(profile.read_text()) == {"edge_rover_udp": ["127.0.0.1", "127.0.0.2"]}
    profile.unlink()


def test_an_open_profile_stops_the_launch_unless_all_is_asked_for(tmp_path: Path) -> None:
    open_profile = tmp_path / "open.xml"
    open_profile.write_text(with_allowlist(SHIPPED.read_text(), None))
    rc, profile = _profile_seen_by_a_launched_process(tmp_path, dds_profile=str(open_profile))
    assert rc != 0 and profile is None  # no node started
    rc, profile = _profile_seen_by_a_launched_process(
        tmp_path, dds_profile=str(open_profile), dds_interfaces="all"
    )
    assert rc == 0 and profile is not None
    assert udp_allowlists(profile.read_text()) == {"edge_rover_udp": []}
    profile.unlink()


def test_an_unknown_interface_is_one_clear_error() -> None:
    with pytest.raises(ProfileError, match="'nosuch0' has no IPv4 address"):
        launch_profile(SHIPPED, "lo,nosuch0")


def test_builtin_transports_are_refused(tmp_path: Path) -> None:
    profile = tmp_path / "builtin.xml"
    profile.write_text(
        SHIPPED.read_text().replace("<useBuiltinTransports>false", "<useBuiltinTransports>true")
    )
    with pytest.raises(ProfileError, match="builtin transports are on"):
        launch_profile(profile, "")


@pytest.mark.parametrize("launch_file", ["rover.launch.py", "sim.launch.py", "replay.launch.py"])
def test_every_launch_file_sets_the_profile_before_its_nodes(launch_file: str) -> None:
    from launch.actions import DeclareLaunchArgument, ExecuteProcess, GroupAction, OpaqueFunction
    from launch.launch_description_sources import get_launch_description_from_python_launch_file

    from edge_rover.common.launch_helpers import _dds_environment

    description = get_launch_description_from_python_launch_file(str(REPO_ROOT / "launch" / launch_file))
    entities = description.entities
    names = {e.name for e in entities if isinstance(e, DeclareLaunchArgument)}
    assert {"dds_profile", "dds_interfaces"} <= names
    dds = [
        i
        for i, e in enumerate(entities)
        if isinstance(e, OpaqueFunction) and e._OpaqueFunction__function is _dds_environment
    ]
    # Nodes directly or in groups (sim.launch.py groups the pipeline): every process comes later.
    nodes = [i for i, e in enumerate(entities) if isinstance(e, (ExecuteProcess, GroupAction))]
    assert dds and nodes and dds[0] < min(nodes)
