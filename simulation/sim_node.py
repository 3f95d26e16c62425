"""The ``sim`` node: renders a scenario on sim time and closes the loop through /cmd_vel.

Publishes ``/camera/image_raw`` (bgr8) and ``/camera/camera_info`` with identical stamps, ``/odom``,
``/clock``, ``/sim/ground_truth`` (vision_msgs/Detection3DArray in base_link) and ``/tf``
(odom → base_link); subscribes ``/cmd_vel``. The world advances in fixed steps of the scenario's
``step_s``: at ``real_time_factor`` × real time (0: as fast as it can), and in ``lock_step`` mode
only once the detector's ``/detections`` for the last frame arrived (or a timeout, logged).
Thin adapter: the world, renderer and metrics are the pure cores in this package.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import rclpy
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from vision_msgs.msg import Detection2DArray, Detection3DArray

from edge_rover.calibration.calibration_io import load_camera_info, load_extrinsics
from edge_rover.common.camera_model import CalibrationError, CameraRig
from edge_rover.common.conventions import (
    ANGULAR_Z_CHOICES,
    ANGULAR_Z_DEFAULT,
    ANGULAR_Z_HELP,
    ANGULAR_Z_PARAM,
    STEERING_ANGLE,
)
from edge_rover.common.graph import (
    CAMERA_IMAGE,
    CAMERA_INFO,
    CLOCK,
    CMD_VEL,
    CMD_VEL_IN,
    DETECTIONS,
    GROUND_TRUTH,
    OBSTACLES,
    ODOM,
    TF,
)
from edge_rover.common.msgs.image import bgr_to_image, intrinsics_to_camera_info
from edge_rover.common.msgs.obstacles import Obstacle3D, obstacles_to_msg
from edge_rover.common.msgs.odometry import odometry_to_msg, pose_to_tf
from edge_rover.common.msgs.stamps import sec_to_stamp
from edge_rover.common.msgs.twist import twist_from_msg, twist_to_msg
from edge_rover.common.params import ParameterValueError, ParamSpec, declare_validated, read_at_start
from edge_rover.common.qos import CLOCK_QOS, RELIABLE_QOS, SENSOR_QOS
from edge_rover.simulation.closed_loop import MetricsTracker, visible_truth
from edge_rover.simulation.dynamics import RoverState
from edge_rover.simulation.renderer import ObjectTruth, Renderer, world_truth
from edge_rover.simulation.scenarios import ScenarioError, ScenarioWorld, find_scenario

_PKG = "package://edge_rover/config"
# Read once at start (the scenario, rig and timers are built from them):
# read-only, so a live change is refused, not ignored.
PARAM_SPECS: tuple[ParamSpec, ...] = read_at_start(
    [
        ParamSpec("scenario", "clear_road", "scenario name in config/scenarios or a path to a scenario YAML"),
        ParamSpec("camera_info_url", f"{_PKG}/camera_info.yaml", "intrinsics (camera_info YAML)"),
        ParamSpec("extrinsics_url", f"{_PKG}/extrinsics.yaml", "camera mount (extrinsics YAML)"),
        ParamSpec(
            "real_time_factor", 1.0, "sim seconds per wall second; 0 = as fast as possible", 0.0, 100.0
        ),
        ParamSpec("lock_step", False, "advance only after /detections for the last frame arrived"),
        ParamSpec(
            "lock_step_timeout_s", 1.0, "wall seconds to wait for /detections, then advance", 0.01, 60.0
        ),
        ParamSpec(
            "cmd_vel_timeout_s", 0.5, "sim seconds without /cmd_vel before the rover brakes", 0.05, 10.0
        ),
        ParamSpec("cruise_without_cmd_vel", True, "before the first /cmd_vel, drive at the cruise speed"),
        ParamSpec("cmd_vel_stamped", False, "subscribe geometry_msgs/TwistStamped instead of Twist"),
        ParamSpec(ANGULAR_Z_PARAM, ANGULAR_Z_DEFAULT, ANGULAR_Z_HELP, choices=ANGULAR_Z_CHOICES),
        ParamSpec(
            "publish_cmd_vel_in", True, "act as the driver: the scenario's cruise speed on /cmd_vel_in"
        ),
        ParamSpec("publish_ground_truth", True, "publish /sim/ground_truth"),
        ParamSpec("publish_tf", True, "publish odom → base_link on /tf"),
        ParamSpec(
            "obstacles_from_truth", False, "perfect perception: publish /obstacles from visible ground truth"
        ),
        ParamSpec(
            "end_action",
            "hold",
            "at the scenario's end (or a collision): hold, restart or shutdown",
            choices=("hold", "restart", "shutdown"),
        ),
        ParamSpec(
            "metrics_path",
            "",
            "write the run's metrics JSON here at the end (scenario, success, reasons, metrics; "
            "empty: only log them)",
        ),
        ParamSpec("sim_start_s", 1_700_000_000.0, "sim time of the first frame (s)", min=0.0, max=4.0e9),
        ParamSpec("camera_frame", "camera_optical_frame", "frame_id of image and camera_info"),
        ParamSpec("base_frame", "base_link", "rover frame"),
        ParamSpec("odom_frame", "odom", "world frame of /odom"),
    ]
)


class SimNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim", **kwargs)
        self.p = declare_validated(self, PARAM_SPECS)
        self.scenario = find_scenario(self.p["scenario"])
        intrinsics = load_camera_info(self.p["camera_info_url"])
        self.rig = CameraRig(intrinsics, load_extrinsics(self.p["extrinsics_url"]))
        # The camera_info / calibration stay nominal; the world is rendered with the true mount.
        self.renderer = Renderer(self.scenario.camera.true_rig(self.rig))
        self._reset()
        self.pub_image = self.create_publisher(Image, CAMERA_IMAGE, SENSOR_QOS)
        self.pub_info = self.create_publisher(CameraInfo, CAMERA_INFO, SENSOR_QOS)
        self.pub_odom = self.create_publisher(Odometry, ODOM, RELIABLE_QOS)
        self.pub_clock = self.create_publisher(ClockMsg, CLOCK, CLOCK_QOS)
        self.pub_truth = self.create_publisher(Detection3DArray, GROUND_TRUTH, RELIABLE_QOS)
        self.pub_tf = self.create_publisher(TFMessage, TF, RELIABLE_QOS)
        self.pub_cmd_in = (
            self.create_publisher(Twist, CMD_VEL_IN, RELIABLE_QOS) if self.p["publish_cmd_vel_in"] else None
        )
        self.pub_obstacles = (
            self.create_publisher(Detection3DArray, OBSTACLES, RELIABLE_QOS)
            if self.p["obstacles_from_truth"]
            else None
        )
        cmd_type = TwistStamped if self.p["cmd_vel_stamped"] else Twist
        self.create_subscription(cmd_type, CMD_VEL, self._on_cmd_vel, RELIABLE_QOS)
        self._detected_stamps: set[tuple[int, int]] = set()
        if self.p["lock_step"]:
            self.create_subscription(Detection2DArray, DETECTIONS, self._on_detections, SENSOR_QOS)
        # The sim owns /clock, so its own pacing runs on the steady wall clock, never on sim time.
        rtf = self.p["real_time_factor"]
        period = self.scenario.step_s / rtf if rtf > 0 else 0.001
        self.timer = self.create_timer(period, self._tick, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.finished = False
        self.get_logger().info(
            f"scenario {self.scenario.name!r}: {self.scenario.description.strip()[:120]} | step "
            f"{self.scenario.step_s} s, real_time_factor {rtf}, lock_step {self.p['lock_step']}"
        )

    # -- state ----------------------------------------------------------------------------

    def _reset(self) -> None:
        self.world = ScenarioWorld(self.scenario)
        self.tracker = MetricsTracker(self.scenario)
        self._cmd: tuple[float, float] | None = None
        self._cmd_time = -math.inf
        self._frame = 0
        self._awaiting: tuple[int, int] | None = None
        self._awaiting_since = 0.0
        self._last_visible: list = []
        self._published_once = False

    def _command(self) -> tuple[float, float]:
        if self._cmd is None:
            return (self.scenario.cruise_speed, 0.0) if self.p["cruise_without_cmd_vel"] else (0.0, 0.0)
        if self.world.time - self._cmd_time > self.p["cmd_vel_timeout_s"]:
            self.get_logger().warning(
                f"/cmd_vel silent for {self.world.time - self._cmd_time:.2f} sim s: braking",
                throttle_duration_sec=5.0,
            )
            return 0.0, 0.0
        return self._cmd

    # -- callbacks -------------------------------------------------------------------------

    def _on_cmd_vel(self, msg: Twist | TwistStamped) -> None:
        v, w = twist_from_msg(msg)
        if not (math.isfinite(v) and math.isfinite(w)):
            self.get_logger().warning("non-finite /cmd_vel: braking", throttle_duration_sec=5.0)
            v, w = 0.0, 0.0
        self._cmd = (v, w)
        self._cmd_time = self.world.time

    def _on_detections(self, msg: Detection2DArray) -> None:
        self._detected_stamps.add((msg.header.stamp.sec, msg.header.stamp.nanosec))

    def _tick(self) -> None:
        if self.finished:
            return
        if self._awaiting is not None:
            if self._awaiting in self._detected_stamps:
                self._detected_stamps.clear()
            elif time.monotonic() - self._awaiting_since < self.p["lock_step_timeout_s"]:
                return
            else:
                self.get_logger().warning(
                    f"lock_step: no /detections for frame {self._frame - 1} within "
                    f"{self.p['lock_step_timeout_s']} s; advancing anyway",
                    throttle_duration_sec=5.0,
                )
            self._awaiting = None
        if self._published_once:
            cmd = self._command()
            self.tracker.before_step(self.world, self._last_visible, cmd)
            self.world.step(*cmd, angular_is_steering=self.p[ANGULAR_Z_PARAM] == STEERING_ANGLE)
            collided = self.tracker.after_step(self.world)
            if collided or self.world.time >= self.scenario.duration_s - 1e-9:
                self._finish()
                return
        self._publish_frame()

    # -- output ----------------------------------------------------------------------------

    def _publish_frame(self) -> None:
        stamp = sec_to_stamp(self.p["sim_start_s"] + self.world.time)
        self.pub_clock.publish(ClockMsg(clock=stamp))
        scene = self.world.scene(frame_seed=self._frame)
        result = self.renderer.render(scene)
        self._last_visible = visible_truth(result.truth)
        frame_id = self.p["camera_frame"]
        self.pub_image.publish(bgr_to_image(result.image, stamp, frame_id))
        self.pub_info.publish(intrinsics_to_camera_info(self.rig.intrinsics, stamp, frame_id))
        rover = self.world.rover
        yaw_rate = rover.yaw_rate(self.scenario.limits)
        base = self.p["base_frame"]
        self.pub_odom.publish(rover_odometry(rover, yaw_rate, stamp, self.p["odom_frame"], base))
        if self.p["publish_tf"]:
            pose = (rover.x, rover.y, rover.yaw)
            self.pub_tf.publish(pose_to_tf(pose, stamp, self.p["odom_frame"], base))
        if self.pub_cmd_in is not None:  # the "driver" wants the scenario's cruise speed, straight on
            self.pub_cmd_in.publish(twist_to_msg(float(self.scenario.cruise_speed), 0.0))
        if self.pub_obstacles is not None:  # what a perfect detector + mapper would report
            self.pub_obstacles.publish(obstacles_to_msg(truth_obstacles(self._last_visible), stamp, base))
        if self.p["publish_ground_truth"]:
            truths = truth_obstacles(world_truth(scene, result.truth))
            self.pub_truth.publish(obstacles_to_msg(truths, stamp, base))
        self._frame += 1
        self._published_once = True
        if self.p["lock_step"]:
            self._awaiting = (stamp.sec, stamp.nanosec)
            self._awaiting_since = time.monotonic()

    def _finish(self) -> None:
        result = self.tracker.finish(self.world)
        verdict = "SUCCESS" if result.success else "FAIL: " + "; ".join(result.reasons)
        metrics = result.metrics.as_dict()
        self.get_logger().info(f"scenario {result.scenario} ended at t={self.world.time:.2f} s: {verdict}")
        self.get_logger().info("metrics: " + json.dumps(metrics))
        if self.p["metrics_path"]:
            path = Path(self.p["metrics_path"])
            path.parent.mkdir(parents=True, exist_ok=True)
            # Flat keys (tools/demo.py tabulates them) and the same block under "metrics"
            # (benchmarks/control_sim_graph.py reads that).
            report = {
                "scenario": result.scenario,
                "success": result.success,
                "reasons": result.reasons,
                **metrics,
                "metrics": metrics,
            }
            path.write_text(json.dumps(report, indent=2))
        action = self.p["end_action"]
        if action == "restart":
            self._reset()
        else:
            self.finished = True


def truth_obstacles(truths: list[ObjectTruth]) -> list[Obstacle3D]:
    """Ground truth as ``sim/ground_truth`` boxes: id = object index, score = the visible fraction."""
    return [
        Obstacle3D(
            id=str(t.object_index),
            class_name=t.class_name,
            score=1.0 - float(t.occlusion),
            position=(float(t.position[0]), float(t.position[1])),
            size=tuple(float(v) for v in t.size),
            yaw=float(t.yaw),
            velocity=(float(t.velocity[0]), float(t.velocity[1])),
        )
        for t in truths
    ]


def rover_odometry(
    state: RoverState, yaw_rate: float, stamp: object, odom_frame: str = "odom", base_frame: str = "base_link"
) -> Odometry:
    # Simulated odometry is exact; small diagonal covariances keep consumers' filters sane.
    return odometry_to_msg(
        (state.x, state.y, state.yaw), state.speed, yaw_rate, stamp, odom_frame, base_frame,
        pose_variance=(1e-4, 1e-4, 1e-4), twist_variance=(1e-4, 1e-4),
    )  # fmt: skip


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = SimNode()
    except (ScenarioError, CalibrationError, ParameterValueError) as exc:
        print(f"sim: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 1
    try:
        while rclpy.ok() and not (node.finished and node.p["end_action"] == "shutdown"):
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
