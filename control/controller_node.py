"""Controller node: a fixed-rate loop around the pure controller core (``edge_rover.control.controller``).

Subscribes /obstacles (vision_msgs/Detection3DArray, base_link), /obstacle_map
(nav_msgs/OccupancyGrid), /odom, /cmd_vel_in (Twist, optional), and watches
/camera/camera_info and /detections arrivals. Publishes /cmd_vel (Twist or TwistStamped,
RELIABLE) and /safety/status (diagnostic_msgs/DiagnosticArray) every cycle, whatever the
inputs do: a silent input trips the watchdog, it never stalls the loop.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import OccupancyGrid, Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo
from vision_msgs.msg import Detection2DArray, Detection3DArray
from visualization_msgs.msg import MarkerArray

from edge_rover.common.graph import (
    CAMERA_INFO,
    CMD_VEL,
    CMD_VEL_IN,
    CONTROLLER_MARKERS,
    DETECTIONS,
    OBSTACLE_MAP,
    OBSTACLES,
    ODOM,
    SAFETY_STATUS,
)
from edge_rover.common.msgs.diagnostics import STAGE_KEYS, Status, diagnostics_to_msg, format_value
from edge_rover.common.msgs.grid import grid_from_msg
from edge_rover.common.msgs.markers import STATE_COLOURS, colour, line_strip, text
from edge_rover.common.msgs.obstacles import obstacles_from_msg
from edge_rover.common.msgs.odometry import odometry_from_msg
from edge_rover.common.msgs.stamps import sec_to_stamp, stamp_to_sec
from edge_rover.common.msgs.twist import twist_stamped_to_msg, twist_to_msg
from edge_rover.common.node_runner import run_node
from edge_rover.common.params import ParameterValueError, ParamSpec, declare_validated
from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
from edge_rover.control.controller import (
    Command,
    ControlInputs,
    ControllerState,
    Obstacle,
    SafetyReport,
    step,
)
from edge_rover.control.geometry import GridMap, corridor_polylines
from edge_rover.control.params import PARAM_SPECS as CORE_SPECS
from edge_rover.control.params import ControllerParams, params_from_values
from edge_rover.control.velocity import VelocityEstimator

NODE_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "cmd_vel_stamped",
        False,
        "publish /cmd_vel as TwistStamped (stamp = obstacle capture stamp)",
        read_only=True,
    ),
    ParamSpec("watch_camera_info", True, "watchdog: /camera/camera_info must keep arriving"),
    ParamSpec("watch_detections", True, "watchdog: /detections must keep arriving"),
    ParamSpec("cmd_in_timeout", 0.5, "/cmd_vel_in older than this → desired speed 0 (s)", 0.05, 10.0),
    ParamSpec(
        "velocity_source",
        "auto",
        "obstacle velocity: message (the mapper's 'velocity' result), differenced (track positions over "
        "time), zero (static assumption), auto (message where present, else differenced)",
        choices=("auto", "message", "differenced", "zero"),
    ),
    ParamSpec(
        "decide_on_obstacles",
        True,
        "run a control cycle as soon as new /obstacles arrive and restart the period timer (saves up to "
        "one period of latency, ~17 ms on average at 30 Hz); false: decide on the timer only",
    ),
    ParamSpec("base_frame", "base_link", "frame the obstacles must be in", read_only=True),
    ParamSpec("odom_frame", "odom", "odometry frame (a grid in it is placed with /odom)", read_only=True),
)
# The node's whole table: the core's (control/params.py) and the node's own.
PARAM_SPECS: tuple[ParamSpec, ...] = (*CORE_SPECS, *NODE_SPECS)
MARKER_EVERY = 5  # cycles between /controller/markers (10 Hz at 50 Hz), only while someone listens
_CORE_NAMES = {f.name for f in dataclasses.fields(ControllerParams)}


class ControllerNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("controller", **kwargs)
        values = declare_validated(self, PARAM_SPECS)
        self._values = values
        self._params = params_from_values({k: v for k, v in values.items() if k in _CORE_NAMES})
        self.add_on_set_parameters_callback(self._check_parameter_set)
        self.add_post_set_parameters_callback(self._apply_parameter_set)

        self._state = ControllerState()
        self._velocity = VelocityEstimator()
        self._obstacles: tuple[Obstacle, ...] = ()
        self._obstacles_stamp: float | None = None
        self._obstacles_stamp_msg = None
        self._obstacles_received: float | None = None
        self._invalid: str | None = None
        self._camera_received: float | None = None
        self._detections_received: float | None = None
        self._grid: GridMap | None = None
        self._grid_frame = ""
        self._grid_received: float | None = None
        self._odom: tuple[float, float, float, float, float] | None = None
        self._odom_received: float | None = None
        self._cmd_in: tuple[float, float] | None = None
        self._cmd_in_received: float | None = None
        self._last_state_name = ""

        self._stamped = bool(values["cmd_vel_stamped"])
        self._pub_cmd = self.create_publisher(TwistStamped if self._stamped else Twist, CMD_VEL, RELIABLE_QOS)
        self._pub_status = self.create_publisher(DiagnosticArray, SAFETY_STATUS, RELIABLE_QOS)
        self._pub_markers = self.create_publisher(MarkerArray, CONTROLLER_MARKERS, RELIABLE_QOS)
        self._cycle = 0
        self.create_subscription(Detection3DArray, OBSTACLES, self._on_obstacles, SENSOR_QOS)
        self.create_subscription(OccupancyGrid, OBSTACLE_MAP, self._on_grid, SENSOR_QOS)
        self.create_subscription(Odometry, ODOM, self._on_odom, RELIABLE_QOS)
        self.create_subscription(Twist, CMD_VEL_IN, self._on_cmd_in, RELIABLE_QOS)
        self.create_subscription(CameraInfo, CAMERA_INFO, self._on_camera_info, SENSOR_QOS)
        self.create_subscription(Detection2DArray, DETECTIONS, self._on_detections, SENSOR_QOS)
        self._timer = self.create_timer(self._params.period, self._tick)
        self.get_logger().info(
            f"controller at {self._params.rate_hz:.0f} Hz, angular.z = {self._params.cmd_vel_angular_z}, "
            "watchdog "
            f"{self._params.stale_after * 1000:.0f} ms, cruise {self._params.cruise_speed} m/s"
        )

    # ------------------------------------------------------------------ parameters
    def _check_parameter_set(self, params: list[Any]) -> SetParametersResult:
        proposed = dict(self._values)
        proposed.update({p.name: p.value for p in params})
        try:
            params_from_values({k: v for k, v in proposed.items() if k in _CORE_NAMES})
        except (ParameterValueError, TypeError, ValueError) as err:
            self.get_logger().warning(f"refused parameter change: {err}")
            return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    def _apply_parameter_set(self, params: list[Any]) -> None:
        self._values.update({p.name: p.value for p in params})
        old_rate = self._params.rate_hz
        self._params = params_from_values({k: v for k, v in self._values.items() if k in _CORE_NAMES})
        if self._params.rate_hz != old_rate:
            self._timer.cancel()
            self.destroy_timer(self._timer)
            self._timer = self.create_timer(self._params.period, self._tick)
        self.get_logger().info(f"parameters updated: {', '.join(p.name for p in params)}")

    # ------------------------------------------------------------------ inputs
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_obstacles(self, msg: Detection3DArray) -> None:
        now = self._now()
        stamp = stamp_to_sec(msg.header.stamp)
        if msg.header.frame_id and msg.header.frame_id != self._values["base_frame"]:
            self._invalid = (
                f"obstacles in frame {msg.header.frame_id!r}, expected {self._values['base_frame']!r}"
            )
            self._obstacles_received = now
            return
        self._invalid = None
        boxes = obstacles_from_msg(msg)
        source = self._values["velocity_source"]
        velocities: dict[str, tuple[float, float]] = {}
        if source in ("auto", "differenced"):
            ego, yaw_rate = (0.0, 0.0) if self._odom is None else self._odom[:2]
            if not (math.isfinite(ego) and math.isfinite(yaw_rate)):
                ego, yaw_rate = 0.0, 0.0
            positions = {b.id: b.position for b in boxes if all(math.isfinite(v) for v in b.position)}
            velocities = self._velocity.update(stamp, positions, ego, yaw_rate)
        if source in ("auto", "message"):
            velocities.update({b.id: b.velocity for b in boxes if b.velocity is not None})
        self._obstacles = tuple(
            Obstacle(
                track_id=b.id,
                x=b.position[0],
                y=b.position[1],
                vx=velocities.get(b.id, (0.0, 0.0))[0],
                vy=velocities.get(b.id, (0.0, 0.0))[1],
                size_x=b.size[0],
                size_y=b.size[1],
                label=b.class_name,
                confidence=b.score,
                yaw=b.yaw,
            )
            for b in boxes
        )
        self._obstacles_stamp = stamp
        self._obstacles_stamp_msg = msg.header.stamp  # republished exactly (float seconds lose ns)
        self._obstacles_received = now
        if self._values["decide_on_obstacles"]:
            # A new obstacle set is the only input that can change the decision quickly; acting on it
            # now instead of at the next tick takes the timer's phase out of the braking latency. The
            # timer restarts so cycles stay at least one period apart in steady state.
            self._tick()
            self._timer.reset()

    def _on_grid(self, msg: OccupancyGrid) -> None:
        try:
            cells, resolution, origin = grid_from_msg(msg)
            self._grid = GridMap.from_occupancy(
                cells, resolution, origin, self._params.grid_occupied_threshold, self._params.grid_inflation
            )
        except ValueError as err:
            self.get_logger().error(f"ignoring occupancy grid: {err}", throttle_duration_sec=2.0)
            return
        self._grid_frame = msg.header.frame_id or self._values["base_frame"]
        self._grid_received = self._now()

    def _on_odom(self, msg: Odometry) -> None:
        odom = odometry_from_msg(msg)
        self._odom = (odom.speed, odom.yaw_rate, odom.x, odom.y, odom.yaw)
        self._odom_received = self._now()

    def _on_cmd_in(self, msg: Twist) -> None:
        speed = float(msg.linear.x)
        curvature = float(msg.angular.z) / speed if abs(speed) > 0.05 else 0.0
        self._cmd_in = (speed, curvature)
        self._cmd_in_received = self._now()

    def _on_camera_info(self, _msg: CameraInfo) -> None:
        self._camera_received = self._now()

    def _on_detections(self, _msg: Detection2DArray) -> None:
        self._detections_received = self._now()

    # ------------------------------------------------------------------ the loop
    def _inputs(self, now: float) -> ControlInputs:
        p, v = self._params, self._values
        odom_fresh = self._odom is not None and self._odom_received is not None
        odom_fresh = odom_fresh and now - self._odom_received <= p.odom_timeout
        ego = self._odom[0] if odom_fresh else None
        yaw = self._odom[4] if odom_fresh else None
        desired_speed, desired_curvature = None, 0.0
        if self._cmd_in is not None:
            if now - self._cmd_in_received <= v["cmd_in_timeout"]:
                desired_speed, desired_curvature = self._cmd_in
            else:
                desired_speed = 0.0  # the teleop/planner went quiet: do not fall back to cruising
        grid, base_in_grid = None, (0.0, 0.0, 0.0)
        if self._grid is not None:
            if self._grid_frame == v["base_frame"]:
                grid = self._grid
            elif self._grid_frame == v["odom_frame"] and odom_fresh:
                grid, base_in_grid = self._grid, (self._odom[2], self._odom[3], self._odom[4])
            else:
                self.get_logger().warning(
                    f"occupancy grid in frame {self._grid_frame!r} cannot be placed; ignoring it",
                    throttle_duration_sec=5.0,
                )
        extra = (("detections", self._detections_received),) if v["watch_detections"] else ()
        return ControlInputs(
            obstacles=self._obstacles,
            obstacles_stamp=self._obstacles_stamp,
            obstacles_received=self._obstacles_received,
            frames_received=self._camera_received,
            watch_frames=bool(v["watch_camera_info"]),
            extra_watched=extra,
            invalid=self._invalid,
            grid=grid,
            grid_received=self._grid_received,
            base_in_grid=base_in_grid,
            ego_speed=ego,
            desired_speed=desired_speed,
            desired_curvature=desired_curvature,
            yaw=yaw,
            position=(self._odom[2], self._odom[3]) if odom_fresh else None,
        )

    def _tick(self) -> None:
        now = self._now()
        self._state, command, report = step(self._params, self._state, self._inputs(now), now)
        stamp = self._obstacles_stamp_msg or sec_to_stamp(max(now, 0.0))
        if self._stamped:
            self._pub_cmd.publish(
                twist_stamped_to_msg(command.speed, command.angular_z, stamp, self._values["base_frame"])
            )
        else:
            self._pub_cmd.publish(twist_to_msg(command.speed, command.angular_z))
        self._pub_status.publish(
            diagnostics_to_msg(safety_status(report, command, now), self.get_clock().now().to_msg())
        )
        self._cycle += 1
        if self._cycle % MARKER_EVERY == 0 and self._pub_markers.get_subscription_count() > 0:
            self._pub_markers.publish(
                controller_markers(self._params, command, report, stamp, self._values["base_frame"])
            )
        if report.state != self._last_state_name:
            text = f"safety state {self._last_state_name or 'START'} → {report.state}: {report.reason}"
            if report.level >= 1:
                self.get_logger().warning(text)
            else:
                self.get_logger().info(text)
            self._last_state_name = report.state


def safety_status(report: SafetyReport, command: Command, now: float) -> Status:
    """The ``safety/status`` record of one cycle (keys: common/msgs/diagnostics.py)."""
    values = {
        "state": STAGE_KEYS.get(report.state, report.state.lower()),
        "state_name": report.state,
        "reason": report.reason,
        "ttc": format_value(report.ttc),
        "gap": format_value(report.gap),
        "closing_speed": format_value(report.closing_speed),
        "stopping_distance": format_value(report.stopping_distance),
        "obstacle": report.obstacle,
        "ego_speed": format_value(report.ego_speed),
        "clear_arc": str(report.clear_arc).lower(),
        "latency": format_value(report.latency),
        "cmd_speed": format_value(command.speed),
        "cmd_steering_angle": format_value(command.steering_angle),
        "cmd_yaw_rate": format_value(command.yaw_rate),
        "brake": format_value(command.brake),
        "decision_time": f"{now:.6f}",
    }
    values.update({f"age_{k}": "none" if v is None else f"{v:.6f}" for k, v in report.input_ages.items()})
    message = f"{report.state}: {report.reason}" if report.reason else report.state
    return Status(
        name="controller: safety",
        level=report.level,
        message=message,
        values=values,
        hardware_id="edge_rover",
    )


def controller_markers(
    params: ControllerParams, command: Command, report: SafetyReport, stamp: Any, frame_id: str
) -> MarkerArray:
    """RViz: rover footprint, the commanded arc's corridor coloured by safety state, the state text."""
    rgba = colour(STATE_COLOURS.get(report.state, (1.0, 1.0, 1.0)), 0.9)
    half = 0.5 * params.rover_width
    front = params.front_overhang
    footprint = [(-0.1, -half), (front, -half), (front, half), (-0.1, half), (-0.1, -half)]
    length = params.lookahead if not math.isfinite(report.gap) else max(report.gap, 0.05)
    centre, left, right = corridor_polylines(command.curvature, params.half_corridor, front, length)
    lines = [("footprint", footprint, 0.03), ("arc", centre, 0.02), ("corridor", left, 0.03),
             ("corridor", right, 0.03)]  # fmt: skip
    markers = [
        line_strip(ns, i, pts, width, rgba, stamp, frame_id) for i, (ns, pts, width) in enumerate(lines)
    ]
    ttc = "" if not math.isfinite(report.ttc) else f" TTC {report.ttc:.1f} s"
    words = f"{report.state} {command.speed:.2f} m/s{ttc}"
    markers.append(text("state", len(markers), words, (-0.4, 0.0, 0.6), 0.2, rgba, stamp, frame_id))
    return MarkerArray(markers=markers)


def main(args: list[str] | None = None) -> int:
    return run_node(ControllerNode, "controller", args)


if __name__ == "__main__":
    sys.exit(main())
