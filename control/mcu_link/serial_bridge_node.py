"""Serial bridge node: /cmd_vel → command frames to the motor MCU; telemetry → /odom, /battery.

A fixed-rate timer sends one command frame per period whatever /cmd_vel does: no fresh
/cmd_vel for ``cmd_timeout`` → brake frames (heartbeat lost). The port is opened with backoff,
an unplugged one is retried and reported on /diagnostics, a replugged one resumes.
"""

from __future__ import annotations

import sys
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool

from edge_rover.common.conventions import (
    ANGULAR_Z_CHOICES,
    ANGULAR_Z_DEFAULT,
    ANGULAR_Z_HELP,
    ANGULAR_Z_PARAM,
)
from edge_rover.common.graph import BATTERY, CMD_VEL, DIAGNOSTICS, ESTOP, ODOM
from edge_rover.common.msgs.battery import battery_to_msg
from edge_rover.common.msgs.diagnostics import ERROR, OK, WARN, Status, diagnostics_to_msg
from edge_rover.common.msgs.odometry import odometry_to_msg
from edge_rover.common.msgs.twist import twist_from_msg
from edge_rover.common.node_runner import run_node
from edge_rover.common.params import ParamSpec, declare_validated
from edge_rover.common.qos import RELIABLE_QOS
from edge_rover.control.mcu_link.bridge_logic import command_frame
from edge_rover.control.mcu_link.odometry import OdometryEstimate, body_twist, integrate
from edge_rover.control.mcu_link.serial_link import SerialLink
from edge_rover.control.mcu_link.serial_protocol import TelemetryFrame

PARAM_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "port",
        "/tmp/edge_rover_mcu",
        "serial device or pyserial URL (loop://, socket://host:port)",
        read_only=True,
    ),
    ParamSpec("baudrate", 115200, "serial baud rate", 1200, 4_000_000, read_only=True),
    ParamSpec(
        "command_rate_hz",
        50.0,
        "command frames per second (also the heartbeat)",
        5.0,
        500.0,
        read_only=True,
    ),
    ParamSpec("cmd_timeout", 0.25, "no /cmd_vel for this long → brake frames (s)", 0.02, 5.0),
    ParamSpec(
        "mcu_timeout_ms",
        200,
        "told to the MCU in every frame: stop if no valid frame for this long",
        20,
        5000,
    ),
    ParamSpec("telemetry_timeout", 0.5, "no telemetry for this long → diagnostics ERROR (s)", 0.05, 10.0),
    ParamSpec(ANGULAR_Z_PARAM, ANGULAR_Z_DEFAULT, ANGULAR_Z_HELP, choices=ANGULAR_Z_CHOICES),
    ParamSpec(
        "drive",
        "ackermann",
        "the MCU's drive: ackermann (frame carries a steering angle) or differential (a yaw rate)",
        choices=("ackermann", "differential"),
    ),
    ParamSpec("max_steering_angle", 0.5, "steering angle clamp for an ackermann drive (rad)", 0.05, 1.2),
    ParamSpec("cmd_vel_stamped", False, "/cmd_vel is TwistStamped (match the controller)", read_only=True),
    ParamSpec("max_speed", 2.0, "speed clamp before the frame is built (m/s)", 0.0, 30.0),
    ParamSpec(
        "wheelbase", 0.5, "rear to front axle: yaw rate ↔ steering angle, ackermann odometry (m)", 0.05, 5.0
    ),
    ParamSpec("track_width", 0.4, "rear wheel spacing for differential odometry (m)", 0.05, 5.0),
    ParamSpec(
        "backoff_initial", 0.1, "first reopen delay after a port error (s)", 0.01, 10.0, read_only=True
    ),
    ParamSpec("backoff_max", 2.0, "longest reopen delay (s)", 0.01, 60.0, read_only=True),
    ParamSpec("odom_frame", "odom", "frame of /odom", read_only=True),
    ParamSpec("base_frame", "base_link", "child frame of /odom", read_only=True),
    ParamSpec(
        "publish_odom", True, "publish /odom from wheel telemetry (off when another source owns /odom)"
    ),
)


class SerialBridgeNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("serial_bridge", **kwargs)
        self.p = declare_validated(self, PARAM_SPECS)
        self.add_post_set_parameters_callback(lambda params: self.p.update({x.name: x.value for x in params}))
        self.link = SerialLink(
            self.p["port"],
            self.p["baudrate"],
            backoff_initial=self.p["backoff_initial"],
            backoff_max=self.p["backoff_max"],
        )
        self._twist: tuple[float, float] | None = None
        self._twist_received: float | None = None
        self._estop = False
        self._seq = 0
        self._odom = OdometryEstimate()
        self._telemetry: TelemetryFrame | None = None
        self._telemetry_received: float | None = None
        self._heartbeat_lost_frames = 0
        self._was_connected: bool | None = None

        cmd_type = TwistStamped if self.p["cmd_vel_stamped"] else Twist
        self.create_subscription(cmd_type, CMD_VEL, self._on_cmd_vel, RELIABLE_QOS)
        self.create_subscription(Bool, ESTOP, self._on_estop, RELIABLE_QOS)
        self._pub_odom = self.create_publisher(Odometry, ODOM, RELIABLE_QOS)
        self._pub_battery = self.create_publisher(BatteryState, BATTERY, RELIABLE_QOS)
        self._pub_diag = self.create_publisher(DiagnosticArray, DIAGNOSTICS, RELIABLE_QOS)
        self._timer = self.create_timer(1.0 / self.p["command_rate_hz"], self._tick)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(
            f"serial bridge on {self.p['port']} at {self.p['baudrate']} Bd, "
            f"{self.p['command_rate_hz']:.0f} Hz, "
            f"brake after {self.p['cmd_timeout'] * 1000:.0f} ms without /cmd_vel"
        )

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_cmd_vel(self, msg: Twist | TwistStamped) -> None:
        self._twist = twist_from_msg(msg)
        self._twist_received = self._now()

    def _on_estop(self, msg: Bool) -> None:
        if bool(msg.data) != self._estop:
            self.get_logger().warning(f"e-stop {'SET' if msg.data else 'cleared'}")
        self._estop = bool(msg.data)

    def _tick(self) -> None:
        now = self._now()
        for frame in self.link.poll(now):
            if isinstance(frame, TelemetryFrame):
                self._on_telemetry(frame, now)
        age = None if self._twist_received is None else now - self._twist_received
        frame = command_frame(
            self._seq,
            self._twist,
            age,
            self.p["cmd_timeout"],
            self.p["mcu_timeout_ms"],
            cmd_vel_angular_z=self.p[ANGULAR_Z_PARAM],
            drive=self.p["drive"],
            wheelbase=self.p["wheelbase"],
            max_steering=self.p["max_steering_angle"],
            estop=self._estop,
            max_speed=self.p["max_speed"],
        )
        if frame.flags & 0x08:
            self._heartbeat_lost_frames += 1
            if self._twist_received is not None:
                self.get_logger().warning(
                    f"no /cmd_vel for {age:.2f} s: sending brake frames", throttle_duration_sec=2.0
                )
        if self.link.send(frame, now):
            self._seq = (self._seq + 1) & 0xFFFF
        connected = self.link.status.connected
        if connected != self._was_connected:
            if connected:
                self.get_logger().info(f"serial port {self.p['port']} open (open #{self.link.status.opens})")
            else:
                self.get_logger().error(
                    f"serial port lost: {self.link.status.last_error}; retrying with backoff"
                )
            self._was_connected = connected

    def _on_telemetry(self, frame: TelemetryFrame, now: float) -> None:
        self._telemetry, self._telemetry_received = frame, now
        speed, yaw_rate = body_twist(
            frame.wheel_left_mm_s / 1000.0,
            frame.wheel_right_mm_s / 1000.0,
            frame.steering_mrad / 1000.0,
            self.p["drive"],
            self.p["track_width"],
            self.p["wheelbase"],
        )
        self._odom = integrate(self._odom, now, speed, yaw_rate)
        stamp = self.get_clock().now().to_msg()
        if self.p["publish_odom"]:
            self._pub_odom.publish(_odometry(self._odom, stamp, self.p["odom_frame"], self.p["base_frame"]))
        self._pub_battery.publish(battery_to_msg(frame.battery_mv / 1000.0, frame.battery_ma / 1000.0, stamp))

    def _publish_diagnostics(self) -> None:
        now = self._now()
        status = self.link.status
        tel_age = None if self._telemetry_received is None else now - self._telemetry_received
        level, message = OK, "link up"
        faults = self._telemetry.fault_names() if self._telemetry else []
        if not status.connected:
            level, message = ERROR, f"port down: {status.last_error}"
        elif tel_age is None or tel_age > self.p["telemetry_timeout"]:
            level, message = ERROR, "no telemetry from the MCU"
        elif set(faults) - {"braking"}:
            level, message = WARN, f"MCU faults: {', '.join(faults)}"
        values = {
            "port": self.p["port"],
            "connected": str(status.connected).lower(),
            "opens": str(status.opens),
            "failures": str(status.failures),
            "retry_in": f"{max(self.link.backoff.next_try - now, 0.0):.2f}" if not status.connected else "0",
            "frames_out": str(status.frames_out),
            "frames_in": str(self.link.decoder.stats.frames),
            "bad_frames": str(self.link.decoder.stats.bad_frames + self.link.decoder.stats.overruns),
            "heartbeat_lost_frames": str(self._heartbeat_lost_frames),
            "telemetry_age": "none" if tel_age is None else f"{tel_age:.3f}",
            "mcu_faults": ",".join(faults),
            "battery_v": f"{self._telemetry.battery_mv / 1000.0:.2f}" if self._telemetry else "nan",
        }
        report = Status(
            name="serial_bridge: link",
            level=level,
            message=message,
            values=values,
            hardware_id=self.p["port"],
        )
        self._pub_diag.publish(diagnostics_to_msg(report, self.get_clock().now().to_msg()))

    def destroy_node(self) -> None:
        self.link.close()
        super().destroy_node()


def _odometry(estimate: OdometryEstimate, stamp: Any, odom_frame: str, base_frame: str) -> Odometry:
    # Wheel odometry: the pose drifts, the twist is good; the diagonal covariances say so.
    return odometry_to_msg(
        (estimate.x, estimate.y, estimate.yaw),
        estimate.speed,
        estimate.yaw_rate,
        stamp,
        odom_frame,
        base_frame,
        pose_variance=(0.05, 0.05, 0.1),
        twist_variance=(0.01, 0.02),
    )


def main(args: list[str] | None = None) -> int:
    return run_node(SerialBridgeNode, "serial_bridge", args)


if __name__ == "__main__":
    sys.exit(main())
