"""Test-wide set-up: an isolated ROS 2 environment per test process.

Every pytest process gets its own ROS_DOMAIN_ID (claimed with a lock file, so parallel runs
on one machine never see each other), its own ROS_LOG_DIR, localhost-only discovery and the
UDPv4 transport only — no shared-memory segments left in /dev/shm when a node is killed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from edge_rover.common.ros_domain import claim_domain_id

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

_domain_lock_file = None


def _claim_domain_id() -> int:
    """Claim a free ROS domain id in 1..100 for this process (held until it exits)."""
    global _domain_lock_file
    domain, _domain_lock_file = claim_domain_id()
    return domain


def _refresh_installed_package() -> None:
    """Graph tests start the *installed* executables: reinstall the tree when it is newer.

    `make test` always reinstalls; this keeps a plain `python -m pytest` honest too.
    """
    marker = Path(sys.prefix) / ".edge_rover_installed"
    sources = [
        p
        for top in (
            "edge_rover",
            "common",
            "perception",
            "control",
            "calibration",
            "simulation",
            "bags",
            "tools",
            "launch",
            "config",
        )
        for p in (REPO_ROOT / top).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    newest = max((p.stat().st_mtime for p in sources), default=0.0)
    if marker.exists() and marker.stat().st_mtime >= newest:
        return
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--force-reinstall", str(REPO_ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    marker.touch()


def pytest_configure(config: pytest.Config) -> None:
    if sys.prefix != sys.base_prefix and (Path(sys.prefix) / "lib" / "edge_rover").is_dir():
        _refresh_installed_package()
    if "ROS_DOMAIN_ID_FIXED" not in os.environ:
        os.environ["ROS_DOMAIN_ID"] = str(_claim_domain_id())
    if sys.prefix != sys.base_prefix and not os.environ.get("AMENT_PREFIX_PATH"):
        # A plain `python -m pytest` from the venv, without `. tools/ros_env.sh`: `ros2 run` and
        # `ros2 launch` find the installed package only through these.
        os.environ["AMENT_PREFIX_PATH"] = sys.prefix
        os.environ["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["ROS_LOG_DIR"] = tempfile.mkdtemp(prefix="edge_rover_test_roslog_")
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    # UDPv4 only (large buffers): killed nodes leave no shared-memory files in /dev/shm.
    os.environ.pop("FASTDDS_BUILTIN_TRANSPORTS", None)
    os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(REPO_ROOT / "config" / "fastdds_udp_profiles.xml")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need ROS are skipped with a reason where ROS is missing — except under CI."""
    try:
        import rclpy  # noqa: F401

        has_ros = True
    except ImportError:
        has_ros = False
    if has_ros:
        return
    skip = pytest.mark.skip(reason="ROS 2 Python runtime (rclpy) not importable")
    for item in items:
        if "ros" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI=true a skipped ROS graph test is a failure: CI has ROS, nothing may skip silently."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and "ros" in item.keywords:
        report.outcome = "failed"
        report.longrepr = f"ROS test skipped under CI=true: {report.longrepr}"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


pytest_plugins = ["tests.ros_helpers"]
