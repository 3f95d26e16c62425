"""camera: publish /camera/image_raw (bgr8) and /camera/camera_info with identical capture stamps.

Parameters: source, width, height, fps, frame_id, camera_info_url, loop, freeze_timeout_s,
freeze_threshold. Live sources are read on a grabber thread that keeps only the newest frame; files
and folders are read at ``fps``. A camera that disappears is logged once, retried with backoff and
reported on /diagnostics; the node keeps running at its timer rate (no busy loop).

A frozen camera (the source keeps delivering the same picture for ``freeze_timeout_s``) is not
published: stamping each copy as a fresh capture would let the rover drive on a frozen view. The
node reports ERROR on /diagnostics, logs (rate-limited) and publishes again as soon as the content
changes, so the controller's watchdog sees the camera go stale. A folder of one image looped is
such a frozen camera.
"""

from __future__ import annotations

import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from edge_rover.calibration.calibration_io import load_camera_info
from edge_rover.common.camera_model import CalibrationError, CameraIntrinsics
from edge_rover.common.graph import CAMERA_IMAGE, CAMERA_INFO, DIAGNOSTICS
from edge_rover.common.msgs.diagnostics import ERROR, OK, WARN, Status, diagnostics_to_msg
from edge_rover.common.msgs.image import bgr_to_image, intrinsics_to_camera_info
from edge_rover.common.node_runner import run_node
from edge_rover.common.params import ParamSpec, declare_validated, read_at_start
from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
from edge_rover.perception.camera.capture import (
    LOOP_CACHE_BYTES,
    CameraError,
    CameraState,
    FreezeDetector,
    LatestFrameGrabber,
    ReconnectingCamera,
    fit_to_size,
    open_source,
    parse_source,
    require_capture_backend,
)

# Read once at start (the source is opened and the timers made with them):
# read-only, so a live change is refused, not ignored.
PARAM_SPECS: tuple[ParamSpec, ...] = read_at_start(
    [
        ParamSpec(
            "source",
            "0",
            "device index, /dev/videoN, csi://N (Jetson CSI), GStreamer pipeline, video file or image folder",
        ),
        ParamSpec("width", 640, "output width in pixels (0 = native)", min=0, max=8192),
        ParamSpec("height", 480, "output height in pixels (0 = native)", min=0, max=8192),
        ParamSpec("fps", 30.0, "frame rate (timer rate; requested from live cameras)", min=0.1, max=240.0),
        ParamSpec("frame_id", "camera_optical_frame", "frame_id of images and camera_info"),
        ParamSpec(
            "camera_info_url",
            "package://edge_rover/config/camera_info.yaml",
            "camera_info YAML (camera_calibration_parsers format): file://, package:// or a path",
        ),
        ParamSpec("loop", False, "restart video files / folders at their end"),
        ParamSpec(
            "folder_cache_mb",
            LOOP_CACHE_BYTES // 2**20,
            "a looping image folder keeps this much of its decoded frames in memory, so later laps "
            "cost no PNG/JPEG decode (MiB; 0 decodes every lap)",
            min=0,
            max=4096,
        ),
        ParamSpec(
            "freeze_timeout_s",
            0.5,
            "stop publishing when the picture has not changed for this long (s; 0 disables the check)",
            min=0.0,
            max=10.0,
        ),
        ParamSpec(
            "freeze_threshold",
            0.1,
            "frames whose mean absolute difference (grey levels) to the previous one is at most this "
            "count as unchanged; bit-identical is 0, sensor noise is ~1 or more",
            min=0.0,
            max=20.0,
        ),
    ]
)


