"""bag_replay + bag_recorder executables on real DDS: what is replayed is recorded again to MCAP;
a truncated bag makes bag_replay exit with an error naming the file."""

import subprocess
from pathlib import Path

import pytest

from edge_rover.bags.reader import bag_info, read_messages
from edge_rover.tools.make_sample_bag import write_procedural_bag
from tests.ros_helpers import running_process

pytestmark = pytest.mark.ros


def test_replayed_topics_are_recorded_to_mcap(tmp_path: Path) -> None:
    source = write_procedural_bag(tmp_path / "source", seconds=3.0, fps=10.0, width=160, height=120)
    recorded = tmp_path / "recorded"
    recorder_cmd = [
        "ros2", "run", "edge_rover", "bag_recorder", "--ros-args",
        "-p", f"output:={recorded}", "-p", "topics:=/camera/image_raw,/clock",
    ]  # fmt: skip
    with running_process(recorder_cmd) as recorder:
        import time

        time.sleep(2.0)  # recorder up; it subscribes when publishers appear
        replay = subprocess.run(
            [
                "ros2",
                "run",
                "edge_rover",
                "bag_replay",
                "--ros-args",
                "-p",
                f"bag:={source}",
                "-p",
                "wait_for_subscribers:=1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert replay.returncode == 0, replay.stdout + replay.stderr
        time.sleep(1.0)
        assert recorder.poll() is None, recorder.stdout.read()
    info = bag_info(recorded)
    assert info.topics["/camera/image_raw"] == "sensor_msgs/msg/Image"
    # The replay waited for the recorder's subscription: small frames on loopback all arrive.
    assert info.counts["/camera/image_raw"] >= 28, info.counts
    assert info.counts["/clock"] > 0
    first = next(read_messages(recorded, ["/camera/image_raw"]))
    assert len(first.data) > 160 * 120 * 3


def test_a_root_bag_replays_into_a_namespace_and_is_recorded_there(tmp_path: Path) -> None:
    """bag_replay in /rover2 plays the graph topics of a bag recorded at the root under /rover2/ (the
    clock stays /clock); a recorder in /rover2 resolves relative topic names there."""
    source = write_procedural_bag(tmp_path / "source", seconds=2.0, fps=10.0, width=160, height=120)
    recorded = tmp_path / "recorded"
    namespace = ["-r", "__ns:=/rover2"]
    recorder_cmd = ["ros2", "run", "edge_rover", "bag_recorder", "--ros-args", *namespace,
                    "-p", f"output:={recorded}", "-p", "topics:=camera/image_raw,/clock"]  # fmt: skip
    with running_process(recorder_cmd) as recorder:
        import time

        time.sleep(2.0)
        replay = subprocess.run(
            ["ros2", "run", "edge_rover", "bag_replay", "--ros-args", *namespace, "-p", f"bag:={source}",
             "-p", "wait_for_subscribers:=1"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert replay.returncode == 0, replay.stdout + replay.stderr
        time.sleep(1.0)
        assert recorder.poll() is None, recorder.stdout.read()
    info = bag_info(recorded)
    assert set(info.topics) == {"/rover2/camera/image_raw", "/clock"}, info.topics
    assert info.counts["/rover2/camera/image_raw"] >= 18, info.counts


def test_truncated_bag_exits_with_a_clear_error(tmp_path: Path) -> None:
    bag = write_procedural_bag(tmp_path / "bag", seconds=3.0, fps=10.0, width=160, height=120)
    storage = next(bag.glob("*.mcap"))
    storage.write_bytes(storage.read_bytes()[: storage.stat().st_size // 3])
    result = subprocess.run(
        ["ros2", "run", "edge_rover", "bag_replay", "--ros-args", "-p", f"bag:={bag}", "-p", "rate:=10.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert str(bag) in result.stderr and ("damaged" in result.stderr or "cannot open" in result.stderr)
