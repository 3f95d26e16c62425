"""Message conversion for the control package (the one place control touches ROS message types)."""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Quaternion, Twist, TwistStamped
from nav_msgs.msg import OccupancyGrid, Odometry
from sensor_msgs.msg import BatteryState
from std_msgs.msg import ColorRGBA
from vision_msgs.msg import Detection3DArray
from visualization_msgs.msg import Marker, MarkerArray

from edge_rover.control.controller import Command, SafetyReport
from edge_rover.control.geometry import GridMap, corridor_polylines
from edge_rover.control.mcu_link.odometry import OdometryEstimate
from edge_rover.control.params import ControllerParams
from edge_rover.perception.mapping.obstacle_conversions import (
    VELOCITY_RESULT_ID,  # the obstacle mapper owns the convention
)


def yaw_from_quaternion(q: Quaternion) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def quaternion_from_yaw(yaw: float) -> Quaternion:
    return Quaternion(x=0.0, y=0.0, z=math.sin(0.5 * yaw), w=math.cos(0.5 * yaw))


def detections_to_rows(msg: Detection3DArray) -> list[dict]:
    """Detection3DArray → plain rows (id, label, confidence, x, y, size_x, size_y, velocity).

    The obstacle mapper's convention: ``id`` = track id; ``bbox.size`` = (depth, width, height);
    ``results`` hold the class hypothesis and, when known, a hypothesis with class_id "velocity"
    whose ``pose.pose.position`` is (vx, vy) in m/s over ground in base_link axes. ``velocity``
    is None where the message carries none. An empty id falls back to the index.
    """
    rows = []
    for index, det in enumerate(msg.detections):
        classes = [r for r in det.results if r.hypothesis.class_id != VELOCITY_RESULT_ID]
        moving = [r for r in det.results if r.hypothesis.class_id == VELOCITY_RESULT_ID]
        best = max(classes, key=lambda r: r.hypothesis.score, default=None)
        velocity = None
        if moving:
            position = moving[0].pose.pose.position
            velocity = (float(position.x), float(position.y))
        rows.append(
            {
                "id": det.id or f"#{index}",
                "label": best.hypothesis.class_id if best else "",
                "confidence": float(best.hypothesis.score) if best else 1.0,
                "x": float(det.bbox.center.position.x),
                "y": float(det.bbox.center.position.y),
                "size_x": float(det.bbox.size.x),
                "size_y": float(det.bbox.size.y),
                "velocity": velocity,
            }
        )
    return rows


def occupancy_to_grid(msg: OccupancyGrid, occupied_threshold: int, inflation: float = 0.0) -> GridMap:
    info = msg.info
    data = np.asarray(msg.data, dtype=np.int8)
    if data.size != info.width * info.height:
        raise ValueError(f"occupancy grid has {data.size} cells, header says {info.width}×{info.height}")
    origin = (info.origin.position.x, info.origin.position.y, yaw_from_quaternion(info.origin.orientation))
    return GridMap.from_occupancy(
        data.reshape(info.height, info.width), info.resolution, origin, occupied_threshold, inflation
    )


def odometry_speed_pose(msg: Odometry) -> tuple[float, float, float, float, float]:
    """(forward speed, yaw rate, x, y, yaw) from an Odometry message."""
    pose = msg.pose.pose
    return (
        float(msg.twist.twist.linear.x),
        float(msg.twist.twist.angular.z),
        float(pose.position.x),
        float(pose.position.y),
        yaw_from_quaternion(pose.orientation),
    )


def command_to_twist(command: Command) -> Twist:
    twist = Twist()
    twist.linear.x = float(command.speed)
    twist.angular.z = float(command.angular_z)
    return twist


def command_to_twist_stamped(command: Command, stamp: Time, frame_id: str) -> TwistStamped:
    msg = TwistStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.twist = command_to_twist(command)
    return msg


# The /safety/status ``state`` vocabulary (tools/report.py matches on it); ``state_name`` is the long form.
STAGE_KEYS = {
    "DRIVING": "drive",
    "WARN": "warn",
    "PARTIAL_BRAKE": "partial",
    "FULL_BRAKE": "full",
    "HOLD": "hold",
    "WATCHDOG_STOP": "stop",
}
STATE_COLOURS = {
    "DRIVING": (0.1, 0.8, 0.2),
    "WARN": (0.95, 0.85, 0.1),
    "PARTIAL_BRAKE": (1.0, 0.5, 0.0),
    "FULL_BRAKE": (0.95, 0.1, 0.1),
    "HOLD": (0.8, 0.0, 0.4),
    "WATCHDOG_STOP": (0.5, 0.5, 0.5),
}


