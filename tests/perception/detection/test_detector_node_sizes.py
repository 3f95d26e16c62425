"""Detector node on real DDS fed images of the wrong size: 320×240 after 640×480, 1×1, 0×0, an odd
width, a step/data-length mismatch, padded rows. Every frame is either detected (boxes in that
frame's own pixels) or counted as a bad image; the node never stops, and a correctly-sized frame
afterwards is detected exactly as before."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.perception.detection.test_detector_node import _harness, _make_node

pytestmark = pytest.mark.ros


def test_wrong_size_frames_are_counted_never_crash_and_boxes_stay_in_each_frames_pixels(
    ros_context, shared_data: Path
) -> None:
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import Image

    from edge_rover.common.msgs.detections import detections_from_msg
    from edge_rover.common.msgs.image import bgr_to_image
    from tests.ros_helpers import spin_until

    detector = _make_node(ros_context, shared_data)
    harness, executor, got, raw_pub, _ = _harness(ros_context)
    executor.add_node(detector)
    bus = cv2.imread(str(shared_data / "images" / "bus.jpg"))

    def diag() -> dict[str, str]:
        return {kv.key: kv.value for kv in got["diag"][-1].status[0].values} if got["diag"] else {}

    def errors() -> int:
        return int(diag().get("errors_total", "0"))

    def detections_for(stamp_sec: int) -> list:
        return [m for m in got["detections"] if m.header.stamp.sec == stamp_sec]

    def send_image(msg: Image) -> tuple[np.ndarray, list[str]]:
        """Publish until this frame's detections arrive (best effort may lose one)."""
        stamp = msg.header.stamp.sec

        def published() -> bool:
            if not detections_for(stamp):
                raw_pub.publish(msg)
            return bool(detections_for(stamp))

        assert spin_until(executor, published, timeout_s=20.0), f"no detections for frame {stamp}"
        boxes, _scores, names = detections_from_msg(detections_for(stamp)[0])
        return np.asarray(boxes).reshape(-1, 4), names

    def send_bad(msg: Image) -> None:
        """Publish until the detector's diagnostics count one more error."""
        before = errors()

        def counted() -> bool:
            if errors() <= before:
                raw_pub.publish(msg)
                executor.spin_once(timeout_sec=0.3)  # one diagnostics period (0.2 s)
            return errors() > before

        assert spin_until(executor, counted, timeout_s=20.0), f"bad frame not counted: {diag()}"
        assert not detections_for(msg.header.stamp.sec), "a bad frame produced detections"

    def frame(image: np.ndarray, sec: int) -> Image:
        return bgr_to_image(np.ascontiguousarray(image), Time(sec=sec), "camera_optical_frame")

    def check_in_own_pixels(sent: Image, image: np.ndarray) -> np.ndarray:
        """The node's boxes for ``sent`` are the core's boxes on the same pixels (not rescaled to
        any other frame size) and lie inside that frame; returns the bus box."""
        boxes, names = send_image(sent)
        expected = detector.detector.detect(image).detections
        assert names == expected.names()
        assert np.abs(boxes - expected.boxes.reshape(-1, 4)).max(initial=0.0) < 0.5
        height, width = image.shape[:2]
        assert np.all((boxes >= -0.5) & (boxes <= [width + 0.5, height + 0.5] * 2)), boxes
        # the COCO bus, published as its class-table profile
        return boxes[names.index("large_vehicle")] if "large_vehicle" in names else np.full(4, np.nan)

    try:
        vga = cv2.resize(bus, (640, 480))
        bus_vga = check_in_own_pixels(frame(vga, 1), vga)
        assert np.isfinite(bus_vga).all()
        # 320×240 after 640×480: boxes in 320×240 pixels, about half the 640×480 ones
        qvga = cv2.resize(bus, (320, 240))
        bus_qvga = check_in_own_pixels(frame(qvga, 2), qvga)
        assert np.abs(bus_qvga - bus_vga / 2).max() < 0.05 * 320, (bus_qvga, bus_vga)
        # odd width and height
        odd = cv2.resize(bus, (321, 427))
        assert np.isfinite(check_in_own_pixels(frame(odd, 3), odd)).all()
        # 1×1: processed (nothing to find), not a crash
        check_in_own_pixels(frame(bus[:1, :1], 4), bus[:1, :1])
        # padded rows (step > width·3): the padding is not pixels
        padded = frame(vga, 5)
        rows = np.frombuffer(bytes(padded.data), np.uint8).reshape(480, 1920)
        padded.step, padded.data = 1928, np.hstack([rows, np.full((480, 8), 255, np.uint8)]).tobytes()
        check_in_own_pixels(padded, vga)

        # unusable frames: counted as bad images, no detections
        send_bad(
            Image(encoding="bgr8", width=0, height=0, step=0, data=b"", header=frame(bus[:1, :1], 10).header)
        )
        short = frame(cv2.resize(bus, (640, 480)), 11)
        short.data = bytes(short.data)[:1000]  # data shorter than step × height
        send_bad(short)
        narrow_step = frame(cv2.resize(bus, (640, 480)), 12)
        narrow_step.step = 100  # step shorter than a row
        send_bad(narrow_step)

        # afterwards a 640×480 frame is detected exactly as the first one
        assert np.abs(check_in_own_pixels(frame(vga, 20), vga) - bus_vga).max() < 0.5
        assert spin_until(executor, lambda: int(diag().get("frames_published", "0")) >= 6, timeout_s=5.0), (
            diag()
        )
        values = diag()
        assert values["frame_size"] == "640x480"
        # 640→320→321×427→1×1→640 (padded)→640: size changes counted, and the bad frames
        assert int(values["size_changes"]) == 4, values
        assert int(values["errors_bad_image"]) >= 3, values
        assert detector._worker.is_alive()
    finally:
        executor.shutdown()
        detector.destroy_node()
        harness.destroy_node()
