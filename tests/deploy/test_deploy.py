"""deploy/: the systemd unit, the udev rule and the container recipes, as far as this machine allows.

No systemd as PID 1, no udev and no docker daemon here: the unit is checked by ``systemd-analyze
verify`` and its ExecStart is run for real by bash against a stand-in ROS installation (a ``ros2``
script that records what it got and stops on SIGINT); the udev rule and the Dockerfiles are
parsed, and every path a Dockerfile copies must exist and cover what setup.py installs.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from edge_rover.common.conventions import ROVER_MCU_DEVICE
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "edge_rover.service"
ENV_FILE = DEPLOY / "systemd" / "edge_rover.env"
UDEV_RULE = DEPLOY / "udev" / "99-edge-rover-mcu.rules"
DOCKERFILES = sorted((DEPLOY / "docker").glob("Dockerfile.*"))


# -- systemd -----------------------------------------------------------------------------------
def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """systemd unit → {section: [(key, value), ...]} (keys repeat; backslash-newline continues)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    text = re.sub(r"\\\n", " ", text)
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"not a key=value line in a section: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def _one(entries: list[tuple[str, str]], key: str) -> str:
    values = [v for k, v in entries if k == key]
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


def _environment(service: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for key, value in service:
        if key == "Environment":
            name, _, val = value.partition("=")
            env[name] = val
    return env


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip(
            "systemd-analyze not installed; test_unit_stops_with_sigint_and_restarts_on_failure parses it"
        )
    unit = tmp_path / UNIT.name
    shutil.copy(UNIT, unit)
    result = subprocess.run([exe, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    ours = [line for line in (result.stdout + result.stderr).splitlines() if UNIT.name in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr
    # the check can fail: a relative path in ExecStart is a fatal error for it
    bad = tmp_path / "bad.service"
    bad.write_text(UNIT.read_text().replace("ExecStart=/bin/bash", "ExecStart=bin/bash"))
    assert subprocess.run([exe, "verify", str(bad)], capture_output=True, timeout=60).returncode != 0


def test_unit_stops_with_sigint_and_restarts_on_failure() -> None:
    unit = parse_unit(UNIT.read_text())
    service = unit["Service"]
    assert _one(service, "KillSignal") == "SIGINT" and _one(service, "KillMode") == "mixed"
    assert 5 <= int(_one(service, "TimeoutStopSec")) <= 60
    assert _one(service, "Restart") == "on-failure"
    assert _one(unit["Install"], "WantedBy") == "multi-user.target"
    env = _environment(service)
    assert env["ROS_SETUP"] == "/opt/ros/humble/setup.bash" and env["ROS_DOMAIN_ID"].isdigit()
    assert "rover.launch.py" in _one(service, "ExecStart")
    assert any(k == "EnvironmentFile" and v.startswith("-") for k, v in service)  # optional file
    # the default Fast DDS profile it points at is one the package installs
    assert "share/edge_rover/config/fastdds_profiles.xml" in _one(service, "ExecStart")
    assert (REPO_ROOT / "config" / "fastdds_profiles.xml").is_file()


FAKE_ROS2 = """#!/usr/bin/env bash
# stand-in for ros2: records its arguments and environment, runs until SIGINT like ros2 launch
trap 'echo stopped-by-SIGINT >> "$RECORD"; exit 0' INT
{ echo "args: $*"; echo "ROS_DOMAIN_ID=$ROS_DOMAIN_ID"; echo "PROFILE=$FASTRTPS_DEFAULT_PROFILES_FILE";
  echo "SOURCED=$FAKE_ROS_SOURCED,$FAKE_WS_SOURCED"; } > "$RECORD"
while true; do sleep 0.05; done
"""


def test_exec_start_sources_ros_and_the_workspace_and_stops_on_sigint(tmp_path: Path) -> None:
    """Run the unit's ExecStart under bash as systemd would (its Environment= plus the env file)."""
    unit = parse_unit(UNIT.read_text())
    service = unit["Service"]
    argv = shlex.split(_one(service, "ExecStart"))
    assert argv[:2] == ["/bin/bash", "-c"]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ros2").write_text(FAKE_ROS2)
    (bindir / "ros2").chmod(0o755)
    ros_setup = tmp_path / "ros_setup.bash"
    ros_setup.write_text(f'export FAKE_ROS_SOURCED=1; export PATH="{bindir}:$PATH"\n')
    workspace = tmp_path / "ws"
    (workspace / "install").mkdir(parents=True)
    (workspace / "install" / "setup.bash").write_text("export FAKE_WS_SOURCED=1\n")
    record = tmp_path / "record.txt"
    env = {"PATH": os.environ["PATH"], "RECORD": str(record), **_environment(service)}
    env_file = dict(
        line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if line and not line.startswith("#")
    )
    env.update(env_file)
    env.update({"ROS_SETUP": str(ros_setup), "EDGE_ROVER_WS": str(workspace)})
    process = subprocess.Popen(argv, env=env)
    try:
        deadline = time.monotonic() + 10.0
        while "SOURCED" not in (record.read_text() if record.exists() else ""):
            assert time.monotonic() < deadline and process.poll() is None, "ExecStart did not start ros2"
            time.sleep(0.05)
        text = record.read_text()
        assert f"args: launch edge_rover rover.launch.py {env_file['EDGE_ROVER_LAUNCH_ARGS']}" in text
        assert f"ROS_DOMAIN_ID={env_file['ROS_DOMAIN_ID']}" in text and "SOURCED=1,1" in text
        assert f"PROFILE={workspace}/install/edge_rover/share/edge_rover/config/fastdds_profiles.xml" in text
        # exec: the main process systemd signals IS ros2 (KillMode=mixed sends SIGINT to it only)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "stopped-by-SIGINT" in record.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- udev --------------------------------------------------------------------------------------
def _udev_rules() -> list[dict[str, tuple[str, str]]]:
    rules = []
    for line in UDEV_RULE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pairs = re.findall(r'([A-Za-z]+(?:\{[^}]+\})?)\s*(==|!=|\+=|:=|=)\s*"([^"]*)"', line)
        rebuilt = ", ".join(f'{k}{op}"{v}"' for k, op, v in pairs)
        assert rebuilt == line.strip(), f"unparsed text in udev rule: {line!r}"
        rules.append({k: (op, v) for k, op, v in pairs})
    return rules


def test_udev_rule_names_the_mcu_by_usb_ids_as_the_launch_default() -> None:
    (rule,) = _udev_rules()
    assert rule["SUBSYSTEM"] == ("==", "tty")
    for key in ("ATTRS{idVendor}", "ATTRS{idProduct}"):
        op, value = rule[key]
        assert op == "==" and re.fullmatch(r"[0-9a-f]{4}", value), (key, value)
    assert rule["SYMLINK"] == ("+=", Path(ROVER_MCU_DEVICE).name)
    assert rule["GROUP"] == ("=", "dialout")
    assert "dialout" in _one(parse_unit(UNIT.read_text())["Service"], "SupplementaryGroups")


def test_rover_launch_defaults_to_the_udev_name() -> None:
    import importlib.util

    from launch.actions import DeclareLaunchArgument

    spec = importlib.util.spec_from_file_location("rover_launch", REPO_ROOT / "launch" / "rover.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    arguments = {
        e.name: e
        for e in module.generate_launch_description().entities
        if isinstance(e, DeclareLaunchArgument)
    }
    default = "".join(s.text for s in arguments["serial_port"].default_value)
    assert default == ROVER_MCU_DEVICE == "/dev/edge_rover_mcu"


# -- containers --------------------------------------------------------------------------------
def dockerfile_copies(text: str) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY/ADD instruction (continuations joined, flags dropped)."""
    text = re.sub(r"\\\n", " ", text)
    copies = []
    for line in text.splitlines():
        words = line.strip().split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        assert len(args) >= 2, f"COPY without a destination: {line!r}"
        copies.append((args[:-1], args[-1]))
    return copies


def _setup_py_installs() -> set[str]:
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    names = {}
    for node in ast.walk(tree):
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id in ("PYTHON_PACKAGES", "SHARE_DIRS"):
            names[target.id] = ast.literal_eval(node.value)
    assert set(names) == {"PYTHON_PACKAGES", "SHARE_DIRS"}, "setup.py no longer lists its packages"
    # + the edge_rover/ namespace package the folders are mapped into (setup.py package_dir)
    top = {"edge_rover", "resource", "package.xml", "setup.py", "setup.cfg"}
    return set(names["PYTHON_PACKAGES"]) | set(names["SHARE_DIRS"]) | top


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_copies_exist_and_cover_the_package(dockerfile: Path) -> None:
    copies = dockerfile_copies(dockerfile.read_text())
    sources = [source for group, _ in copies for source in group]
    for source in sources:
        assert not source.startswith(("http:", "https:")), "downloads belong in RUN at build time only"
        assert (REPO_ROOT / source).exists(), f"{dockerfile.name}: COPY source {source} does not exist"
    copied_tops = {Path(s).parts[0] for s in sources}
    missing = _setup_py_installs() - copied_tops
    assert not missing, f"{dockerfile.name} does not copy {sorted(missing)} that setup.py installs"
    # the model, its card and the configs go into the image (no download at run time)
    assert "models" in copied_tops and "config" in copied_tops
    assert any((REPO_ROOT / "models").glob("*.onnx")) and any((REPO_ROOT / "models").glob("*.card.yaml"))
    text = dockerfile.read_text()
    assert re.search(r"^FROM \$\{\w+\}$|^FROM \S+$", text, re.M)
    assert "colcon build" in text and 'ENTRYPOINT ["/entrypoint.sh"]' in text
    cmd = re.search(r"^CMD (.*)$", text, re.M).group(1)
    assert "rover.launch.py" in cmd and not re.search(r"pip|curl|wget|apt", cmd)


def test_jetson_recipe_is_humble_on_l4t_and_x86_is_jazzy() -> None:
    jetson = (DEPLOY / "docker" / "Dockerfile.jetson").read_text()
    x86 = (DEPLOY / "docker" / "Dockerfile.x86").read_text()
    assert "l4t-jetpack:r36" in jetson and "ros-humble-ros-base" in jetson
    assert "requirements/jetson.txt" in jetson and "--skip-keys python3-opencv" in jetson
    assert "ros:jazzy" in x86 and "requirements/runtime.txt" in x86
    assert os.access(DEPLOY / "docker" / "entrypoint.sh", os.X_OK)
    jetson_pins = (REPO_ROOT / "requirements" / "jetson.txt").read_text()
    assert re.search(r"^onnxruntime-gpu==\d", jetson_pins, re.M) and re.search(
        r"^numpy==1\.", jetson_pins, re.M
    )
    assert not re.search(r"^(torch|opencv-python)", jetson_pins, re.M)


def test_dockerfile_parser_sees_a_missing_source(tmp_path: Path) -> None:
    copies = dockerfile_copies("FROM x\nCOPY --chown=1:1 a \\\n  b /dst/\nCOPY nope /x\n")
    assert copies == [(["a", "b"], "/dst/"), (["nope"], "/x")]