def controller_markers(
    params: ControllerParams, command: Command, report: SafetyReport, stamp: Time, frame_id: str
) -> MarkerArray:
    """RViz: rover footprint, the commanded arc's corridor coloured by safety state, the worst conflict."""
    r, g, b = STATE_COLOURS.get(report.state, (1.0, 1.0, 1.0))
    colour = ColorRGBA(r=r, g=g, b=b, a=0.9)
    markers = []

    def line(ns: str, points: np.ndarray, width: float = 0.03) -> Marker:
        m = Marker()
        m.header.stamp, m.header.frame_id = stamp, frame_id
        m.ns, m.id, m.type, m.action = ns, len(markers), Marker.LINE_STRIP, Marker.ADD
        m.pose.orientation.w = 1.0
        m.scale.x = width
        m.color = colour
        m.points = [Point(x=float(x), y=float(y), z=0.02) for x, y in points]
        markers.append(m)
        return m

    half = 0.5 * params.rover_width
    line("footprint", np.array([[-0.1, -half], [params.front_overhang, -half], [params.front_overhang, half],
                                [-0.1, half], [-0.1, -half]]))  # fmt: skip
    length = params.lookahead if not math.isfinite(report.gap) else max(report.gap, 0.05)
    centre, left, right = corridor_polylines(
        command.curvature, params.half_corridor, params.front_overhang, length
    )
    line("arc", centre, 0.02)
    line("corridor", left)
    line("corridor", right)
    text = Marker()
    text.header.stamp, text.header.frame_id = stamp, frame_id
    text.ns, text.id, text.type, text.action = "state", len(markers), Marker.TEXT_VIEW_FACING, Marker.ADD
    text.pose.position.x, text.pose.position.z = -0.4, 0.6
    text.pose.orientation.w = 1.0
    text.scale.z = 0.2
    text.color = colour
    ttc = "" if not math.isfinite(report.ttc) else f" TTC {report.ttc:.1f} s"
    text.text = f"{report.state} {command.speed:.2f} m/s{ttc}"
    markers.append(text)
    return MarkerArray(markers=markers)


def _fmt(value: float | None) -> str:
    if value is None:
        return "none"
    return "inf" if math.isinf(value) else f"{value:.3f}"


def safety_status(
    report: SafetyReport, command: Command, stamp: Time, now: float, name: str = "controller: safety"
) -> DiagnosticArray:
    status = DiagnosticStatus(
        level=bytes([report.level]),
        name=name,
        hardware_id="edge_rover",
        message=f"{report.state}: {report.reason}" if report.reason else report.state,
    )
    values = {
        "state": STAGE_KEYS.get(report.state, report.state.lower()),
        "state_name": report.state,
        "reason": report.reason,
        "ttc": _fmt(report.ttc),
        "gap": _fmt(report.gap),
        "closing_speed": _fmt(report.closing_speed),
        "stopping_distance": _fmt(report.stopping_distance),
        "obstacle": report.obstacle,
        "ego_speed": _fmt(report.ego_speed),
        "clear_arc": str(report.clear_arc).lower(),
        "latency": _fmt(report.latency),
        "cmd_speed": _fmt(command.speed),
        "cmd_steering_angle": _fmt(command.steering_angle),
        "cmd_yaw_rate": _fmt(command.yaw_rate),
        "brake": _fmt(command.brake),
        "decision_time": f"{now:.6f}",
    }
    values.update({f"age_{k}": "none" if v is None else f"{v:.6f}" for k, v in report.input_ages.items()})
    status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = [status]
    return msg


def estimate_to_odometry(
    estimate: OdometryEstimate, stamp: Time, odom_frame: str, base_frame: str
) -> Odometry:
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = odom_frame
    msg.child_frame_id = base_frame
    msg.pose.pose.position.x = estimate.x
    msg.pose.pose.position.y = estimate.y
    msg.pose.pose.orientation = quaternion_from_yaw(estimate.yaw)
    msg.twist.twist.linear.x = estimate.speed
    msg.twist.twist.angular.z = estimate.yaw_rate
    # Wheel odometry: pose drifts, twist is good. Diagonal covariances say so.
    msg.pose.covariance[0] = msg.pose.covariance[7] = 0.05
    msg.pose.covariance[35] = 0.1
    msg.twist.covariance[0] = 0.01
    msg.twist.covariance[35] = 0.02
    return msg


def battery_state(voltage: float, current: float, stamp: Time, cells: int = 0) -> BatteryState:
    msg = BatteryState()
    msg.header.stamp = stamp
    msg.voltage = float(voltage)
    msg.current = float(-current)  # BatteryState: negative while discharging
    msg.percentage = math.nan
    msg.charge = math.nan
    msg.capacity = math.nan
    msg.design_capacity = math.nan
    msg.temperature = math.nan
    msg.present = True
    msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
    msg.power_supply_technology = BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN
    return msg
