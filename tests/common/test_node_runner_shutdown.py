"""run_node's exit code at shutdown (common/node_runner.py): Ctrl-C that lands while rclpy converts
a message it takes comes out of spin as pybind11's RuntimeError, not KeyboardInterrupt (seen in a
loaded e2e run, upstream ros/joint_state_publisher#117). That is a clean stop; the same
RuntimeError without a shutdown is a fault and must still end the node with exit 1.

Real rclpy nodes in subprocesses. The race itself is rare, so the node makes it happen: its timer
raises SIGINT inside a try, as rclpy's take does, and turns the KeyboardInterrupt into the
RuntimeError pybind11 makes of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

NODE = r"""
import signal, sys
from rclpy.node import Node
from edge_rover.common.node_runner import run_node

with_signal = sys.argv[1] == "signal"

class Taker(Node):
    def __init__(self):
        super().__init__("shutdown_probe")
        self.create_timer(0.2, self.take)

    def take(self):
        try:
            if with_signal:
                signal.raise_signal(signal.SIGINT)  # what Ctrl-C / launch's stop delivers
        except KeyboardInterrupt:
            pass
        raise RuntimeError("Unable to convert call argument '0' to Python object")

raise SystemExit(run_node(Taker, "shutdown_probe"))
"""


def _run(tmp_path: Path, mode: str) -> tuple[int, str]:
    script = tmp_path / "taker.py"
    script.write_text(NODE)
    done = subprocess.run(
        [sys.executable, str(script), mode], cwd=REPO_ROOT, env=dict(os.environ),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


@pytest.mark.ros
def test_the_take_error_of_a_ctrl_c_is_a_clean_stop(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "signal")
    assert code == 0, output[-3000:]
    assert "shutdown_probe: shut down during a callback (Unable to convert" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]


@pytest.mark.ros
def test_the_same_error_without_a_shutdown_is_still_a_fault(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "no-signal")
    assert code == 1, output[-3000:]
    assert "Traceback" in output and "Unable to convert call argument" in output, output[-3000:]
    assert "shut down during a callback" not in output
