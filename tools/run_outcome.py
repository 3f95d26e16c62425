"""What a demo run's outcome was, from its launch log and metrics (pure: no ROS, no processes).

The demo's exit code gates a user's CI, so it must never say "passed" for a run that did not run:

    0  passed   the scenario ran to its end and met its success block, and no node died
    1  failed   the scenario ran but failed, or a pipeline node died during the run
    2  could not run   the simulator (or bag replay) died, wrote no metrics, or the run timed out
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PASSED, FAILED, COULD_NOT_RUN = 0, 1, 2
VERDICT_WORDS = {PASSED: "PASSED", FAILED: "FAILED", COULD_NOT_RUN: "COULD NOT RUN"}
TIMEOUT_EXIT_CODES = (124, 137)  # coreutils timeout: TERM sent / KILL sent
SOURCE_NODES = ("sim", "bag_replay")  # without them there is no run at all

# ros2 launch: "[ERROR] [detector-2]: process has died [pid 42, exit code 1, cmd '...']."
_DIED = re.compile(
    r"\[ERROR\] \[(?P<proc>(?P<node>[\w]+)-\d+)\]: process has died \[pid \d+, exit code (?P<code>-?\d+)"
)
# Once launch starts sending signals the graph is shutting down: deaths after that are the shutdown's.
_SHUTDOWN = re.compile(r"sending signal '(SIGINT|SIGTERM)'")
_LEVEL = re.compile(r"\[(ERROR|FATAL)\]")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # nodes run with emulate_tty colour their lines


@dataclass(frozen=True)
class NodeFailure:
    node: str
    exit_code: int
    message: str  # the node's own last error line(s), for the person reading the demo's output

    def describe(self) -> str:
        return f"{self.node} died (exit code {self.exit_code}): {self.message}"


def _last_words(lines: list[str], proc: str, limit: int = 3) -> str:
    """The process's last ERROR/FATAL lines (else its last lines), without launch's prefixes."""
    own = [line.split("] ", 1)[1] if "] " in line else line for line in lines if line.startswith(f"[{proc}]")]
    errors = [line for line in own if _LEVEL.search(line)]
    chosen = (errors or own)[-limit:]
    return " | ".join(line.strip() for line in chosen) or "(it printed nothing; see the launch log)"


def node_failures(launch_log: str) -> list[NodeFailure]:
    """Nodes that died before the graph was shut down, each with its last error message."""
    lines = _ANSI.sub("", launch_log).splitlines()
    failures = []
    for line in lines:
        if _SHUTDOWN.search(line):
            break
        match = _DIED.search(line)
        if match:
            failures.append(NodeFailure(match["node"], int(match["code"]), _last_words(lines, match["proc"])))
    return failures


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    reasons: tuple[str, ...]

    @property
    def word(self) -> str:
        return VERDICT_WORDS[self.exit_code]


def scenario_outcome(metrics: dict[str, Any] | None, failures: list[NodeFailure], launch_rc: int) -> Outcome:
    """The verdict of one simulator run (see the module docstring for the codes)."""
    died = tuple(f.describe() for f in failures)
    if any(f.node in SOURCE_NODES for f in failures):
        return Outcome(COULD_NOT_RUN, died)
    if launch_rc in TIMEOUT_EXIT_CODES:
        return Outcome(COULD_NOT_RUN, (f"the run timed out (exit {launch_rc})", *died))
    if metrics is None:
        return Outcome(COULD_NOT_RUN, ("the simulator wrote no metrics", *died))
    if died:
        return Outcome(FAILED, died)
    if not metrics.get("success"):
        return Outcome(FAILED, tuple(metrics.get("reasons") or ["the success block was not met"]))
    return Outcome(PASSED, ())


def replay_outcome(failures: list[NodeFailure], launch_rc: int) -> Outcome:
    """A bag replay has no success block: it passes when it played to the end with no node dying."""
    died = tuple(f.describe() for f in failures)
    if launch_rc in TIMEOUT_EXIT_CODES:
        return Outcome(COULD_NOT_RUN, (f"the replay timed out (exit {launch_rc})", *died))
    if any(f.node in SOURCE_NODES for f in failures):
        return Outcome(COULD_NOT_RUN, died)
    return Outcome(FAILED, died) if died else Outcome(PASSED, ())


def combined_exit_code(codes: list[int]) -> int:
    """A batch: could-not-run beats failed beats passed (an empty batch did not run)."""
    return max(codes) if codes else COULD_NOT_RUN
