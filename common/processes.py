"""The one way our tools stop a process they started: its whole session, politely first.

Processes are started with ``start_new_session=True`` so that the group holds the process and
whatever it spawned (``ros2 run``/``ros2 launch`` start the node as a child); SIGINT lets ROS nodes
shut down cleanly (and release their DDS resources), SIGKILL follows only when that hangs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_process_group(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGINT the process' session, wait ``grace_s``, then SIGKILL it; no-op if it already exited."""
    stop_process_groups([proc], grace_s)


def stop_process_groups(procs: list[subprocess.Popen], grace_s: float = 10.0) -> None:
    """Stop several at once: SIGINT every session first (nodes of one graph shut down together
    instead of each one waiting out its peers' disappearance), then wait/SIGKILL each."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # exited between the poll and the signal
                os.killpg(proc.pid, signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
