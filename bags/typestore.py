"""The rosbags type store for our bags: ROS 2 Jazzy standard messages plus vision_msgs.

vision_msgs is not in rosbags' built-in Jazzy store; its .msg definitions are read from the
ament index (the venv's share/ or /opt/ros/<distro>/share), so bags we write carry full
message definitions and open in `ros2 bag play` and Foxglove.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

EXTRA_MESSAGE_PACKAGES = ("vision_msgs",)


def _share_dirs() -> list[Path]:
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    # The venv itself (PyPI wheels install share/ there) also when AMENT_PREFIX_PATH is unset.
    return [Path(p) / "share" for p in [*prefixes, sys.prefix]]


def _message_files(package: str) -> list[Path]:
    for share in _share_dirs():
        folder = share / package / "msg"
        if folder.is_dir():
            return sorted(folder.glob("*.msg"))
    return []


@functools.cache
def typestore() -> Typestore:
    store = get_typestore(Stores.ROS2_JAZZY)
    for package in EXTRA_MESSAGE_PACKAGES:
        files = _message_files(package)
        if not files:
            raise RuntimeError(
                f"message definitions of {package} not found under {_share_dirs()}: "
                "install ros-jazzy-vision-msgs (or source ROS 2) and set AMENT_PREFIX_PATH"
            )
        types = {}
        for path in files:
            types.update(get_types_from_msg(path.read_text(), f"{package}/msg/{path.stem}"))
        # Definitions reference each other; register all of a package at once.
        store.register(types)
    return store


def ros_type_name(message_class: type) -> str:
    """``sensor_msgs.msg.Image`` class → ``sensor_msgs/msg/Image``."""
    package = message_class.__module__.split(".")[0]
    return f"{package}/msg/{message_class.__name__}"
