"""Reproduce the Fast DDS shared-memory wedge: SIGKILL a participant while 640×480 frames flow, respawn it.

Three processes on real DDS with a Fast DDS profile (default: the project's shared-memory profile):

* ``camera``: publishes 640×480 bgr8 sensor_msgs/Image on /wedge/image at --fps, counts /wedge/ack;
* ``detector``: subscribes /wedge/image and answers each frame with a small /wedge/ack;
* ``viewer``: a bystander that only subscribes /wedge/image.

Each round kills the detector with SIGKILL (no goodbye on DDS, its segments left behind) while
frames flow, starts a new one and checks, within --timeout seconds, that (1) the new detector
receives frames again (the camera gets its acks) and (2) the bystander keeps receiving frames.
A round that fails either is a wedge; the script prints a Markdown table and writes JSON.

A role that exits by itself is started again after RESPAWN_DELAY_S, as launch's ``respawn=True``
does: with the ``fresh`` arm every role runs what run_node runs for our nodes — a fresh
participant id and the liveness watch (common/liveness.py), which exits a node whose own receive
port was replaced or whose executor stalled. Such self-restarts are counted per round, and
``recovered_s`` is the time from the detector's respawn until acks reach the camera and frames
the viewer again; a round is wedged only if the graph does not work again within --timeout.

    python -m dev.shm_wedge_repro [--rounds 20] [--profile config/fastdds_profiles.xml]
        [--hold 300] [--out benchmarks/results/shm_wedge.json]

``WEDGE_ACK_BURST=N`` makes the detector answer each frame N times (more pushes into the camera's
port: a wider window for the kill to land in). ``--hold S`` keeps the first wedged graph alive for
S seconds and prints its pids, to attach gdb (``gdb -p PID -batch -ex "thread apply all bt"``).
``--kill-in-lock own|push|any`` (needs gdb) kills the detector exactly while one of its threads
holds a shared-memory port's mutex, to test the dead-lock-holder explanation deterministically.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from edge_rover.common.dds_identity import remove_unmapped_segments
from edge_rover.common.processes import stop_process_groups

REPO_ROOT = Path(__file__).resolve().parents[1]
ROLES = ("camera", "detector", "viewer")
ACK_BURST = int(os.environ.get("WEDGE_ACK_BURST", "1"))


def _role(role: str, fps: float, status_path: Path) -> int:
    """Run one participant; write '<frames_in> <acks_in>' to ``status_path`` every 0.2 s."""
    import numpy as np
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from edge_rover.common.dds_identity import own_ports, use_fresh_participant_id
    from edge_rover.common.liveness import EXIT_UNHEALTHY
    from edge_rover.common.node_runner import CLEANUP_DEADLINE_S, NodeUnhealthyError, schedule_liveness_watch
    from edge_rover.common.qos import SENSOR_QOS

    fresh = os.environ.get("WEDGE_FRESH_ID") == "1"
    if fresh:  # what run_node does for every node of ours
        print(use_fresh_participant_id(), flush=True)
    rclpy.init()
    node = rclpy.create_node(f"wedge_{role}")
    counts = {"frames": 0, "acks": 0}
    if role == "camera":
        pub = node.create_publisher(Image, "/wedge/image", SENSOR_QOS)
        frame = Image(height=480, width=640, encoding="bgr8", step=1920)
        pixels = np.random.default_rng(0).integers(0, 255, 640 * 480 * 3, dtype=np.uint8)
        frame.data = pixels.tobytes()

        def tick() -> None:
            frame.header.stamp = node.get_clock().now().to_msg()
            pub.publish(frame)
            counts["frames"] += 1  # the camera counts what it published

        node.create_timer(1.0 / fps, tick)

        def on_ack(_msg: Header) -> None:
            counts["acks"] += 1

        node.create_subscription(Header, "/wedge/ack", on_ack, SENSOR_QOS)
    else:
        ack_pub = node.create_publisher(Header, "/wedge/ack", SENSOR_QOS) if role == "detector" else None

        def on_image(msg: Image) -> None:
            counts["frames"] += 1
            if ack_pub is not None:
                for _ in range(ACK_BURST):  # more pushes into the camera's port: a wider kill window
                    ack_pub.publish(msg.header)

        node.create_subscription(Image, "/wedge/image", on_image, SENSOR_QOS)

    def report() -> None:
        tmp = status_path.with_suffix(".tmp")
        tmp.write_text(f"{counts['frames']} {counts['acks']}")
        os.replace(tmp, status_path)

    node.create_timer(0.2, report)
    if fresh:  # and the liveness watch, as run_node does (EDGE_ROVER_STALL_TIMEOUT_S / _PORT_WATCH)
        schedule_liveness_watch(node, own_ports())
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except KeyboardInterrupt:
        pass
    except NodeUnhealthyError:  # as run_node: exit non-zero (a clean-up stuck in DDS gets a deadline)
        faulthandler.dump_traceback_later(CLEANUP_DEADLINE_S, exit=True)
        node.destroy_node()
        rclpy.try_shutdown()
        return EXIT_UNHEALTHY
    return 0


# gdb script for --kill-in-lock: stop the detector the moment one of its threads calls
# pthread_mutex_timedlock (boost interprocess_mutex::lock in Fast DDS 2.14) on a mutex inside a
# /dev/shm/fastrtps_port<N> mapping, let only that thread finish taking the lock, then SIGKILL the
# process: the dead process holds a shared-memory port's (non-robust) mutex.
#   own  - a listener thread ("dds.shm.<N>") locking its own port N (wait_pop)
#   push - a non-listener thread (the executor, publishing) locking another participant's port
#   any  - the first port mutex taken
KILL_IN_LOCK_GDB = r"""
set pagination off
set confirm off
python
import gdb, os, re
pid = gdb.selected_inferior().pid
mode = os.environ["WEDGE_KILL_MODE"]
ranges = []
for line in open(f"/proc/{pid}/maps"):
    # a mapping of a deleted segment ends in " (deleted)": match the port number, not the last word
    found = re.search(r"/dev/shm/fastrtps_port(\d+)", line)
    if found:
        a, b = line.split()[0].split("-")
        ranges.append((int(a, 16), int(b, 16), found.group(1)))
