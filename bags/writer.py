"""Write rosbag2 bags (MCAP by default) from ordinary rclpy message objects.

Messages are serialized with rclpy (the same CDR bytes DDS would carry) and stored through
`rosbags`, with full message definitions, so the bag plays in `ros2 bag play` and Foxglove.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import TracebackType
from typing import Any

from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer

from edge_rover.bags.typestore import ros_type_name, typestore

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


class BagWriter:
    """``with BagWriter(path) as bag: bag.write("/topic", msg, stamp_ns)``.

    ``path`` is the bag directory (rosbag2 layout: metadata.yaml + storage file). An existing
    bag at ``path`` is refused unless ``overwrite=True``.
    """

    def __init__(self, path: str | Path, storage: str = "mcap", overwrite: bool = False) -> None:
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {list(STORAGES)}, got {storage!r}")
        self.path = Path(path)
        if self.path.exists():
            if not overwrite:
                raise FileExistsError(f"bag {self.path} already exists (pass overwrite=True to replace it)")
            shutil.rmtree(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Writer(self.path, version=9, storage_plugin=STORAGES[storage])
        self._connections: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def __enter__(self) -> BagWriter:
        self._writer.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._writer.close()

    def add_topic(self, topic: str, type_name: str) -> None:
        if topic in self._connections:
            return
        self._connections[topic] = self._writer.add_connection(topic, type_name, typestore=typestore())
        self.counts[topic] = 0

    def write(self, topic: str, msg: Any, stamp_ns: int) -> None:
        self.write_raw(topic, ros_type_name(type(msg)), serialize_message(msg), stamp_ns)

    def write_raw(self, topic: str, type_name: str, data: bytes, stamp_ns: int) -> None:
        self.add_topic(topic, type_name)
        self._writer.write(self._connections[topic], int(stamp_ns), data)
        self.counts[topic] += 1
