"""calibration: intrinsics from the live image topic (the node counterpart of ``intrinsics_cli``).

    ros2 run edge_rover calibration --ros-args -p size:=9x6 -p square:=0.025 -p output:=/tmp/cam.yaml

Subscribes to ``image_topic`` (sensor QoS, newest frame), looks for the board at most
``max_detection_rate`` times per second of capture time, keeps views that add coverage, and as
soon as coverage is complete (or ``max_views`` is reached) calibrates, writes ``output`` if the
result passes the checks, and exits (0 written, 1 refused — the log says why). Progress (views,
skips by reason, coverage per parameter) goes to /diagnostics at 1 Hz.
"""

from __future__ import annotations

import sys
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image

from edge_rover.calibration.boards import Board, CharucoTarget, Checkerboard
from edge_rover.calibration.calibration_io import save_camera_info
from edge_rover.calibration.frame_selection import CoverageSelector
from edge_rover.calibration.image_sources import Frame
from edge_rover.calibration.intrinsic_calibration import (
    CalibrationOptions,
    QualityLimits,
    calibrate,
    quality_problems,
)
from edge_rover.calibration.view_collector import ViewCollector
from edge_rover.common.camera_model import CalibrationError
from edge_rover.common.graph import CAMERA_IMAGE, DIAGNOSTICS
from edge_rover.common.msgs.diagnostics import ERROR, OK, Status, diagnostics_to_msg
from edge_rover.common.msgs.image import image_to_bgr
from edge_rover.common.msgs.stamps import stamp_to_sec
from edge_rover.common.params import ParameterValueError, ParamSpec, declare_validated, read_at_start
from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS

# Read once at start (the board, selector and limits are built from them):
# read-only, so a live change is refused, not ignored.
PARAM_SPECS: tuple[ParamSpec, ...] = read_at_start(
    [
        ParamSpec(
            "image_topic",
            CAMERA_IMAGE,
            "sensor_msgs/Image topic to calibrate from (relative: in the node's namespace)",
        ),
        ParamSpec("board", "checkerboard", "board type", choices=("checkerboard", "charuco")),
        ParamSpec("size", "9x6", "checkerboard: INNER corners COLSxROWS; charuco: squares COLSxROWS"),
        ParamSpec("square", 0.025, "square side (m)", min=0.001, max=1.0),
        ParamSpec("marker", 0.0, "charuco marker side (m)", min=0.0, max=1.0),
        ParamSpec("dictionary", "DICT_4X4_50", "charuco ArUco dictionary"),
        ParamSpec(
            "model",
            "plumb_bob",
            "distortion model",
            choices=("plumb_bob", "rational_polynomial", "equidistant"),
        ),
        ParamSpec("output", "", "camera_info YAML to write (required)"),
        ParamSpec("camera_name", "camera", "camera_name in the YAML"),
        ParamSpec("min_views", 8, "refuse below this many views", min=3, max=200),
        ParamSpec(
            "max_views", 40, "calibrate at this many views even if coverage is incomplete", min=3, max=200
        ),
        ParamSpec("max_rms", 1.0, "refuse above this RMS reprojection error (px)", min=0.01, max=20.0),
        ParamSpec("min_distance", 0.2, "view selection: L1 distance in (x, y, size, skew)", min=0.0, max=4.0),
        ParamSpec("max_edge_width", 5.0, "blur limit: board edge width (px)", min=0.5, max=100.0),
        ParamSpec(
            "max_detection_rate", 5.0, "board detections per second of capture time", min=0.1, max=120.0
        ),
    ]
)


def board_from_params(values: dict[str, Any]) -> Board:
    """The board the parameters describe; ParameterValueError naming the bad one otherwise."""
    try:
        cols, rows = (int(v) for v in str(values["size"]).lower().split("x"))
    except ValueError as exc:
        raise ParameterValueError(f"size must look like 9x6, got {values['size']!r}") from exc
    try:
        if values["board"] == "charuco":
            return CharucoTarget(cols, rows, values["square"], values["marker"], values["dictionary"])
        # FAST_CHECK: most frames of a live stream show no board or repeat the last one.
        return Checkerboard(cols, rows, values["square"], fast_check=True)
    except ValueError as exc:
        raise ParameterValueError(str(exc)) from exc


class CalibrationNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("calibration", **node_kwargs)
        self.params = declare_validated(self, PARAM_SPECS)
        if not self.params["output"]:
            raise ParameterValueError(
                "output must name the camera_info YAML to write (e.g. output:=/tmp/cam.yaml)"
            )
        if self.params["max_views"] < self.params["min_views"]:
            raise ParameterValueError("max_views must be >= min_views")
        self.collector = ViewCollector(
            board_from_params(self.params),
            CoverageSelector(self.params["min_distance"], self.params["max_views"]),
            self.params["max_edge_width"],
        )
        self.options = CalibrationOptions(self.params["model"])
        self.done = False
        self.exit_code = 0
        self.state = "collecting"
        self._last_detection_stamp: float | None = None
        self._subscription = self.create_subscription(
            Image, self.params["image_topic"], self._on_image, SENSOR_QOS
        )
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS, RELIABLE_QOS)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(
            f"calibrating from {self.params['image_topic']}: {self.params['board']} {self.params['size']}, "
            f"{self.params['square']} m squares → {self.params['output']}"
        )

    def _on_image(self, msg: Image) -> None:
        if self.done:
            return
        stamp = stamp_to_sec(msg.header.stamp)
        period = 1.0 / self.params["max_detection_rate"]
        if self._last_detection_stamp is not None and 0.0 <= stamp - self._last_detection_stamp < period:
            return
        self._last_detection_stamp = stamp
        try:
            image = image_to_bgr(msg)
            self.collector.add(Frame(f"{stamp:.3f}", image))
        except (ValueError, CalibrationError) as exc:  # a malformed image, or a size change mid-run
            self.get_logger().error(f"frame at {stamp:.3f} s refused: {exc}", throttle_duration_sec=5.0)
            return
        if self.collector.covered(self.params["min_views"]) or self.collector.full():
            self._finish()

    def _finish(self) -> None:
        found = self.collector.found
        self.done = True
        self.destroy_subscription(self._subscription)
        try:
            result = calibrate(found.detections, found.image_size, self.options, self.params["camera_name"])
        except CalibrationError as exc:
            self._fail([str(exc)])
            return
        problems = quality_problems(result, QualityLimits(self.params["min_views"], self.params["max_rms"]))
        intr = result.intrinsics
        summary = (
            f"{result.view_count} views, RMS {result.rms_px:.3f} px, fx {intr.fx:.1f} fy {intr.fy:.1f} "
            f"cx {intr.cx:.1f} cy {intr.cy:.1f}"
        )
        if problems:
            self._fail(problems, summary)
            return
        path = save_camera_info(intr, self.params["output"])
        self.state = f"written: {summary}"
        self.get_logger().info(f"{summary}; wrote {path} (camera_info_url:=file://{path.resolve()})")
        self._publish_diagnostics()

    def _fail(self, problems: list[str], summary: str = "") -> None:
        self.exit_code = 1
        self.state = "refused: " + "; ".join(problems)
        self.get_logger().error(f"NOT writing a calibration ({summary}): " + "; ".join(problems))
        self._publish_diagnostics()

    def _publish_diagnostics(self) -> None:
        found = self.collector.found
        values = {"views": len(found.detections), "frames_seen": found.frames_seen}
        values.update({f"skipped_{k}": v for k, v in found.skip_counts().items()})
        values.update({f"coverage_{k}": round(v, 2) for k, v in self.collector.selector.progress().items()})
        status = Status(
            name="calibration: intrinsics",
            level=ERROR if self.exit_code else OK,
            message=self.state,
            values={k: str(v) for k, v in values.items()},
            hardware_id=self.params["image_topic"],
        )
        self.diag_pub.publish(diagnostics_to_msg(status, self.get_clock().now().to_msg()))


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = CalibrationNode()
    except ParameterValueError as exc:
        print(f"calibration: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 1
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok() and not node.done:
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        node.get_logger().info(f"stopped with {len(node.collector.found.detections)} views collected")
        node.exit_code = 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return node.exit_code


if __name__ == "__main__":
    sys.exit(main())
