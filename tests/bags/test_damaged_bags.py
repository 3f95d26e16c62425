"""Zero-length, truncated, mutated bags and damaged records: the reader raises only BagError (one
line naming the bag), and bag_replay skips, counts and reports a record that does not deserialize
instead of passing it to the nodes; it never dies with a traceback."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from rclpy.serialization import serialize_message

from edge_rover.bags.reader import BagError, bag_info, read_messages
from edge_rover.bags.writer import BagWriter
from edge_rover.common.msgs.image import bgr_to_image
from edge_rover.common.msgs.stamps import sec_to_stamp

IMAGE = "sensor_msgs/msg/Image"


def _image_bytes(i: int) -> bytes:
    pixels = np.full((48, 64, 3), (i * 10) % 256, np.uint8)
    return serialize_message(bgr_to_image(pixels, sec_to_stamp(100.0 + i * 0.1), "cam"))


def _bag_with_a_damaged_record(path: Path, frames: int = 20, damaged: int = 7) -> Path:
    """A well-formed MCAP bag in which record ``damaged`` is an Image whose CDR is cut short."""
    with BagWriter(path) as bag:
        for i in range(frames):
            data = _image_bytes(i)
            if i == damaged:
                data = data[:40]  # header and part of the encoding string: not an Image any more
            bag.write_raw("/camera/image_raw", IMAGE, data, 100_000_000_000 + i * 100_000_000)
    return path


def _storage(bag: Path) -> Path:
    return next(bag.glob("*.mcap"))


def test_zero_length_storage_file_is_one_clear_error(tmp_path: Path) -> None:
    bag = _bag_with_a_damaged_record(tmp_path / "bag")
    _storage(bag).write_bytes(b"")
    with pytest.raises(BagError) as err:
        bag_info(bag)
        list(read_messages(bag))
    assert str(bag) in str(err.value) and "\n" not in str(err.value).strip()


@pytest.mark.parametrize("seed", range(40))
def test_mutated_storage_files_raise_only_bag_errors(tmp_path: Path, seed: int) -> None:
    """Random byte edits anywhere in the MCAP file: reading either works or fails with BagError."""
    bag = _bag_with_a_damaged_record(tmp_path / "bag", damaged=-1)
    storage = _storage(bag)
    data = bytearray(storage.read_bytes())
    rng = random.Random(seed)
    for _ in range(rng.randint(1, 20)):
        at = rng.randrange(len(data))
        if rng.random() < 0.5:
            data[at] = rng.randrange(256)
        else:
            del data[at : at + rng.randint(1, 64)]
    storage.write_bytes(bytes(data))
    try:
        bag_info(bag)
        for _message in read_messages(bag):
            pass
    except BagError as err:
        assert str(bag) in str(err)


def _replay(bag: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ros2", "run", "edge_rover", "bag_replay", "--ros-args", "-p", f"bag:={bag}", "-p", "rate:=20.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.ros
def test_replay_skips_counts_and_reports_a_damaged_record(tmp_path: Path) -> None:
    bag = _bag_with_a_damaged_record(tmp_path / "bag", frames=20, damaged=7)
    assert sum(1 for _ in read_messages(bag)) == 20  # the bag itself is intact
    result = _replay(bag)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "Traceback" not in log
    assert "damaged record skipped: /camera/image_raw at t=100.700 s" in log
    assert "19 messages published, 1 damaged records skipped {'/camera/image_raw': 1}" in log


@pytest.mark.ros
def test_replay_of_a_zero_length_bag_exits_with_one_line(tmp_path: Path) -> None:
    bag = _bag_with_a_damaged_record(tmp_path / "bag")
    _storage(bag).write_bytes(b"")
    result = _replay(bag)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "bag_replay: " in result.stderr and str(bag) in result.stderr
