"""The liveness watch (common/liveness.py, wired by common.node_runner.run_node): the pure logic,
this process' real /proc/self/maps, and real nodes (rclpy subprocesses on real DDS) that exit
with the watch's line when their own shared-memory port is replaced or their executor hangs."""

from __future__ import annotations

import mmap
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_rover.common.dds_identity import unicast_ports
from edge_rover.common.liveness import (
    EXIT_UNHEALTHY,
    STALL_ENV,
    LivenessWatch,
    StallClock,
    deleted_port_mappings,
    listener_ports,
    port_watch_enabled,
    replaced_message,
    stall_timeout_s,
)
from tests.conftest import REPO_ROOT

MAPS = """\
7f00a000-7f00b000 rw-s 00000000 00:1b 7685927                    /dev/shm/fastrtps_port28459 (deleted)
7f00c000-7f00d000 rw-s 00000000 00:1b 7685921                    /dev/shm/fastrtps_port28523
7f00e000-7f00f000 rw-s 00000000 00:1b 7680883                    /dev/shm/fastrtps_port7000 (deleted)
7f010000-7f011000 rw-s 00000000 00:1b 7680884                    /dev/shm/fastrtps_d1a2_segment (deleted)
7f012000-7f013000 r-xp 00000000 fe:00 2147565                    /usr/lib/libfoo.so
"""


def test_deleted_port_mappings_are_read_from_a_maps_text() -> None:
    assert deleted_port_mappings(MAPS) == {28459, 7000}
    assert deleted_port_mappings("") == set()


def test_listener_ports_come_from_fast_dds_thread_names_not_the_shared_7000s() -> None:
    names = ["python\n", "dds.shm.28459\n", "dds.shm.7000", "dds.ev.24", "dds.shm.7451", "dds.shm.x"]
    assert listener_ports(names) == {28459, 7451}  # domain 0's ports are below 8000: kept


def _twice(watch: LivenessWatch, *args) -> tuple[str | None, str | None]:
    return watch.verdict(*args), watch.verdict(*args)


def test_the_watch_flags_only_its_own_ports_and_only_when_confirmed() -> None:
    assert _twice(LivenessWatch(own_ports={28458, 28459}), MAPS) == (None, replaced_message(28459))
    assert "port 28459 was replaced" in replaced_message(28459)
    assert _twice(LivenessWatch(own_ports={28523}), MAPS) == (None, None)  # mapped, not deleted
    assert _twice(LivenessWatch(), MAPS) == (None, None)  # 7000 (deleted) is nobody's own port
    by_thread = _twice(LivenessWatch(), MAPS, ["dds.shm.28459"])
    assert by_thread == (None, replaced_message(28459))
    assert _twice(LivenessWatch(own_ports={28459}, check_ports=False), MAPS) == (None, None)
    watch = LivenessWatch(own_ports={28459})
    watch.verdict(MAPS)
    assert watch.verdict("") is None and watch.verdict(MAPS) is None  # a streak, broken: again


def test_a_port_the_listener_recreated_and_maps_is_not_replaced() -> None:
    """Fast DDS's listener re-creates a port it finds not OK and maps the new file: it hears."""
    regenerated = MAPS + (
        "7f014000-7f015000 rw-s 00000000 00:1b 7690001                    /dev/shm/fastrtps_port28459\n"
    )
    watch = LivenessWatch(own_ports={28459})
    assert _twice(watch, regenerated, [], {28459: 7690001}.get) == (None, None)
    # ...but a new file under the name that this process does not map is a port nobody reads
    assert _twice(LivenessWatch(own_ports={28459}), regenerated, [], {28459: 7690002}.get)[1]
    assert _twice(LivenessWatch(own_ports={28459}), regenerated, [], lambda _p: None)[1]  # no file


def test_stall_timeout_from_the_environment() -> None:
    assert stall_timeout_s({}) == 5.0
    assert stall_timeout_s({STALL_ENV: "2.5"}) == 2.5
    assert stall_timeout_s({STALL_ENV: "0"}) == 0.0
    assert stall_timeout_s({STALL_ENV: "-1"}) == 0.0
    assert stall_timeout_s({STALL_ENV: ""}, default=7.0) == 7.0
    for bad in ("soon", "nan", "inf"):
        with pytest.raises(ValueError, match=STALL_ENV):
            stall_timeout_s({STALL_ENV: bad})
    assert port_watch_enabled({}) and not port_watch_enabled({"EDGE_ROVER_PORT_WATCH": "0"})


def test_stall_clock_times_the_gaps_between_rearms() -> None:
    clock = StallClock(timeout_s=5.0)
    assert clock.arm(100.0) == 0.0 and not clock.overdue(104.9)
    assert clock.arm(101.0) == 1.0
    assert clock.overdue(106.0) and clock.arm(107.5) == 6.5 and clock.longest_gap_s == 6.5
    off = StallClock(timeout_s=0.0)
    off.arm(0.0)
    assert not off.enabled and not off.overdue(1e9) and "off" in off.describe()


