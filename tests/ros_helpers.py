"""Helpers for tests that run real rclpy nodes on real DDS (domain isolated by conftest).

Use SingleThreadedExecutor: the MultiThreadedExecutor of the PyPI wheels loses messages.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge_rover.common.processes import stop_process_group


@pytest.fixture
def ros_context() -> Iterator[object]:
    """A fresh rclpy context for one test; shut down afterwards even when the test fails."""
    rclpy = pytest.importorskip("rclpy")
    context = rclpy.context.Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        context.try_shutdown()


def spin_until(executor: object, predicate: Callable[[], bool], timeout_s: float) -> bool:
    """Spin ``executor`` until ``predicate()`` holds or the timeout passes; returns predicate()."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        executor.spin_once(timeout_sec=0.02)
    return predicate()


@contextmanager
def running_process(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Start a process in its own session and stop it (SIGINT, then SIGKILL) by PID afterwards."""
    proc = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        stop_process_group(proc)


@contextmanager
def shared_memory_transport() -> Iterator[dict[str, str]]:
    """Environment for processes that move 640x480 frames: the project's shared-memory profile.

    Tests default to UDP only (no /dev/shm files from killed nodes), but 0.9 MB frames over UDP
    are often lost. Segments our processes still hold when they are gone are removed afterwards —
    only those no live process maps: another run's live port files, created meanwhile, stay (one
    unlinked under a live node makes it deaf for good, docs/faults.md).
    """
    from edge_rover.common.dds_identity import remove_unmapped_segments
    from tests.conftest import REPO_ROOT

    before = set(Path("/dev/shm").iterdir())
    try:
        yield {"FASTRTPS_DEFAULT_PROFILES_FILE": str(REPO_ROOT / "config" / "fastdds_profiles.xml")}
    finally:
        deadline = time.monotonic() + 10.0
        while True:  # nodes release their segments as they finish exiting
            ours = [p for p in set(Path("/dev/shm").iterdir()) - before if "fastrtps" in p.name]
            if not ours or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        remove_unmapped_segments(ours)
