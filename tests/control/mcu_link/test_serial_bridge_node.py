"""Serial bridge node on real DDS against the MCU emulator on a real pty."""

from __future__ import annotations

import pytest

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import BatteryState

from edge_rover.common.qos import RELIABLE_QOS
from edge_rover.control.mcu_link.mcu_emulator import PtyMcu
from edge_rover.control.mcu_link.serial_bridge_node import SerialBridgeNode
from edge_rover.control.mcu_link.serial_protocol import FLAG_BRAKE, FLAG_HEARTBEAT_LOST
from tests.ros_helpers import spin_until

pytestmark = pytest.mark.ros


def test_bridge_drives_brakes_on_silence_and_survives_unplug(ros_context: object, tmp_path) -> None:
    import rclpy

    mcu = PtyMcu(tmp_path / "mcu").start()
    bridge = SerialBridgeNode(
        context=ros_context,
        parameter_overrides=[
            Parameter("port", value=str(mcu.path)),
            Parameter("backoff_initial", value=0.05),
            Parameter("backoff_max", value=0.2),
        ],
    )
    node = rclpy.create_node("bridge_test_harness", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(bridge)
    executor.add_node(node)
    odom: list[Odometry] = []
    battery: list[BatteryState] = []
    diags: list[DiagnosticArray] = []
    node.create_subscription(Odometry, "/odom", odom.append, RELIABLE_QOS)
    node.create_subscription(BatteryState, "/battery", battery.append, RELIABLE_QOS)
    node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, RELIABLE_QOS)
    pub = node.create_publisher(Twist, "/cmd_vel", RELIABLE_QOS)
    sending = {"on": True}

    def send() -> None:
        if sending["on"]:
            msg = Twist()
            msg.linear.x = 0.8
            pub.publish(msg)

    node.create_timer(0.02, send)
    try:
        assert spin_until(executor, lambda: bool(odom) and odom[-1].twist.twist.linear.x > 0.6, 10.0)
        assert odom[-1].pose.pose.position.x > 0.0
        assert battery and 10.0 < battery[-1].voltage < 13.0
        # /cmd_vel goes quiet → the bridge sends brake frames with the heartbeat-lost flag.
        sending["on"] = False
        assert spin_until(executor, lambda: odom[-1].twist.twist.linear.x == 0.0, 5.0)
        flags = mcu.model.last_command.flags
        assert flags & FLAG_BRAKE and flags & FLAG_HEARTBEAT_LOST
        # Unplug: reported on /diagnostics; replug: telemetry resumes.
        mcu.unplug()
        assert spin_until(executor, lambda: diags and "port down" in diags[-1].status[0].message, 5.0)
        values = {kv.key: kv.value for kv in diags[-1].status[0].values}
        assert values["connected"] == "false" and int(values["failures"]) >= 1
        mcu.replug()
        sending["on"] = True
        n_odom = len(odom)
        assert spin_until(
            executor, lambda: len(odom) > n_odom + 10 and odom[-1].twist.twist.linear.x > 0.3, 10.0
        )
        assert bridge.link.status.opens == 2
    finally:
        executor.shutdown()
        bridge.destroy_node()
        node.destroy_node()
        mcu.stop()