def test_a_deleted_port_file_this_process_maps_is_seen_in_its_own_maps() -> None:
    """The real thing in /proc/self/maps: a mapped port file unlinked while mapped."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm")
    port = 65001 - os.getpid() % 500  # above every port Fast DDS uses for domains 0..101
    path = shm / f"fastrtps_port{port}"
    path.write_bytes(bytes(4096))
    try:
        with path.open("r+b") as handle, mmap.mmap(handle.fileno(), 4096) as _mapping:
            watch = LivenessWatch(own_ports={port})

            def look() -> str | None:
                inode = path.stat().st_ino if path.exists() else None
                return watch.verdict(Path("/proc/self/maps").read_text(), [], lambda _p: inode)

            assert (look(), look()) == (None, None)
            path.unlink()  # what Fast DDS does to a port it finds "not OK"
            path.write_bytes(bytes(4096))  # and a writer creates a new one under its name
            assert (look(), look()) == (None, replaced_message(port))
            with path.open("r+b") as again, mmap.mmap(again.fileno(), 4096) as _new:  # re-created here
                assert (look(), look()) == (None, None)
    finally:
        path.unlink(missing_ok=True)


# A node of ours in miniature: run_node (fresh id, liveness watch) with a subscription, and, with
# --hang-after S, a timer that blocks the executor for 60 s once S seconds after start.
NODE = r"""
import sys, time
from rclpy.node import Node
from std_msgs.msg import Header
from edge_rover.common.node_runner import run_node

hang_after = float(sys.argv[1])

class Probe(Node):
    def __init__(self):
        super().__init__("liveness_probe")
        self.create_subscription(Header, "/liveness/ping", lambda _m: None, 10)
        if hang_after > 0:
            self.timer = self.create_timer(hang_after, self.callback_that_hangs)
        print("probe spinning", flush=True)

    def callback_that_hangs(self):
        self.timer.cancel()
        print("probe hangs now", flush=True)
        time.sleep(60)

raise SystemExit(run_node(Probe, "liveness_probe"))
"""


def _start_probe(tmp_path: Path, hang_after: float, env: dict[str, str]) -> subprocess.Popen:
    script = tmp_path / "probe.py"
    script.write_text(NODE)
    return subprocess.Popen(
        [sys.executable, str(script), str(hang_after)],
        cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen, timeout_s: float) -> tuple[int | None, str]:
    """(exit code or None if it was still running after ``timeout_s``, its output)."""
    from edge_rover.common.processes import stop_process_group

    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop_process_group(proc, grace_s=5.0)
        return None, proc.stdout.read()
    return proc.returncode, proc.stdout.read()


@pytest.mark.ros
@pytest.mark.parametrize("watch", [True, False], ids=["watch", "control-no-watch"])
def test_a_node_whose_executor_hangs_exits_with_every_stack(tmp_path: Path, watch: bool) -> None:
    pytest.importorskip("rclpy")
    timeout = "1.5" if watch else "0"
    proc = _start_probe(tmp_path, 3.0, {STALL_ENV: timeout})
    started = time.monotonic()
    code, out = _finish(proc, 25.0)
    if not watch:  # the control: without the watch the hung node just sits there
        assert code is None and "probe hangs now" in out, out
        return
    assert code == 1, out
    assert "probe hangs now" in out and "Timeout (0:00:01.500000)!" in out, out
    assert "callback_that_hangs" in out, out  # the stuck thread's stack, for the log
    assert time.monotonic() - started < 20.0


@pytest.mark.ros
@pytest.mark.parametrize("watch", [True, False], ids=["watch", "control-no-watch"])
def test_a_node_whose_own_port_file_is_replaced_exits_with_the_line(tmp_path: Path, watch: bool) -> None:
    """The shared-memory profile; the probe's own receive port file unlinked and a new file put
    under its name (what a writer does after Fast DDS found the port not OK): the probe maps
    ``fastrtps_port<N> (deleted)``, logs the watch's line and exits EXIT_UNHEALTHY."""
    pytest.importorskip("rclpy")
    from tests.ros_helpers import shared_memory_transport

    with shared_memory_transport() as shm_env:
        env = {**shm_env, "EDGE_ROVER_PORT_WATCH": "1" if watch else "0"}
        proc = _start_probe(tmp_path, 0.0, env)
        try:
            lines: list[str] = []
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline and not any("liveness:" in line for line in lines):
                lines.append(proc.stdout.readline())  # the id's line comes first, then the watch's
            found = [re.search(r"DDS participant id (\d+)", line) for line in lines]
            claimed = next((int(f.group(1)) for f in found if f), None)
            assert claimed is not None, lines
            own = unicast_ports(int(os.environ["ROS_DOMAIN_ID"]), claimed)
            ports = [p for p in own if Path(f"/dev/shm/fastrtps_port{p}").exists()]
            assert ports, f"no port file of participant {claimed} in /dev/shm"
            port_file = Path(f"/dev/shm/fastrtps_port{ports[0]}")
            maps = Path(f"/proc/{proc.pid}/maps").read_text()
            assert f"{port_file} (deleted)" not in maps and str(port_file) in maps
            port_file.unlink()  # the probe's own file (this test started it): replaced by a new one
            port_file.write_bytes(bytes(4096))
            try:
                code, out = _finish(proc, 8.0)
            finally:
                port_file.unlink(missing_ok=True)
        finally:  # a failed check above must not leave the probe running
            if proc.poll() is None:
                from edge_rover.common.processes import stop_process_group

                stop_process_group(proc, grace_s=5.0)
    out = "".join(lines) + out
    if not watch:
        assert code is None, out
        return
    assert code == EXIT_UNHEALTHY, out
    assert replaced_message(ports[0]) in out, out
