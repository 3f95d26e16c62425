"""Liveness watch: a node that can no longer work exits, so launch's respawn brings it back.

Two ways a node of ours stays deaf or silent for good after a peer dies nearby (docs/faults.md,
"The shared-memory wedge"), both after a peer is SIGKILLed while it holds the mutex of this
node's shared-memory receive port (Fast DDS 2.14.5, non-robust interprocess mutexes):

* **own receive port replaced.** Fast DDS finds the port "not OK" (its listener stopped checking
  in: it waits for the dead peer's mutex), unlinks ``/dev/shm/fastrtps_port<N>`` and a writer
  creates a new file under that name. This node keeps listening on the old, deleted segment:
  nothing it subscribes reaches it again. Seen as ``fastrtps_port<N> (deleted)`` in
  ``/proc/self/maps`` with N one of this node's own ports.
* **hung executor.** A thread blocked for good on such a mutex can take the executor with it (a
  publish that waits on the transport): the node's timers stop, it publishes nothing. Watched by
  ``faulthandler.dump_traceback_later(..., exit=True)``, which runs in a C thread that needs no
  GIL: re-armed from an executor timer, it fires only when the executor has not come round for
  the stall timeout, dumps every thread's stack to stderr (``Timeout (0:00:05)!``) and exits 1.

Either way the process exits non-zero and launch respawns it (``respawn=True``, after
``RESPAWN_DELAY_S``) with a fresh participant id (common/dds_identity.py): new ports, which every
writer opens fresh. This module is the pure part (no rclpy: time and file text are passed in);
``common.node_runner.schedule_liveness_watch`` wires it into every node.

``EDGE_ROVER_STALL_TIMEOUT_S`` sets the stall timeout (seconds, default 5; ``0`` turns the
executor watch off); ``EDGE_ROVER_PORT_WATCH=0`` turns the port watch off.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

STALL_ENV = "EDGE_ROVER_STALL_TIMEOUT_S"
PORT_WATCH_ENV = "EDGE_ROVER_PORT_WATCH"
DEFAULT_STALL_TIMEOUT_S = 5.0  # far above any callback of ours (the detector's ~0.1-1 s per frame)
CHECK_PERIOD_S = 1.0  # how often the watch looks (and re-arms the stall watchdog)
EXIT_UNHEALTHY = 3  # exit code of a node the port watch stops (the stall watchdog's is 1)

_DELETED_PORT = re.compile(r"/fastrtps_port(\d+) \(deleted\)$")
_PORT_MAPPING = re.compile(r"^\S+ \S+ \S+ \S+ (\d+)\s+/dev/shm/fastrtps_port(\d+)( \(deleted\))?$")
_LISTENER_THREAD = re.compile(r"^dds\.shm\.(\d+)$")


def stall_timeout_s(
    environ: Mapping[str, str] | None = None, default: float = DEFAULT_STALL_TIMEOUT_S
) -> float:
    """The executor stall timeout from ``EDGE_ROVER_STALL_TIMEOUT_S`` (0 or less: off)."""
    env = os.environ if environ is None else environ
    text = env.get(STALL_ENV, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError as exc:
        raise ValueError(f"{STALL_ENV}={text!r}: seconds expected (0 turns the watch off)") from exc
    if value != value or value == float("inf"):  # NaN, inf
        raise ValueError(f"{STALL_ENV}={text!r}: a finite number of seconds expected")
    return max(value, 0.0)


def port_watch_enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(PORT_WATCH_ENV, "1") != "0"


def deleted_port_mappings(maps_text: str) -> set[int]:
    """Shared-memory port numbers whose mapping in a ``/proc/PID/maps`` text is of a deleted file."""
    ports = set()
    for line in maps_text.splitlines():
        found = _DELETED_PORT.search(line.rstrip())
        if found:
            ports.add(int(found.group(1)))
    return ports


def live_port_inodes(maps_text: str) -> dict[int, set[int]]:
    """Port number -> inodes of the port files a ``/proc/PID/maps`` text maps that are not deleted."""
    inodes: dict[int, set[int]] = {}
    for line in maps_text.splitlines():
        found = _PORT_MAPPING.match(line.rstrip())
        if found and not found.group(3):
            inodes.setdefault(int(found.group(2)), set()).add(int(found.group(1)))
    return inodes


def listener_ports(thread_names: Iterable[str]) -> set[int]:
    """The ports a process listens on, from its thread names (Fast DDS names them dds.shm.<port>).

    Ports below 7400 (7000-7006, opened by participants of every domain, shared) are left out.
    """
    ports = set()
    for name in thread_names:
        found = _LISTENER_THREAD.match(name.strip())
        if found and int(found.group(1)) >= 7400:
            ports.add(int(found.group(1)))
    return ports


def replaced_message(port: int) -> str:
    return (
        f"DDS shared-memory receive port {port} was replaced (a peer died holding its lock): "
        "restarting so this node rejoins"
    )


@dataclass
class LivenessWatch:
    """Decides, from what the node's process looks like now, whether it must restart.

    ``own_ports``: this node's receive ports when known in advance (the claimed participant id's
    unicast ports); the listener threads' ports are added on every check.
    """

    own_ports: set[int] = field(default_factory=set)
    check_ports: bool = True
    confirm: int = 2  # checks in a row that must find it replaced (the listener may re-create it)
    _streak: dict[int, int] = field(default_factory=dict)

    def verdict(
        self,
        maps_text: str,
        thread_names: Iterable[str] = (),
        current_inode: Callable[[int], int | None] = lambda _port: None,
    ) -> str | None:
        """None while healthy; else the one log line saying why the node restarts (once a port
        was found replaced in ``confirm`` checks in a row).

        A port counts as replaced when the process maps a deleted segment of it and does not map
        the file now under its name (``current_inode(port)``: its inode, None when there is none).
        Fast DDS's listener re-creates a port it finds not OK itself and maps the new file: such a
        node hears again, the old mapping it still holds is harmless.
        """
        if not self.check_ports:
            return None
        ours = self.own_ports | listener_ports(thread_names)
        live = live_port_inodes(maps_text)
        replaced = set()
        for port in deleted_port_mappings(maps_text) & ours:
            now = current_inode(port)
            if now is None or now not in live.get(port, set()):
                replaced.add(port)
        self._streak = {port: self._streak.get(port, 0) + 1 for port in replaced}
        due = sorted(port for port, streak in self._streak.items() if streak >= self.confirm)
        return replaced_message(due[0]) if due else None


@dataclass
class StallClock:
    """Bookkeeping of the executor stall watchdog (the deadline itself lives in faulthandler's C
    thread): when it was last re-armed and the longest gap between two re-arms seen."""

    timeout_s: float
    last_arm: float | None = None
    longest_gap_s: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.timeout_s > 0.0

    def arm(self, now: float) -> float:
        """Record a re-arm at ``now``; returns the gap since the previous one (0 for the first)."""
        gap = 0.0 if self.last_arm is None else now - self.last_arm
        self.longest_gap_s = max(self.longest_gap_s, gap)
        self.last_arm = now
        return gap

    def overdue(self, now: float) -> bool:
        """True when the watchdog would have fired by ``now`` (no re-arm for ``timeout_s``)."""
        return self.enabled and self.last_arm is not None and now - self.last_arm >= self.timeout_s

    def describe(self) -> str:
        if not self.enabled:
            return f"executor stall watch off ({STALL_ENV}=0)"
        return (
            f"executor stall watch: no executor turn for {self.timeout_s:g} s -> every thread's stack "
            f"on stderr ('Timeout (...)!') and exit 1 (launch respawns the node; {STALL_ENV})"
        )
