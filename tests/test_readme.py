"""The README is a manual whose every command works.

Each line of each ``bash`` block is checked against the thing it runs: a `make` target exists
(and what it does is tested elsewhere: `make demo` by tests/integration/test_demo.py, `make test`
by CI itself); `ros2 launch edge_rover F k:=v` names a launch file that declares every argument
given (evaluated the way ros2 launch evaluates it); `ros2 run edge_rover X` names an installed
executable; `python -m M --flags` imports M and every flag given is in its `--help`. Links to
files in the repository resolve.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _bash_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    lines = []
    for block in blocks:
        for line in block.splitlines():
            line = re.split(r"\s#\s", line, maxsplit=1)[0].strip()
            if line:
                lines.append(line)
    return lines


def _commands(line: str) -> list[list[str]]:
    """`a && b` → [[a...], [b...]], sourcing the environment left out (it is what make does)."""
    commands = []
    for part in line.split("&&"):
        words = shlex.split(part)
        if words and words[0] not in (".", "source"):
            commands.append(words)
    return commands


COMMANDS = [cmd for line in _bash_lines() for cmd in _commands(line)]


def test_readme_is_a_short_manual() -> None:
    text = README.read_text()
    assert len(text.encode()) <= 30_000, "README.md must stay ≤ 30 kB: detail goes to docs/"
    assert text.count("\n") <= 300
    assert "<<<<<<<" not in text and "<!-- BEGIN" not in text
    assert "../shared/DESIGN" not in text  # the design lives in the repository: docs/architecture.md


def test_every_linked_file_exists() -> None:
    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text()):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to a missing file: {target}"


def test_there_are_commands_to_check() -> None:
    kinds = {cmd[0] for cmd in COMMANDS}
    assert {"make", "ros2", "python"} <= kinds, kinds


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c[0] == "make"], ids=" ".join)
def test_make_targets_exist(cmd: list[str]) -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in (w for w in cmd[1:] if "=" not in w):
        assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), f"no make target {target}"
    for variable in (w.split("=", 1)[0] for w in cmd[1:] if "=" in w):
        assert f"$({variable})" in makefile, f"the Makefile ignores {variable}"


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c[0] == "python"], ids=" ".join)
def test_python_module_commands_exist_with_their_flags(cmd: list[str]) -> None:
    assert cmd[1] == "-m", cmd
    help_text = subprocess.run(
        [sys.executable, "-m", cmd[2], "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert help_text.returncode == 0, help_text.stderr[-2000:]
    for flag in (w for w in cmd[3:] if w.startswith("--")):
        assert flag in help_text.stdout, f"{cmd[2]} has no {flag}"


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c[:2] == ["ros2", "run"]], ids=" ".join)
def test_ros2_run_executables_are_installed(cmd: list[str]) -> None:
    from ament_index_python.packages import get_package_prefix

    assert cmd[2] == "edge_rover"
    assert (Path(get_package_prefix("edge_rover")) / "lib" / "edge_rover" / cmd[3]).is_file()


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c[:2] == ["ros2", "launch"]], ids=" ".join)
def test_ros2_launch_lines_use_declared_arguments(cmd: list[str]) -> None:
    from tests.launch.test_launch_agreement import effective_parameters

    assert cmd[2] == "edge_rover"
    path = ROOT / "launch" / cmd[3]
    assert path.is_file(), f"no launch file {cmd[3]}"
    arguments = dict(w.split(":=", 1) for w in cmd[4:])
    nodes = effective_parameters(path, arguments, strict=True)
    assert nodes, f"{cmd[3]} starts no node"
