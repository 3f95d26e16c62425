"""The sim node on real rclpy/DDS: images + camera_info (same stamps), odom, clock, ground truth,
obeying /cmd_vel, and lock-step waiting on /detections. Plus the launch file, end to end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ros_helpers import spin_until

pytestmark = pytest.mark.ros


def _make_nodes(context, overrides: dict):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from edge_rover.simulation.sim_node import SimNode

    params = [Parameter(name, value=value) for name, value in overrides.items()]
    sim = SimNode(context=context, parameter_overrides=params)
    import rclpy

    probe = rclpy.create_node("sim_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(sim)
    executor.add_node(probe)
    return sim, probe, executor


def test_sim_node_publishes_sensors_and_obeys_cmd_vel(ros_context) -> None:
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection3DArray

    from edge_rover.common.msgs.image import image_to_bgr
    from edge_rover.common.msgs.stamps import stamp_to_sec
    from edge_rover.common.qos import CLOCK_QOS, RELIABLE_QOS, SENSOR_QOS

    sim, probe, executor = _make_nodes(
        ros_context,
        {
            "scenario": "static_obstacle",
            "real_time_factor": 4.0,
            "cruise_without_cmd_vel": False,
            "obstacles_from_truth": True,
        },
    )
    images, infos, odoms, clocks, truths, obstacles = [], {}, [], [], [], []
    probe.create_subscription(Image, "/camera/image_raw", images.append, SENSOR_QOS)
    probe.create_subscription(
        CameraInfo,
        "/camera/camera_info",
        lambda m: infos.__setitem__(stamp_to_sec(m.header.stamp), m),
        SENSOR_QOS,
    )
    probe.create_subscription(Odometry, "/odom", odoms.append, RELIABLE_QOS)
    probe.create_subscription(Clock, "/clock", clocks.append, CLOCK_QOS)
    probe.create_subscription(Detection3DArray, "/sim/ground_truth", truths.append, RELIABLE_QOS)
    probe.create_subscription(Detection3DArray, "/obstacles", obstacles.append, SENSOR_QOS)
    cmd_pub = probe.create_publisher(Twist, "/cmd_vel", RELIABLE_QOS)
    try:
        assert spin_until(
            executor, lambda: len(images) >= 3 and len(odoms) >= 3 and clocks and truths and obstacles, 20.0
        )
        frame = image_to_bgr(images[-1])
        assert frame.shape == (480, 640, 3) and frame.std() > 5.0  # real pixels, not a blank frame
        stamp = stamp_to_sec(images[-1].header.stamp)
        assert spin_until(executor, lambda: stamp in infos, 5.0), "camera_info with the image's stamp"
        classes = {d.results[0].hypothesis.class_id for d in truths[-1].detections}
        assert "car" in classes
        # Velocity rides as a second result (the obstacle mapper's convention); parked cars: zero.
        assert all(d.results[1].hypothesis.class_id == "velocity" for d in truths[-1].detections)
        assert obstacles[-1].header.frame_id == "base_link" and obstacles[-1].detections
        # No /cmd_vel yet and cruise_without_cmd_vel false: the rover stays put.
        assert abs(odoms[-1].twist.twist.linear.x) < 1e-9
        # Now drive: the odometry speed must rise toward the command.
        cmd = Twist()
        cmd.linear.x = 1.0

        def driving() -> bool:
            cmd_pub.publish(cmd)
            return odoms[-1].twist.twist.linear.x > 0.8

        assert spin_until(executor, driving, 20.0)
        assert odoms[-1].pose.pose.position.x > 0.0
        assert clocks[-1].clock.sec >= 1_700_000_000
    finally:
        executor.shutdown()
        sim.destroy_node()
        probe.destroy_node()


def test_lock_step_waits_for_detections_of_the_last_frame(ros_context) -> None:
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    from edge_rover.common.qos import SENSOR_QOS

    sim, probe, executor = _make_nodes(
        ros_context,
        {"scenario": "clear_road", "real_time_factor": 0.0, "lock_step": True, "lock_step_timeout_s": 30.0},
    )
    images: list[Image] = []
    probe.create_subscription(Image, "/camera/image_raw", images.append, SENSOR_QOS)
    det_pub = probe.create_publisher(Detection2DArray, "/detections", SENSOR_QOS)
    try:
        assert spin_until(executor, lambda: len(images) >= 1, 15.0)
        spin_until(executor, lambda: False, 1.0)  # as fast as possible, yet nothing may advance
        assert len(images) == 1 and sim.world.time == 0.0
        for expected in (2, 3):
            reply = Detection2DArray()
            reply.header = images[-1].header
            det_pub.publish(reply)
            assert spin_until(executor, lambda n=expected: len(images) >= n, 10.0)
        assert sim.world.time == pytest.approx(2 * sim.scenario.step_s)
    finally:
        executor.shutdown()
        sim.destroy_node()
        probe.destroy_node()


def test_sim_launch_runs_a_scenario_to_its_end_and_writes_metrics(tmp_path: Path) -> None:
    scenario = yaml.safe_load(Path("config/scenarios/static_obstacle.yaml").read_text())
    scenario.update(name="short_static", duration_s=1.0)
    path = tmp_path / "short_static.yaml"
    path.write_text(yaml.safe_dump(scenario))
    metrics = tmp_path / "metrics.json"
    args = [
        "ros2", "launch", "edge_rover", "sim.launch.py", f"scenario:={path}", "pipeline:=false",
        "cruise_without_cmd_vel:=true",
        "real_time_factor:=0.0", f"metrics_path:={metrics}",
    ]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(metrics.read_text())
    assert report["scenario"] == "short_static"
    assert report["duration_s"] == pytest.approx(1.0)
    assert report["mean_speed"] > 0.3  # cruising: no controller in this graph
    assert report["collided"] is False and report["success"] is False  # it never stopped
    assert report["metrics"]["min_gap_m"] == report["min_gap_m"]
