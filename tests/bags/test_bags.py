"""Bag writing/reading with real rosbag2 files (MCAP and sqlite3), damage handling, replay timing."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2D, Detection2DArray

from edge_rover.bags.reader import BagError, bag_info, read_messages
from edge_rover.bags.replay import ReplayClock
from edge_rover.bags.writer import BagWriter
from edge_rover.common.msgs.image import bgr_to_image, image_to_bgr
from edge_rover.common.msgs.stamps import sec_to_stamp


def _write_bag(path: Path, storage: str, frames: int = 20) -> None:
    with BagWriter(path, storage=storage) as bag:
        for i in range(frames):
            stamp = sec_to_stamp(100.0 + i * 0.1)
            pixels = np.full((48, 64, 3), (i * 10) % 256, np.uint8)
            bag.write(
                "/camera/image_raw", bgr_to_image(pixels, stamp, "cam"), 100_000_000_000 + i * 100_000_000
            )
            dets = Detection2DArray(detections=[Detection2D(id=str(i))])
            dets.header.stamp = stamp
            bag.write("/detections", dets, 100_000_000_000 + i * 100_000_000 + 1)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_round_trip_keeps_pixels_stamps_and_types(tmp_path: Path, storage: str) -> None:
    _write_bag(tmp_path / "bag", storage)
    info = bag_info(tmp_path / "bag")
    assert info.topics == {
        "/camera/image_raw": "sensor_msgs/msg/Image",
        "/detections": "vision_msgs/msg/Detection2DArray",
    }
    assert info.counts == {"/camera/image_raw": 20, "/detections": 20}
    assert info.duration_s == pytest.approx(1.9, abs=1e-6)
    images = [m for m in read_messages(tmp_path / "bag", ["/camera/image_raw"])]
    assert len(images) == 20
    decoded = deserialize_message(images[7].data, Image)
    assert image_to_bgr(decoded)[0, 0, 0] == 70
    assert decoded.header.stamp.sec == 100 and decoded.header.stamp.nanosec == 700_000_000


def test_refuses_to_overwrite_an_existing_bag(tmp_path: Path) -> None:
    _write_bag(tmp_path / "bag", "mcap", frames=2)
    with pytest.raises(FileExistsError, match="already exists"):
        BagWriter(tmp_path / "bag")


def test_truncated_mcap_gives_a_clear_error_naming_the_file_and_what_was_read(tmp_path: Path) -> None:
    _write_bag(tmp_path / "bag", "mcap", frames=40)
    storage_file = next((tmp_path / "bag").glob("*.mcap"))
    data = storage_file.read_bytes()
    storage_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(BagError) as err:
        for _ in read_messages(tmp_path / "bag"):
            pass
    assert str(tmp_path / "bag") in str(err.value)


def test_missing_or_foreign_bag_paths_are_reported(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="not found"):
        bag_info(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match=r"metadata\.yaml"):
        bag_info(tmp_path / "empty")
    _write_bag(tmp_path / "bag", "mcap", frames=2)
    with pytest.raises(BagError, match="topics not in bag"):
        list(read_messages(tmp_path / "bag", ["/nope"]))


def test_replay_clock_rate_and_offset() -> None:
    clock = ReplayClock(bag_start_ns=10_000_000_000, wall_start_s=5.0, rate=2.0, start_offset_s=1.0)
    assert clock.skips(10_500_000_000)
    assert not clock.skips(11_000_000_000)
    assert clock.wall_deadline(11_000_000_000) == pytest.approx(5.0)
    assert clock.wall_deadline(13_000_000_000) == pytest.approx(6.0)  # 2 s of bag in 1 s at 2x
    assert clock.bag_time_ns(6.0) == 13_000_000_000
    with pytest.raises(ValueError, match="rate"):
        ReplayClock(0, 0.0, rate=0.0)
