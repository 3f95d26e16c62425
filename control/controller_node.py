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

from edge_rover.common.node_runner import run_node
from edge_rover.common.params import ParameterValueError, ParamSpec, declare_validated
from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
from edge_rover.common.ros_conversions import sec_to_stamp, stamp_to_sec
from edge_rover.control.controller import ControlInputs, ControllerState, Obstacle, step
from edge_rover.control.geometry import GridMap
from edge_rover.control.params import PARAM_SPECS as CORE_SPECS
from edge_rover.control.params import ControllerParams, params_from_values
from edge_rover.control.ros_conversions import (
    command_to_twist,
    command_to_twist_stamped,
    controller_markers,
    detections_to_rows,
    occupancy_to_grid,
    odometry_speed_pose,
    safety_status,
)
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
        "one period of latency, ~10 ms on average at 50 Hz); false: decide on the timer only",
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
        self._pub_cmd = self.create_publisher(
            TwistStamped if self._stamped else Twist, "/cmd_vel", RELIABLE_QOS
        )
        self._pub_status = self.create_publisher(DiagnosticArray, "/safety/status", RELIABLE_QOS)
        self._pub_markers = self.create_publisher(MarkerArray, "/controller/markers", RELIABLE_QOS)
        self._cycle = 0
        self.create_subscription(Detection3DArray, "/obstacles", self._on_obstacles, SENSOR_QOS)
        self.create_subscription(OccupancyGrid, "/obstacle_map", self._on_grid, SENSOR_QOS)
        self.create_subscription(Odometry, "/odom", self._on_odom, RELIABLE_QOS)
        self.create_subscription(Twist, "/cmd_vel_in", self._on_cmd_in, RELIABLE_QOS)
        self.create_subscription(CameraInfo, "/camera/camera_info", self._on_camera_info, SENSOR_QOS)
        self.create_subscription(Detection2DArray, "/detections", self._on_detections, SENSOR_QOS)
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
        rows = detections_to_rows(msg)
        source = self._values["velocity_source"]
        velocities: dict[str, tuple[float, float]] = {}
        if source in ("auto", "differenced"):
            ego, yaw_rate = (0.0, 0.0) if self._odom is None else self._odom[:2]
            if not (math.isfinite(ego) and math.isfinite(yaw_rate)):
                ego, yaw_rate = 0.0, 0.0
            positions = {
                r["id"]: (r["x"], r["y"]) for r in rows if math.isfinite(r["x"]) and math.isfinite(r["y"])
            }
            velocities = self._velocity.update(stamp, positions, ego, yaw_rate)
        if source in ("auto", "message"):
            velocities.update({r["id"]: r["velocity"] for r in rows if r["velocity"] is not None})
        self._obstacles = tuple(
            Obstacle(
                r["id"],
                r["x"],
                r["y"],
                *velocities.get(r["id"], (0.0, 0.0)),
                r["size_x"],
                r["size_y"],
                r["label"],
                r["confidence"],
            )
            for r in rows
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
            self._grid = occupancy_to_grid(
                msg, self._params.grid_occupied_threshold, self._params.grid_inflation
            )
        except ValueError as err:
            self.get_logger().error(f"ignoring occupancy grid: {err}", throttle_duration_sec=2.0)
            return
        self._grid_frame = msg.header.frame_id or self._values["base_frame"]
        self._grid_received = self._now()

    def _on_odom(self, msg: Odometry) -> None:
        self._odom = odometry_speed_pose(msg)
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
            self._pub_cmd.publish(command_to_twist_stamped(command, stamp, self._values["base_frame"]))
        else:
            self._pub_cmd.publish(command_to_twist(command))
        self._pub_status.publish(safety_status(report, command, self.get_clock().now().to_msg(), now))
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


def main(args: list[str] | None = None) -> int:
    return run_node(ControllerNode, "controller", args)


if __name__ == "__main__":
    sys.exit(main())
