"""Python 3.10 compatibility (JetPack 6 = Ubuntu 22.04 = ROS 2 Humble on Python 3.10).

Three checks, all part of `make test`:
* ruff with ``target-version = "py310"`` (pyproject.toml; tests/test_lint.py runs ruff) so its UP
  rules never suggest 3.11+ rewrites — checked here that the setting stays;
* vermin (pinned in requirements/test.txt) finds 3.11+ stdlib APIs and syntax (``enum.StrEnum``,
  ``typing.Self``, ``tomllib``, ``datetime.UTC``, ``except*``, ...) in every tracked Python file;
* where a Python 3.10 interpreter is on this machine (``python3.10`` on PATH, a pyenv 3.10, or
  ``EDGE_ROVER_PYTHON310``), every tracked file is compiled with it: the grammar itself.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

TARGET = "3.10"


def _tracked_python_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    files = [line for line in out.splitlines() if line and (REPO_ROOT / line).is_file()]
    assert len(files) > 50, f"expected the package's Python files, git listed {len(files)}"
    return files


def _vermin() -> list[str]:
    exe = shutil.which("vermin")
    return [exe] if exe else [sys.executable, "-m", "vermin"]


def _vermin_violations(paths: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_vermin(), f"-t={TARGET}-", "--no-tips", "--violations", "--no-parse-comments", *paths],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_ruff_targets_python_310() -> None:
    text = (REPO_ROOT / "pyproject.toml").read_text()
    assert re.search(r'^target-version\s*=\s*"py310"', text, re.M), "pyproject.toml: ruff target-version"


def test_no_311_only_apis_or_syntax() -> None:
    result = _vermin_violations(_tracked_python_files(), REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vermin_catches_311_only_code(tmp_path: Path) -> None:
    """The check can fail: each 3.11-only feature we forbid is reported."""
    sample = tmp_path / "uses_311.py"
    sample.write_text(
        "from enum import StrEnum\nfrom typing import Self\nimport tomllib\nimport datetime\n"
        "x = datetime.UTC\ntry:\n    pass\nexcept* ValueError:\n    pass\n"
    )
    result = _vermin_violations([str(sample)], tmp_path)
    assert result.returncode != 0
    for feature in ("enum.StrEnum", "typing.Self", "tomllib", "datetime.UTC", "except*"):
        assert feature in result.stdout, (feature, result.stdout)


def _python310() -> str | None:
    candidates = [os.environ.get("EDGE_ROVER_PYTHON310", ""), shutil.which("python3.10") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")))
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
            capture_output=True, text=True,
        )  # fmt: skip
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def test_every_file_compiles_under_python_310(tmp_path: Path) -> None:
    python = _python310()
    if python is None:
        pytest.skip("no Python 3.10 interpreter here (set EDGE_ROVER_PYTHON310); vermin covered it")
    script = (
        "import sys\n"
        "bad = []\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        compile(open(path, encoding='utf-8').read(), path, 'exec')\n"
        "    except SyntaxError as err:\n"
        "        bad.append(f'{path}:{err.lineno}: {err.msg}')\n"
        "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [python, "-c", script, *_tracked_python_files()],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
