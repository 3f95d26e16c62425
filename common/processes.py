"""The one way our tools stop a process they started: its whole session, politely first.

Processes are started with ``start_new_session=True`` so that the group holds the process and
whatever it spawned (``ros2 run``/``ros2 launch`` start the node as a child); SIGINT lets ROS nodes
shut down cleanly (and release their DDS resources), SIGKILL follows only when that hangs.
"""

from __future__ import annotations

import os
import signal
import subprocess


def stop_process_group(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGINT the process' session, wait ``grace_s``, then SIGKILL it; no-op if it already exited."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:  # exited between the poll and the signal
        proc.wait(timeout=5)
