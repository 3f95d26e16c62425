"""`rover.launch.py` as on the robot: camera (a folder of simulator frames standing in for the
device) → detector → obstacle_mapper → controller → serial_bridge → the MCU emulator on a pty.
Commands must reach the MCU (its telemetry comes back as /odom) and /cmd_vel must be produced."""

import sys
import time
from pathlib import Path

import cv2
import pytest

from tests.ros_helpers import running_process, shared_memory_transport, spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_rover_launch_drives_the_mcu_emulator(ros_context, tmp_path: Path) -> None:
    import rclpy
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from rclpy.executors import SingleThreadedExecutor
    from vision_msgs.msg import Detection2DArray

    from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
    from edge_rover.simulation.frames import scenario_frames

    frames = tmp_path / "frames"
    frames.mkdir()
    for i, frame in enumerate(scenario_frames("pedestrian_crossing", 20, 640, 480)):
        cv2.imwrite(str(frames / f"{i:03d}.png"), frame)
    link = tmp_path / "mcu"
    node = rclpy.create_node("rover_probe", context=ros_context)
    got: dict[str, list] = {"cmd": [], "odom": [], "det": []}
    node.create_subscription(Twist, "/cmd_vel", got["cmd"].append, RELIABLE_QOS)
    node.create_subscription(Odometry, "/odom", got["odom"].append, SENSOR_QOS)
    node.create_subscription(Detection2DArray, "/detections", got["det"].append, SENSOR_QOS)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    emulator = [sys.executable, "-m", "edge_rover.control.mcu_link.mcu_emulator", "--link", str(link)]
    with running_process(emulator):
        deadline = time.monotonic() + 10
        while not link.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert link.exists(), "MCU emulator did not create its pty link"
        launch = ["ros2", "launch", "edge_rover", "rover.launch.py", f"camera_source:={frames}",
                  "camera_fps:=10.0", "camera_loop:=true", f"serial_port:={link}"]  # fmt: skip
        with shared_memory_transport() as shm_env, running_process(launch, env=shm_env) as proc:
            ok = spin_until(executor, lambda: all(len(v) >= 5 for v in got.values()), timeout_s=90.0)
            output = "" if proc.poll() is None else proc.stdout.read()
    assert ok, {k: len(v) for k, v in got.items()} | {"launch output": output[-2000:]}
    assert all(abs(m.linear.x) < 5.0 for m in got["cmd"])
    assert got["odom"][-1].header.frame_id, "odometry from the MCU telemetry must name its frame"