def intrinsics_for_output(calibration: CameraIntrinsics, width: int, height: int) -> CameraIntrinsics:
    """The calibration at the published resolution; a different aspect ratio is an error."""
    if (width, height) == (calibration.width, calibration.height):
        return calibration
    if abs(width / height - calibration.width / calibration.height) > 1e-3:
        raise CalibrationError(
            f"camera_info is for {calibration.width}x{calibration.height} but images are {width}x{height} "
            "(different aspect ratio): recalibrate at this resolution"
        )
    return calibration.scaled(width, height)


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("camera")
        self.params = declare_validated(self, PARAM_SPECS)
        self.calibration = load_camera_info(self.params["camera_info_url"])
        self.width = self.params["width"] or self.calibration.width
        self.height = self.params["height"] or self.calibration.height
        self.spec = parse_source(self.params["source"], self.width, self.height, self.params["fps"])
        require_capture_backend(self.spec)
        self.intrinsics = intrinsics_for_output(self.calibration, self.width, self.height)
        self.image_pub = self.create_publisher(Image, CAMERA_IMAGE, SENSOR_QOS)
        self.info_pub = self.create_publisher(CameraInfo, CAMERA_INFO, SENSOR_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS, RELIABLE_QOS)
        self.camera = ReconnectingCamera(
            opener=lambda: open_source(
                self.spec,
                self.width,
                self.height,
                self.params["fps"],
                self.params["loop"],
                folder_cache_bytes=self.params["folder_cache_mb"] * 2**20,
            ),
            live=self.spec.is_live,
            log=self.get_logger().warning,
        )
        self.grabber = LatestFrameGrabber(self.camera, time.monotonic) if self.spec.is_live else None
        self.freeze = FreezeDetector(self.params["freeze_timeout_s"], self.params["freeze_threshold"])
        self.withheld_frozen = 0
        self.published = 0
        self.create_timer(1.0 / self.params["fps"], self._tick)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(
            f"camera {self.spec.kind.value} {self.spec.location!r} → /camera/image_raw "
            f"{self.width}x{self.height} @ {self.params['fps']} fps, frame {self.params['frame_id']}"
        )

    def _tick(self) -> None:
        if self.grabber is not None:
            taken = self.grabber.take()
            if taken is None:
                return
            frame, captured_mono = taken
            # Stamp = capture time: shift "now" back by how long the frame waited.
            stamp_ns = self.get_clock().now().nanoseconds - int((time.monotonic() - captured_mono) * 1e9)
        else:
            frame = self.camera.poll(time.monotonic())
            if frame is None:
                return
            stamp_ns = self.get_clock().now().nanoseconds
        if not self._content_alive(frame):
            return
        self._publish(fit_to_size(frame, self.width, self.height), stamp_ns)

    def _content_alive(self, frame) -> bool:
        """Feed the freeze check; False (and logged, rate-limited) while the picture is frozen."""
        was_frozen = self.freeze.frozen
        now = time.monotonic()
        if self.freeze.update(frame, now):
            if was_frozen:
                self.get_logger().info(
                    f"camera content changes again (mean abs diff {self.freeze.last_diff:.2f}): publishing "
                    f"after {self.withheld_frozen} identical frames withheld"
                )
                self.withheld_frozen = 0
            return True
        self.withheld_frozen += 1
        self.get_logger().error(
            f"{self._frozen_message(now)}; not publishing (a stuck driver/pipeline, or a folder of "
            f"one image looped)",
            throttle_duration_sec=5.0,
        )
        return False

    def _frozen_message(self, now: float) -> str:
        return f"camera frozen: identical frames for {self.freeze.frozen_for(now):.1f} s"

    def _publish(self, frame, stamp_ns: int) -> None:
        stamp = rclpy.time.Time(nanoseconds=stamp_ns).to_msg()
        frame_id = self.params["frame_id"]
        self.image_pub.publish(bgr_to_image(frame, stamp, frame_id))
        self.info_pub.publish(intrinsics_to_camera_info(self.intrinsics, stamp, frame_id))
        self.published += 1

    def _publish_diagnostics(self) -> None:
        state = self.camera.state
        level = {
            CameraState.STREAMING: OK,
            CameraState.ENDED: WARN,
            CameraState.RECONNECTING: ERROR,
        }[state]
        message = state.value + (f": {self.camera.last_error}" if self.camera.last_error else "")
        if self.freeze.frozen and state == CameraState.STREAMING:
            level, message = ERROR, self._frozen_message(time.monotonic())
        values = {
            "published": str(self.published),
            "frozen": str(self.freeze.frozen).lower(),
            "freezes": str(self.freeze.freezes),
            "withheld_frozen": str(self.withheld_frozen),
            "reconnect_attempts": str(self.camera.reconnects),
            "dropped_stale": str(self.grabber.dropped if self.grabber else 0),
        }
        status = Status(
            name="camera", level=level, message=message, values=values, hardware_id=self.spec.location
        )
        self.diag_pub.publish(diagnostics_to_msg(status, self.get_clock().now().to_msg()))

    def close(self) -> None:
        if self.grabber is not None:
            self.grabber.stop()
        self.camera.close()


def main(args: list[str] | None = None) -> int:
    return run_node(CameraNode, "camera", args, config_errors=(CameraError,))


if __name__ == "__main__":
    sys.exit(main())
