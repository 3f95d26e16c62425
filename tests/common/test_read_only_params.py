"""A parameter read once at start is refused live, with a reason, instead of accepted and ignored.

Real nodes, real DDS: the SetParameters service (what ``ros2 param set`` calls) from another node,
and ``ros2 param set`` itself against the installed camera executable.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("rclpy")

from tests.ros_helpers import running_process, spin_until

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[2]


def _set_remotely(context, node, name: str, value: object):
    """Call ``node``'s SetParameters service from a separate client node; return the result."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    client_node = __import__("rclpy").create_node("param_client", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(client_node)
    try:
        client = client_node.create_client(SetParameters, f"/{node.get_name()}/set_parameters")
        assert spin_until(executor, client.service_is_ready, 10.0), "no set_parameters service"
        future = client.call_async(
            SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        )
        assert spin_until(executor, future.done, 10.0), "set_parameters did not answer"
        return future.result().results[0]
    finally:
        executor.remove_node(node)
        client_node.destroy_node()


def _node_class(name: str) -> type:
    if name == "detector":
        from edge_rover.perception.detection.detector_node import DetectorNode

        return DetectorNode
    if name == "sim":
        from edge_rover.simulation.sim_node import SimNode

        return SimNode
    from edge_rover.perception.mapping.obstacle_mapper_node import ObstacleMapperNode

    return ObstacleMapperNode


@pytest.mark.parametrize(
    ("node_name", "param", "value"),
    [
        ("detector", "conf_threshold", 0.5),
        ("sim", "real_time_factor", 2.0),
        ("obstacle_mapper", "min_score", 0.5),
    ],
)
def test_read_at_start_parameters_are_refused_live(ros_context, node_name, param, value) -> None:
    from rclpy.parameter import Parameter

    node_class = _node_class(node_name)
    overrides = {}
    if node_name == "obstacle_mapper":
        overrides = {
            "extrinsics_url": str(ROOT / "config" / "extrinsics.yaml"),
            "classes_url": str(ROOT / "config" / "classes.yaml"),
        }
    node = node_class(
        context=ros_context, parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()]
    )
    before = node.get_parameter(param).value
    try:
        result = _set_remotely(ros_context, node, param, value)
        assert not result.successful
        assert "read-only" in result.reason, result.reason
        assert node.get_parameter(param).value == before
    finally:
        node.destroy_node()


def test_live_parameters_still_change_and_read_only_ones_do_not(ros_context) -> None:
    """The control case: the controller's tuning applies live; its frames are read at start."""
    from edge_rover.control.controller_node import ControllerNode

    node = ControllerNode(context=ros_context)
    try:
        assert _set_remotely(ros_context, node, "ttc_warn", 3.5).successful
        assert node.get_parameter("ttc_warn").value == 3.5
        refused = _set_remotely(ros_context, node, "base_frame", "odom")
        assert not refused.successful and "read-only" in refused.reason
    finally:
        node.destroy_node()


def test_ros2_param_set_on_the_running_camera_is_refused_with_a_reason(ros_context, tmp_path) -> None:
    import rclpy
    from rcl_interfaces.srv import GetParameters
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from edge_rover.common.qos import SENSOR_QOS

    for i in range(2):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((240, 320, 3), 60 * (i + 1), np.uint8))
    probe = rclpy.create_node("camera_param_probe", context=ros_context)
    images: list = []
    probe.create_subscription(Image, "/camera/image_raw", images.append, SENSOR_QOS)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(probe)
    cmd = ["ros2", "run", "edge_rover", "camera", "--ros-args", "-p", f"source:={tmp_path}"]
    cmd += ["-p", "width:=320", "-p", "height:=240", "-p", "loop:=true", "-p", "freeze_timeout_s:=0.0"]
    try:
        with running_process(cmd) as proc:
            assert spin_until(executor, lambda: bool(images), 30.0), "camera published nothing"
            out = ""
            for _ in range(5):  # the CLI's own discovery can miss a fresh node: ask again
                result = subprocess.run(
                    ["ros2", "param", "set", "--no-daemon", "/camera", "fps", "10.0"],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                out = result.stdout + result.stderr
                if "Node not found" not in out:
                    break
            assert "Setting parameter failed" in out and "read-only" in out, out
            # The value is unchanged (asked over the service: the CLI's discovery can miss a node).
            client = probe.create_client(GetParameters, "/camera/get_parameters")
            assert spin_until(executor, client.service_is_ready, 10.0)
            future = client.call_async(GetParameters.Request(names=["fps"]))
            assert spin_until(executor, future.done, 10.0)
            assert future.result().values[0].double_value == 30.0
            assert proc.poll() is None
    finally:
        probe.destroy_node()
