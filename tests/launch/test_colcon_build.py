"""The package builds the way a robot builds it: `colcon build` of a clean copy of the tracked files.

The rest of the suite installs the package with pip; on a Jetson it is `colcon build` in a workspace.
This builds a copy of what git tracks with colcon (pinned in requirements/colcon.txt, installed by
tools/setup_env.sh into .venv/opt/colcon), then uses only the colcon install space: every node
executable, the share files (launch, config, rviz, the shipped model), the ament index entry, and a
detector started from it that finds the shipped model package-relative.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_rover.perception.detection.model_card import load_model_card
from tests.conftest import REPO_ROOT
from tests.ros_helpers import running_process

COLCON_DIR = Path(sys.prefix) / "opt" / "colcon"
SHARE_FILES = (
    "package.xml",
    "launch/sim.launch.py",
    "launch/rover.launch.py",
    "launch/replay.launch.py",
    "config/controller.yaml",
    "config/camera_info.yaml",
    "rviz/edge_rover.rviz",
    "models/edge_rover_yolov8n_int8.onnx",
    "models/edge_rover_yolov8n_int8.card.yaml",
)
COLCON_MAIN = "import sys; from colcon_core.command import main; sys.exit(main())"
SITE = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _tracked_copy(destination: Path) -> Path:
    """Copy what git tracks (what a clean clone holds: no venv, no build outputs)."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = REPO_ROOT / name.decode()
        if source.is_file():
            target = destination / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def _expected_nodes() -> set[str]:
    """Every node in the tree (``<name>_node.py`` with a ``main()``) and the doctor: setup.py lists
    them by hand, so a new node that was not added to it fails here."""
    nodes = {
        path.stem.removesuffix("_node")
        for path in REPO_ROOT.glob("*/**/*_node.py")
        if "tests" not in path.parts and re.search(r"^def main\(", path.read_text(), flags=re.MULTILINE)
    }
    return nodes | {"doctor"}


@pytest.fixture(scope="module")
def install_space(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (COLCON_DIR / "colcon_core").is_dir():
        pytest.fail(f"colcon is not installed in {COLCON_DIR}: run tools/setup_env.sh (make setup)")
    workspace = tmp_path_factory.mktemp("colcon_ws")
    _tracked_copy(workspace / "src" / "edge_rover")
    env = {**os.environ, "PYTHONPATH": str(COLCON_DIR), "COLCON_HOME": str(workspace / ".colcon")}
    build = subprocess.run(
        [
            sys.executable,
            "-c",
            COLCON_MAIN,
            "build",
            "--base-paths",
            "src",
            "--event-handlers",
            "console_direct-",
        ],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, f"colcon build failed:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    assert "1 package finished" in build.stdout, build.stdout[-2000:]
    return workspace / "install" / "edge_rover"


def test_colcon_install_space_has_every_node_and_share_file(install_space: Path) -> None:
    executables = {p.name for p in (install_space / "lib" / "edge_rover").iterdir()}
    assert executables == _expected_nodes()
    share = install_space / "share" / "edge_rover"
    for name in SHARE_FILES:
        assert (share / name).is_file(), f"{name} missing from the colcon install space"
    assert (install_space / "share" / "ament_index" / "resource_index" / "packages" / "edge_rover").is_file()
    packages = install_space / "lib" / SITE / "site-packages"
    for package in ("common", "perception", "control", "calibration", "simulation", "bags", "tools"):
        path = packages / "edge_rover" / package / "__init__.py"
        assert path.is_file(), f"python package edge_rover.{package} not installed"
        assert not (packages / package).exists(), f"a generic top-level '{package}' was installed"
    for developer_only in ("benchmarks", "dev", "tests"):
        assert not (packages / "edge_rover" / developer_only).exists(), f"{developer_only} was installed"


@pytest.mark.ros
def test_detector_from_the_colcon_install_loads_the_shipped_model(install_space: Path) -> None:
    env = {
        "AMENT_PREFIX_PATH": f"{install_space}:{os.environ.get('AMENT_PREFIX_PATH', '')}",
        "PYTHONPATH": str(install_space / "lib" / SITE / "site-packages"),
    }
    prefix = subprocess.run(
        ["ros2", "pkg", "prefix", "edge_rover"], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert prefix.stdout.strip() == str(install_space), prefix.stdout + prefix.stderr
    card = load_model_card(REPO_ROOT / "models" / "edge_rover_yolov8n_int8.card.yaml")
    assert card.input_hw is not None
    expected_input = f"input {card.input_hw[0]}x{card.input_hw[1]}"
    lines: list[str] = []
    with running_process(["ros2", "run", "edge_rover", "detector"], env=env) as proc:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
            lines.append(line)
            if expected_input in line:
                break
    output = "".join(lines)
    shipped = install_space / "share" / "edge_rover" / "models"
    assert f"model {shipped}/" in output, output[-3000:]
    assert expected_input in output, output[-3000:]
