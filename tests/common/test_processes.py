"""edge_rover.common.processes: the one way our tools stop what they started."""

from __future__ import annotations

import subprocess
import sys
import time

from edge_rover.common.processes import stop_process_group, stop_process_groups

READY = "print('ready', flush=True)\ntime.sleep(60)"
POLITE = "import signal, sys, time\nsignal.signal(signal.SIGINT, lambda *_: sys.exit(3))\n" + READY
STUBBORN = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n" + READY


def _start(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE, text=True
    )


def test_sigint_first_then_sigkill_only_for_the_one_that_ignores_it() -> None:
    polite, stubborn = _start(POLITE), _start(STUBBORN)
    for proc in (polite, stubborn):  # both have installed their SIGINT handling
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    started = time.monotonic()
    stop_process_groups([polite, stubborn], grace_s=1.0)
    assert polite.returncode == 3  # its own SIGINT handler ran: a clean shutdown
    assert stubborn.returncode == -9  # SIGKILL after the grace period
    assert time.monotonic() - started < 10


def test_stopping_an_exited_process_is_a_no_op() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait(timeout=10)
    stop_process_group(proc, grace_s=0.1)
    assert proc.returncode == 0
