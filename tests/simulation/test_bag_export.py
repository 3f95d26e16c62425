"""Scenario → rosbag2 MCAP: topics, counts, identical image/camera_info stamps, ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from nav_msgs.msg import Odometry
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from vision_msgs.msg import Detection3DArray

from edge_rover.bags.reader import read_messages
from edge_rover.simulation.__main__ import main

TYPES = {
    "/camera/image_raw": Image,
    "/camera/camera_info": CameraInfo,
    "/odom": Odometry,
    "/tf": TFMessage,
    "/sim/ground_truth": Detection3DArray,
}


def test_scenario_renders_to_an_mcap_bag(tmp_path: Path) -> None:
    out = tmp_path / "bag"
    assert main(["bag", "--scenario", "static_obstacle", "--out", str(out), "--duration", "0.5"]) == 0
    assert list(out.glob("*.mcap"))
    stamps: dict[str, list[int]] = {}
    truth_classes = set()
    for message in read_messages(out):
        msg = deserialize_message(message.data, TYPES[message.topic])
        header = msg.transforms[0].header if message.topic == "/tf" else msg.header
        stamp_ns = header.stamp.sec * 10**9 + header.stamp.nanosec
        assert stamp_ns == message.stamp_ns  # bag time = capture stamp
        stamps.setdefault(message.topic, []).append(stamp_ns)
        if message.topic == "/sim/ground_truth":
            truth_classes |= {d.results[0].hypothesis.class_id for d in msg.detections}
            assert header.frame_id == "base_link"
        if message.topic == "/camera/image_raw":
            assert (msg.width, msg.height, msg.encoding) == (640, 480, "bgr8")
    assert set(stamps) == {"/camera/image_raw", "/camera/camera_info", "/odom", "/tf", "/sim/ground_truth"}
    assert len(stamps["/camera/image_raw"]) == 10
    assert stamps["/camera/image_raw"] == stamps["/camera/camera_info"] == stamps["/odom"]
    assert {"car", "box"} <= truth_classes
