"""Read rosbag2 bags (MCAP or sqlite3) with `rosbags`, failing clearly on damaged files.

A bag is the rosbag2 directory (metadata.yaml + storage files) or a path inside it. A
truncated or corrupt bag raises ``BagError`` naming the file and how much was readable; it
never hangs (rosbags reads files, it never waits on anything).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rosbags.rosbag2 import Reader


class BagError(RuntimeError):
    """A bag that cannot be (fully) read."""


@dataclass(frozen=True)
class BagMessage:
    topic: str
    type_name: str
    stamp_ns: int
    data: bytes


@dataclass(frozen=True)
class BagInfo:
    path: Path
    topics: dict[str, str]  # topic → type name
    counts: dict[str, int]
    start_ns: int
    end_ns: int

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


def bag_directory(path: str | Path) -> Path:
    bag = Path(path)
    if bag.is_file():  # a storage file or metadata.yaml inside the bag directory
        bag = bag.parent
    if not bag.exists():
        raise BagError(f"bag not found: {path}")
    if not (bag / "metadata.yaml").is_file():
        raise BagError(f"{bag} is not a rosbag2 directory (no metadata.yaml)")
    return bag


def _open(path: Path) -> Reader:
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # rosbags raises several types for damaged metadata/storage
        raise BagError(f"cannot open bag {path}: {exc}") from exc
    return reader


def bag_info(path: str | Path) -> BagInfo:
    directory = bag_directory(path)
    reader = _open(directory)
    try:
        return BagInfo(
            path=directory,
            topics={c.topic: c.msgtype for c in reader.connections},
            counts={c.topic: c.msgcount for c in reader.connections},
            start_ns=reader.start_time,
            end_ns=reader.end_time,
        )
    finally:
        reader.close()


def read_messages(path: str | Path, topics: Sequence[str] | None = None) -> Iterator[BagMessage]:
    """Messages in timestamp order; ``topics`` None or empty means all topics."""
    directory = bag_directory(path)
    reader = _open(directory)
    count = 0
    last_ns = None
    try:
        wanted = [c for c in reader.connections if not topics or c.topic in topics]
        missing = sorted(set(topics or ()) - {c.topic for c in reader.connections})
        if missing:
            raise BagError(f"{directory}: topics not in bag: {missing}")
        iterator = reader.messages(connections=wanted)
        while True:
            try:
                connection, stamp_ns, data = next(iterator)
            except StopIteration:
                break
            except Exception as exc:  # truncated chunk, bad CRC, bad sqlite page…
                where = f"after {count} messages" + (f" (last at t={last_ns / 1e9:.3f} s)" if last_ns else "")
                raise BagError(f"bag {directory} is damaged: read {where}, then: {exc}") from exc
            count += 1
            last_ns = stamp_ns
            yield BagMessage(connection.topic, connection.msgtype, stamp_ns, bytes(data))
    finally:
        reader.close()