class InPortLock(gdb.Breakpoint):
    def stop(self):
        address = int(gdb.parse_and_eval("$rdi"))
        hit = [r[2] for r in ranges if r[0] <= address < r[1] and int(r[2]) >= 8000]
        if not hit:
            return False
        name = gdb.selected_thread().name or ""
        listener = name.startswith("dds.shm.")
        if (mode == "own" and name != f"dds.shm.{hit[0]}") or (mode == "push" and listener):
            return False
        print(f"WEDGE_LOCK thread={name} port={hit[0]}")
        return True
InPortLock("pthread_mutex_timedlock")
end
continue
delete
set scheduler-locking on
finish
python
taken = int(gdb.parse_and_eval("$rax")) == 0
print("WEDGE_LOCK_TAKEN", taken)
if taken:  # otherwise detach and leave it running: the caller tries again
    os.kill(pid, 9)
end
"""


def _kill_in_port_lock(pid: int, mode: str, work: Path, tries: int = 3) -> str:
    """SIGKILL ``pid`` while one of its threads holds a shared-memory port mutex (via gdb).

    Up to ``tries`` gdb attaches (the process runs on between them); then a plain SIGKILL. Each
    attempt's gdb output is kept in ``work`` (gdb_<pid>_<try>.log) to see why a catch failed.
    """
    script = work / "kill_in_lock.gdb"
    script.write_text(KILL_IN_LOCK_GDB)
    for attempt in range(1, tries + 1):
        try:
            result = subprocess.run(
                ["gdb", "-p", str(pid), "-batch", "-x", str(script)], cwd=work,  # a gdb core file lands there
                capture_output=True, text=True, timeout=60, env={**os.environ, "WEDGE_KILL_MODE": mode},
            )  # fmt: skip
        except subprocess.TimeoutExpired:  # gdb killed: the detector is detached and runs on
            continue
        (work / f"gdb_{pid}_{attempt}.log").write_text(result.stdout + "\n--- stderr\n" + result.stderr)
        found = [line for line in result.stdout.splitlines() if line.startswith("WEDGE_LOCK")]
        if len(found) >= 2 and found[-1].endswith("True"):
            return found[0].removeprefix("WEDGE_LOCK ") + f" try={attempt}"
    os.kill(pid, signal.SIGKILL)
    return f"plain SIGKILL (no port lock caught in {tries} gdb attaches)"


def _stale_port_mappings(pid: int) -> list[int]:
    """Shared-memory ports ``pid`` maps whose segment was deleted (the wedge's stale mapping)."""
    try:
        text = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return []
    return sorted({int(m) for m in re.findall(r"/dev/shm/fastrtps_port(\d+) \(deleted\)", text)})


def _listener_ports(pid: int) -> list[int]:
    """The shared-memory ports ``pid`` listens on (its threads are named dds.shm.<port>)."""
    ports = set()
    for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
        try:
            name = comm.read_text().strip()
        except OSError:
            continue
        if name.startswith("dds.shm.") and name[8:].isdigit() and int(name[8:]) >= 8000:
            ports.add(int(name[8:]))
    return sorted(ports)


def _start(role: str, fps: float, work: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    status = work / f"{role}_{time.monotonic_ns()}.status"
    args = [sys.executable, "-m", "dev.shm_wedge_repro", "--role", role, "--fps", str(fps)]
    with open(status.with_suffix(".log"), "w") as log:  # its first line: the claimed participant id
        proc = subprocess.Popen(
            [*args, "--status", str(status)],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return proc, status


def _participant_id(status: Path) -> int | None:
    """The id a role claimed (its log's 'DDS participant id N' line); None without the fix."""
    try:
        first = status.with_suffix(".log").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    words = first.split()
    return int(words[3]) if first.startswith("DDS participant id ") and words[3].isdigit() else None


def _read(status: Path) -> tuple[int, int]:
    try:
        frames, acks = status.read_text().split()
        return int(frames), int(acks)
    except (OSError, ValueError):
        return 0, 0


class _Supervisor:
    """The graph's processes, respawned as launch's ``respawn=True`` does: a role that exits by
    itself (the liveness watch restarting a node that can no longer work) starts again after
    ``RESPAWN_DELAY_S``. Counters are summed over a role's processes, so a camera restarted in
    the middle of a round still counts what it published and heard before."""

    def __init__(self, fps: float, work: Path, env: dict[str, str], respawn_delay_s: float) -> None:
        self.fps, self.work, self.env, self.respawn_delay_s = fps, work, env, respawn_delay_s
        self.procs: dict[str, subprocess.Popen] = {}
        self.status: dict[str, Path] = {}
        self.base: dict[str, tuple[int, int]] = {}
        self.due: dict[str, float] = {}  # role -> monotonic time of its respawn
        self.exits: list[dict] = []  # self-restarts: {role, rc, reason, t}

    def start(self, role: str) -> None:
        old = self.status.get(role)
        if old is not None:
            frames, acks = _read(old)
            base = self.base.get(role, (0, 0))
            self.base[role] = (base[0] + frames, base[1] + acks)
        self.procs[role], self.status[role] = _start(role, self.fps, self.work, self.env)
        self.due.pop(role, None)

    def killed(self, role: str) -> None:
        """The caller killed ``role`` on purpose and respawns it itself: not a self-restart —
        unless it had exited by itself before the kill (then it is recorded as one)."""
        rc = self.procs[role].wait(timeout=10)
        if rc != -signal.SIGKILL:
            reason = _exit_reason(self.status[role], rc)
            self.exits.append({"role": role, "rc": rc, "reason": reason, "t": time.monotonic()})

    def poll(self) -> None:
        now = time.monotonic()
        for role, proc in self.procs.items():
            if role in self.due:
                if now >= self.due[role]:
                    self.start(role)
                continue
            rc = proc.poll()
            if rc is None:
                continue
            reason = _exit_reason(self.status[role], rc)
            self.exits.append({"role": role, "rc": rc, "reason": reason, "t": now})
            self.due[role] = now + self.respawn_delay_s

    def counts(self, role: str) -> tuple[int, int]:
        frames, acks = _read(self.status[role])
        base = self.base.get(role, (0, 0))
        return base[0] + frames, base[1] + acks

    def pids(self) -> dict[str, int]:
        return {role: proc.pid for role, proc in self.procs.items()}

    def wait_growth(self, role: str, index: int, timeout_s: float, minimum: int = 5) -> float | None:
        """Seconds until counter ``index`` of ``role`` grew by ``minimum``; None on timeout.
        Respawns exited roles meanwhile."""
        start_value, start = self.counts(role)[index], time.monotonic()
        while time.monotonic() - start < timeout_s:
            self.poll()
            if self.counts(role)[index] >= start_value + minimum:
                return time.monotonic() - start
            time.sleep(0.05)
        return None


def _exit_reason(status: Path, rc: int | None = None) -> str:
    """Why a role exited by itself: its liveness watch's line, the stall watchdog's header, or the
    signal that ended it (SIGTRAP: a gdb of --kill-in-lock that timed out and was killed)."""
    if rc is not None and rc < 0:
        return f"killed by {signal.Signals(-rc).name}"
    try:
        lines = status.with_suffix(".log").read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    for line in reversed(lines):
        if "was replaced" in line:
            return "own port replaced"
        if line.startswith("Timeout ("):
            return "executor stalled"
    return lines[-1][-200:] if lines else "empty log"


def _fastdds_version() -> str:
    import rclpy

    libs = sorted((Path(rclpy.__file__).parents[3]).glob("libfastrtps.so.*.*.*"))
    return libs[-1].name.removeprefix("libfastrtps.so.") if libs else "unknown"


def _shm_segments() -> set[str]:
    return {p.name for p in Path("/dev/shm").iterdir() if "fastrtps_" in p.name}


def _diagnosis(pids: dict[str, int]) -> dict:
    """For a wedge: each process' port mappings (inode, deleted or not), the port files' inodes
    now, and who holds a lock on which inode (/proc/locks): who listens on what nobody writes."""
    maps = {}
    for role, pid in pids.items():
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
            maps[role] = sorted({" ".join(line.split()[4:]) for line in lines if "fastrtps_port" in line})
    files = {}
    for path in Path("/dev/shm").glob("fastrtps_port*"):
        with contextlib.suppress(OSError):
            files[path.name] = path.stat().st_ino
    locks = []
    with contextlib.suppress(OSError):
        wanted = {str(pid) for pid in pids.values()}
        locks = [line for line in Path("/proc/locks").read_text().splitlines() if line.split()[4] in wanted]
    return {"maps": maps, "port_files": files, "locks": locks, "pids": pids}


def _id_from_ports(ports: list[int], domain: int) -> int | None:
    """Participant id from a participant's own shared-memory ports (7410 + 250·domain + 2·id)."""
    ids = {(p - 7410 - 250 * domain) // 2 for p in ports if 0 <= p - 7410 - 250 * domain < 240}
    return min(ids) if len(ids) == 1 else None


# arm -> the roles' environment. fresh: what run_node does (a fresh participant id and the liveness
# watch); id_only: the fresh id without the watch (the fix before it); default: neither (control).
ARMS = {
    "fresh": {"WEDGE_FRESH_ID": "1"},
    "id_only": {"WEDGE_FRESH_ID": "1", "EDGE_ROVER_STALL_TIMEOUT_S": "0", "EDGE_ROVER_PORT_WATCH": "0"},
    "default": {"WEDGE_FRESH_ID": "0"},
}


def _graph(
    rounds: int, fps: float, timeout_s: float, env: dict[str, str], kill_in_lock: str, hold_s: float,
    on_round: Callable[[dict], None],
) -> int:  # fmt: skip
    """One graph (camera, viewer, detector); up to ``rounds`` kill + respawn rounds, each passed to
    ``on_round``. A role that exits by itself is respawned after RESPAWN_DELAY_S (as launch does).
    A wedge that lasts past the late wait ends the graph (every later respawn in it would count
    the same wedge again); returns the rounds done."""
    from edge_rover.common.launch_helpers import RESPAWN_DELAY_S

    work = Path(tempfile.mkdtemp(prefix="shm_wedge_"))
    before = _shm_segments()
    graph = _Supervisor(fps, work, env, RESPAWN_DELAY_S)
    for role in ("camera", "viewer", "detector"):
        graph.start(role)
    done = 0
    domain = int(env["ROS_DOMAIN_ID"])
    try:
        if graph.wait_growth("camera", 1, 60.0) is None:
            raise RuntimeError(f"no acks at start: the graph never connected (not a wedge); logs in {work}")
        for _ in range(rounds):
            settle = time.monotonic()
            while time.monotonic() - settle < 1.0:  # frames flowing (and respawns due from before)
                graph.poll()
                time.sleep(0.05)
            while graph.due:  # a role still restarting from the previous round
                graph.poll()
                time.sleep(0.05)
            exits_before = len(graph.exits)
            detector, det_status = graph.procs["detector"], graph.status["detector"]
            killed_id = _participant_id(det_status) or _id_from_ports(_listener_ports(detector.pid), domain)
            if kill_in_lock:
                killed_how = _kill_in_port_lock(detector.pid, kill_in_lock, work)
            else:
                os.kill(detector.pid, signal.SIGKILL)
                killed_how = "SIGKILL"
            graph.killed("detector")
            time.sleep(0.2)
            graph.start("detector")
            respawned = time.monotonic()
            acks_back = graph.wait_growth("camera", 1, timeout_s)
            viewer_ok = graph.wait_growth("viewer", 0, 5.0)
            working = acks_back is not None and viewer_ok is not None
            recovered = time.monotonic() - respawned if working else None
            camera_alive = graph.wait_growth("camera", 0, 3.0)
            camera, detector = graph.procs["camera"], graph.procs["detector"]
            result = {
                "killed": killed_how,
                "killed_in_lock": killed_how.startswith("thread="),
                "killed_participant_id": killed_id,
                "new_participant_id": _participant_id(graph.status["detector"])
                or _id_from_ports(_listener_ports(detector.pid), domain),
                "camera_ports": _listener_ports(camera.pid),
                "camera_stale_port_mappings": _stale_port_mappings(camera.pid),
                "acks_back_s": acks_back,
                "viewer_frames_s": viewer_ok,
                "camera_publishing": camera_alive is not None,
                "wedged": acks_back is None or viewer_ok is None,
                "recovered_s": recovered,  # respawn -> acks at the camera and frames at the viewer
            }
            if acks_back is None:  # transient (a slow start under load) or for good? Wait longer.
                late = graph.wait_growth("camera", 1, 30.0)
                result["acks_back_late_s"] = None if late is None else timeout_s + late
                result["diagnosis"] = _diagnosis(graph.pids())
            result["self_restarts"] = [
                {**e, "t": round(e["t"] - respawned, 2)} for e in graph.exits[exits_before:]
            ]  # t: seconds after the detector's respawn (negative: between the kill and it)
            on_round(result)
            done += 1
            if result["wedged"] and hold_s > 0:
                print(f"\nwedged: pids {graph.pids()}; logs in {work}; holding {hold_s} s", flush=True)
                time.sleep(hold_s)
                break
            if acks_back is None and result["acks_back_late_s"] is None:
                break  # wedged for good: a new graph for the next round
    finally:
        stop_process_groups([graph.procs[r] for r in ("detector", "viewer", "camera")])
        remove_unmapped_segments([Path("/dev/shm", name) for name in _shm_segments() - before])
    return done


def _wedge_kind(one: dict, domain: int | None) -> str:
    """Which wedge a wedged round shows, from the camera's mappings of deleted port segments:
    ``stale mapping`` (it pushes into a deleted segment of the new detector's port: the id was
    reused, the bug the fresh id avoids), ``own port removed`` (its own receiving port's file was
    unlinked while it listened: new writers create a new file nobody reads), else ``other``."""
    stale = set(one["camera_stale_port_mappings"])
    new_id = one["new_participant_id"]
    if domain is not None and new_id is not None and 7411 + 250 * domain + 2 * new_id in stale:
        return "stale mapping"
    if stale & set(one["camera_ports"]):
        return "own port removed"
    return "other"


def _figures(results: list[dict], domain: int | None = None) -> dict:
    backs = sorted(r["acks_back_s"] for r in results if r["acks_back_s"] is not None)
    in_lock = [r for r in results if r["killed_in_lock"]]
    kinds = [_wedge_kind(r, domain) for r in results if r["wedged"] and r.get("acks_back_late_s") is None]
    return {
        "wedged_for_good_by_kind": {k: kinds.count(k) for k in sorted(set(kinds))},
        "graphs": len({r["graph"] for r in results}),
        "rounds": len(results),
        "wedged": sum(r["wedged"] for r in results),
        "wedged_for_good": sum(r["wedged"] and r.get("acks_back_late_s") is None for r in results),
        "killed_in_lock": len(in_lock),
        "wedged_in_lock": sum(r["wedged"] for r in in_lock),
        "same_id_respawns": sum(
            r["killed_participant_id"] is not None and r["killed_participant_id"] == r["new_participant_id"]
            for r in results
        ),
        "respawn_to_first_acks_s_median": backs[len(backs) // 2] if backs else None,
        "respawn_to_first_acks_s_max": backs[-1] if backs else None,
        "respawns_over_5_s": sum(b > 5.0 for b in backs),
        **_restart_figures(results),
    }


def _exit_kind(exit_: dict) -> str:
    """A self-restart's reason for the tables (the signal when it died of one)."""
    rc = exit_.get("rc")
    return f"killed by {signal.Signals(-rc).name}" if isinstance(rc, int) and rc < 0 else exit_["reason"]


def _restart_figures(results: list[dict]) -> dict:
    """Self-restarts by the liveness watch (rounds of tools before it have none) and the time from
    the detector's respawn until the graph works again (acks at the camera, frames at the viewer)."""
    exits = [e for r in results for e in r.get("self_restarts", [])]
    kinds = [f"{e['role']}: {_exit_kind(e)}" for e in exits]
    recovered = sorted(r["recovered_s"] for r in results if r.get("recovered_s") is not None)
    with_restart = sorted(
        r["recovered_s"] for r in results if r.get("self_restarts") and r.get("recovered_s") is not None
    )
    return {
        "self_restarts": len(exits),
        "self_restarts_by_kind": {k: kinds.count(k) for k in sorted(set(kinds))},
        "rounds_with_self_restarts": sum(bool(r.get("self_restarts")) for r in results),
        "recovery_s_median": recovered[len(recovered) // 2] if recovered else None,
        "recovery_s_max": recovered[-1] if recovered else None,
        "recovery_with_self_restart_s_median": with_restart[len(with_restart) // 2] if with_restart else None,
        "recovery_with_self_restart_s_max": with_restart[-1] if with_restart else None,
    }


def run(
    rounds: int, fps: float, timeout_s: float, profile: Path, hold_s: float = 0.0, kill_in_lock: str = "",
    arms: list[str] | None = None, block: int = 0, out: Path | None = None, domain: int | None = None,
) -> dict:  # fmt: skip
    """``rounds`` per arm. One arm (default: as WEDGE_FRESH_ID says) runs in one graph; several
    alternate in blocks of ``block`` rounds, each block a new graph, so the arms share the
    machine's load. The result is rewritten to ``out`` after every round. ``domain``: a ROS domain
    the caller knows to be free (default: one claimed with the tests' lock files)."""
    from edge_rover.common.ros_domain import claim_domain_id

    if not arms:  # an arm named twice gets two blocks per turn (it reaches ``rounds`` sooner)
        arms = ["fresh" if os.environ.get("WEDGE_FRESH_ID") == "1" else "default"]
    block = block or rounds
    # A domain of its own (the tests' lock files): a foreign participant killed in the same domain
    # can wedge ours too (discovery traffic goes through the same shared-memory ports).
    if domain is None:
        domain, _domain_lock = claim_domain_id()
    base_env = {**os.environ, "FASTRTPS_DEFAULT_PROFILES_FILE": str(profile), "PYTHONUNBUFFERED": "1"}
    base_env["ROS_DOMAIN_ID"] = str(domain)
    base_env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    result: dict = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "parameters": {
            "rounds_per_arm": rounds,
            "arms": arms,
            "block": block,
            "fps": fps,
            "timeout_s": timeout_s,
            "profile": str(profile.name),
            "ack_burst": ACK_BURST,
            "kill_in_lock": kill_in_lock or None,
            "domain": domain,
            "fast_dds": _fastdds_version(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "graph_start_failures": [],
        "rounds": [],
    }
    progress = tqdm(total=rounds * len(set(arms)), desc="SIGKILL + respawn", unit="round")

    def record(arm: str, graph: int, one: dict) -> None:
        result["rounds"].append({"arm": arm, "graph": graph, "t": round(time.time(), 1), **one})
        result["figures"] = {
            a: _figures([r for r in result["rounds"] if r["arm"] == a], domain) for a in arms
        }
        progress.update()
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2))

    done = dict.fromkeys(arms, 0)
    graph = 0
    try:
        while any(done[a] < rounds for a in arms):
            for arm in arms:
                todo = min(block, rounds - done[arm])
                if todo <= 0:
                    continue
                graph += 1
                env = {**base_env, **ARMS[arm]}

                def on_round(one: dict, a: str = arm, g: int = graph) -> None:
                    record(a, g, one)

                try:
                    done[arm] += _graph(todo, fps, timeout_s, env, kill_in_lock, hold_s, on_round)
                except RuntimeError as error:  # counted, not a wedge; the next block starts a new graph
                    result["graph_start_failures"].append({"arm": arm, "graph": graph, "error": str(error)})
                    print(f"\n{arm}: {error}", flush=True)
                    if len(result["graph_start_failures"]) > 5:
                        raise
                    continue
                if hold_s > 0 and any(r["wedged"] for r in result["rounds"]):
                    return result
    finally:
        progress.close()
    return result


def _print_table(result: dict) -> None:
    header = ["arm", "graphs", "rounds", "killed in the lock", "wedged (in the lock)",
              "for good: stale mapping / own port removed / other",
              "respawn → acks p50 s", "max s", "> 5 s", "self-restarts", "recovery p50 / max s"]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for arm, f in result.get("figures", {}).items():
        kinds = f["wedged_for_good_by_kind"]
        by_kind = " / ".join(str(kinds.get(k, 0)) for k in ("stale mapping", "own port removed", "other"))
        median, top = f["respawn_to_first_acks_s_median"], f["respawn_to_first_acks_s_max"]
        cells = [arm, f["graphs"], f["rounds"], f["killed_in_lock"],
                 f"{f['wedged']} ({f['wedged_in_lock']})", by_kind,
                 median and round(median, 2), top and round(top, 2), f["respawns_over_5_s"],
                 _restarts_cell(f), _recovery_cell(f)]  # fmt: skip
        print("| " + " | ".join(str(c) for c in cells) + " |")


def _restarts_cell(f: dict) -> str:
    kinds = f.get("self_restarts_by_kind", {})
    why = ", ".join(f"{kind}: {n}" for kind, n in kinds.items())
    return f"{f.get('self_restarts', 0)}" + (f" ({why})" if why else "")


def _recovery_cell(f: dict) -> str:
    median, top = f.get("recovery_s_median"), f.get("recovery_s_max")
    return "–" if median is None else f"{median:.2f} / {top:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    parser.add_argument("--status", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=20, help="kill + respawn rounds (per arm)")
    parser.add_argument("--fps", type=float, default=20.0)
    parser.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        help="seconds the graph gets to work again after the respawn (acks at the camera; a camera "
        "the liveness watch restarts needs ~10 s of them)",
    )
    parser.add_argument("--domain", type=int, help="ROS domain to use (default: claim a free one in 1..100)")
    parser.add_argument("--profile", type=Path, default=REPO_ROOT / "config" / "fastdds_profiles.xml")
    parser.add_argument("--out", type=Path, help="JSON result, rewritten after every round")
    parser.add_argument(
        "--kill-in-lock",
        choices=("own", "push", "any"),
        default="",
        help="kill the detector (via gdb) while it holds a shared-memory port mutex",
    )
    parser.add_argument(
        "--arms",
        default="",
        help="comma list of fresh (fresh participant id + liveness watch: what run_node does), id_only "
        "(the fresh id alone) and default (neither: the control), run in alternating blocks; "
        "default: one arm as $WEDGE_FRESH_ID says",
    )
    parser.add_argument("--block", type=int, default=0, help="rounds per graph when arms alternate")
    parser.add_argument("--hold", type=float, default=0.0, help="on the first wedge: keep it this long, stop")
    parser.add_argument(
        "--summarize", type=Path, help="recompute the figures of a result JSON, print the table"
    )
    args = parser.parse_args(argv)
    if args.role:
        return _role(args.role, args.fps, args.status)
    if args.summarize:
        result = json.loads(args.summarize.read_text())
        domain, arms = result["parameters"]["domain"], dict.fromkeys(r["arm"] for r in result["rounds"])
        result["figures"] = {
            a: _figures([r for r in result["rounds"] if r["arm"] == a], domain) for a in arms
        }
        _print_table(result)
        return 0
    arms = [a for a in args.arms.split(",") if a]
    if any(a not in ARMS for a in arms):
        parser.error(f"--arms: choose from {', '.join(ARMS)}, got {args.arms!r}")
    result = run(
        args.rounds, args.fps, args.timeout, args.profile.resolve(), args.hold, args.kill_in_lock,
        arms, args.block, args.out, args.domain,
    )  # fmt: skip
    _print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
