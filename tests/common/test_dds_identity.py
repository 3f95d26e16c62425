"""Fresh participant ids per start (common/dds_identity.py): real lock files, sockets, mappings
and /proc, and real nodes that still discover each other with the ids they get."""

from __future__ import annotations

import mmap
import os
import socket
import sys
from pathlib import Path

import pytest

from edge_rover.common.dds_identity import (
    FIRST_ID,
    LAST_ID,
    PEERS_RANGE,
    _held,
    claim_participant_id,
    mapped_shm_ports,
    unicast_ports,
    use_fresh_participant_id,
    with_participant_id,
)
from edge_rover.common.dds_profile import udp_allowlists
from tests.conftest import REPO_ROOT

DOMAIN = 97  # a domain no test claims for traffic: only lock files and port probes here


@pytest.mark.parametrize("name", ["fastdds_profiles.xml", "fastdds_udp_profiles.xml"])
def test_the_per_start_profile_sets_the_id_and_the_peer_range(name: str) -> None:
    text = with_participant_id((REPO_ROOT / "config" / name).read_text(), 42)
    assert "<participantID>42</participantID>" in text
    assert f"<maxInitialPeersRange>{PEERS_RANGE}</maxInitialPeersRange>" in text
    assert all(v == ["127.0.0.1"] for v in udp_allowlists(text).values())  # the allowlist stays


def test_claims_are_exclusive_and_released_with_their_handle() -> None:
    first = claim_participant_id(DOMAIN)
    second = claim_participant_id(DOMAIN)
    assert first and second and first[0] != second[0]
    assert FIRST_ID <= first[0] <= LAST_ID
    first[1].close()
    again = [claim_participant_id(DOMAIN) for _ in range(LAST_ID - FIRST_ID)]
    assert first[0] in {c[0] for c in again if c}
    for claim in [second, *again]:
        if claim:
            claim[1].close()


def test_an_id_whose_port_is_bound_or_whose_segment_is_mapped_is_skipped(tmp_path: Path) -> None:
    start = FIRST_ID + os.getpid() % (LAST_ID - FIRST_ID + 1)  # the id claim tries first
    blocked = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocked.bind(("127.0.0.1", unicast_ports(DOMAIN, start)[0]))
    nxt = start + 1 if start < LAST_ID else FIRST_ID
    segment = tmp_path / f"fastrtps_port{unicast_ports(DOMAIN, nxt)[1]}"  # a live mapping of its port
    segment.write_bytes(bytes(4096))
    with segment.open("r+b") as handle, mmap.mmap(handle.fileno(), 4096) as _mapping:
        assert unicast_ports(DOMAIN, nxt)[1] in mapped_shm_ports()
        claim = claim_participant_id(DOMAIN)
        assert claim is not None and claim[0] not in (start, nxt)
        claim[1].close()
    blocked.close()


def test_use_fresh_participant_id_rewrites_the_environment_and_can_be_turned_off(tmp_path: Path) -> None:
    env = {"FASTRTPS_DEFAULT_PROFILES_FILE": str(REPO_ROOT / "config" / "fastdds_udp_profiles.xml")}
    env["ROS_DOMAIN_ID"] = str(DOMAIN)
    note = use_fresh_participant_id(env)
    assert note.startswith("DDS participant id ")
    written = Path(env["FASTRTPS_DEFAULT_PROFILES_FILE"])
    assert "<participantID>" in written.read_text()
    _held.pop().close()
    off = {**env, "EDGE_ROVER_FRESH_PARTICIPANT_ID": "0"}
    assert "off" in use_fresh_participant_id(off)
    assert off["FASTRTPS_DEFAULT_PROFILES_FILE"] == env["FASTRTPS_DEFAULT_PROFILES_FILE"]


@pytest.mark.ros
def test_a_respawned_node_gets_another_id_and_is_seen_by_a_default_participant(ros_context) -> None:
    """The controller (run_node → fresh id ≥ 20) started twice, the first still running: two ids;
    this test's own participant (Fast DDS's automatic low id, default peer range) sees both."""
    from rclpy.executors import SingleThreadedExecutor

    from tests.ros_helpers import running_process, spin_until

    node = __import__("rclpy").create_node("identity_probe", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    controller = str(Path(sys.prefix) / "bin" / "controller")
    second_args = [controller, "--ros-args", "-r", "__node:=controller_two"]
    with running_process([controller]) as first, running_process(second_args) as second:
        assert spin_until(
            executor, lambda: {"controller", "controller_two"} <= set(node.get_node_names()), 30.0
        ), node.get_node_names()
        for proc in (first, second):
            proc.send_signal(2)
        outputs = [p.communicate(timeout=20)[0] for p in (first, second)]
    ids = [line.split("DDS participant id ")[1].split()[0] for out in outputs for line in out.splitlines()
           if "DDS participant id " in line]  # fmt: skip
    assert len(ids) == 2 and ids[0] != ids[1] and all(FIRST_ID <= int(i) <= LAST_ID for i in ids), outputs


def test_cleanup_removes_only_segments_no_live_process_maps() -> None:
    """A live participant's port (and its lock file) survives another run's clean-up; a dead one's goes."""
    from edge_rover.common.dds_identity import remove_unmapped_segments

    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm")
    live = shm / f"fastrtps_port_edge_rover_test_{os.getpid()}"
    live_lock, dead = live.with_name(live.name + "_el"), live.with_name(live.name + "_dead")
    for path in (live, live_lock, dead):
        path.write_bytes(bytes(4096))
    try:
        with live.open("r+b") as handle, mmap.mmap(handle.fileno(), 4096) as _mapping:
            removed = remove_unmapped_segments([live, live_lock, dead])
            assert removed == [dead] and live.exists() and live_lock.exists() and not dead.exists()
        assert remove_unmapped_segments([live, live_lock]) == [live, live_lock]  # unmapped now
    finally:
        for path in (live, live_lock, dead):
            path.unlink(missing_ok=True)
