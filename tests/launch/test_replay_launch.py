"""launch_testing: `replay.launch.py` on a generated sample bag publishes images at the recorded
rate, with the recorded stamps, camera_info stamped identically, and /clock from bag time."""

import itertools
import tempfile
import time
import unittest
from pathlib import Path

import launch_testing
import launch_testing.actions
import pytest
import rclpy
from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from rclpy.executors import SingleThreadedExecutor
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image

from edge_rover.common.msgs.stamps import stamp_to_sec
from edge_rover.common.qos import SENSOR_QOS
from edge_rover.tools.make_sample_bag import DEFAULT_START_S, write_procedural_bag
from launch import LaunchDescription

FPS = 10.0
SECONDS = 4.0
BAG_DIR = Path(tempfile.mkdtemp(prefix="edge_rover_replay_test_")) / "bag"


@pytest.mark.launch_test
def generate_test_description():
    write_procedural_bag(BAG_DIR, SECONDS, FPS, 320, 240)
    replay = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(f"{get_package_share_directory('edge_rover')}/launch/replay.launch.py"),
        # Two image subscribers: the detector of the graph and this test's probe. Waiting for them
        # keeps DDS discovery (slow while every node starts on 2 cores) from eating frames.
        launch_arguments={"bag": str(BAG_DIR), "rate": "1.0", "wait_for_subscribers": "2"}.items(),
    )
    return LaunchDescription([replay, launch_testing.actions.ReadyToTest()])


class TestReplayGraph(unittest.TestCase):
    def test_images_arrive_at_recorded_rate_with_recorded_stamps(self) -> None:
        context = rclpy.context.Context()
        rclpy.init(context=context)
        try:
            node = rclpy.create_node("replay_probe", context=context)
            images: list[tuple[float, float]] = []  # (stamp, receive time)
            infos: dict[float, CameraInfo] = {}
            clocks: list[float] = []
            node.create_subscription(
                Image,
                "/camera/image_raw",
                lambda m: images.append((stamp_to_sec(m.header.stamp), time.monotonic())),
                SENSOR_QOS,
            )
            node.create_subscription(
                CameraInfo,
                "/camera/camera_info",
                lambda m: infos.__setitem__(stamp_to_sec(m.header.stamp), m),
                SENSOR_QOS,
            )
            node.create_subscription(Clock, "/clock", lambda m: clocks.append(stamp_to_sec(m.clock)), 10)
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(node)
            deadline = time.monotonic() + SECONDS + 30.0
            while time.monotonic() < deadline and (
                not images or images[-1][0] < DEFAULT_START_S + SECONDS - 0.2
            ):
                executor.spin_once(timeout_sec=0.05)
            for _ in range(10):  # let the last camera_info land
                executor.spin_once(timeout_sec=0.02)
        finally:
            context.try_shutdown()

        expected_frames = int(SECONDS * FPS)
        # Discovery may eat the first frames; the rest must all arrive (loopback, depth 1 but paced).
        self.assertGreaterEqual(len(images), expected_frames * 0.7, f"only {len(images)} images")
        stamps = [s for s, _ in images]
        self.assertTrue(all(b > a for a, b in itertools.pairwise(stamps)), "stamps not increasing")
        spacing = [round((b - a) * FPS, 3) for a, b in itertools.pairwise(stamps)]
        self.assertTrue(
            all(abs(s - round(s)) < 1e-3 for s in spacing), f"stamps off the 1/fps grid: {spacing}"
        )
        self.assertGreaterEqual(stamps[0], DEFAULT_START_S)
        # Recorded timing: the receive-time span matches the stamp span (rate 1.0), loosely.
        stamp_span = stamps[-1] - stamps[0]
        wall_span = images[-1][1] - images[0][1]
        self.assertAlmostEqual(wall_span, stamp_span, delta=0.35 * stamp_span + 0.3)
        matched = [s for s in stamps if s in infos]
        self.assertGreaterEqual(len(matched), len(stamps) * 0.7, "camera_info stamps must equal image stamps")
        self.assertTrue(clocks and min(clocks) >= DEFAULT_START_S - 0.01, "/clock must carry bag time")


@launch_testing.post_shutdown_test()
class TestGraphExit(unittest.TestCase):
    def test_every_node_exits_cleanly(self, proc_info) -> None:
        # The graph is stopped by the end of the bag or by this test ending (SIGINT, -2); a crash
        # (1, or a segfault) fails. bag_replay's own exit 0 at the end of a bag is tested in
        # tests/bags/test_replay_record_nodes.py.
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0, -2])
