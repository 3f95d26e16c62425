"""Image and CameraInfo: encode → decode round trips and the one-line errors for bad input.

(The image decoder's fuzzing is tests/common/test_image_fuzz.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sensor_msgs")

from edge_rover.common.camera_model import CameraIntrinsics
from edge_rover.common.msgs.image import (
    ImageConversionError,
    bgr_to_image,
    camera_info_to_intrinsics,
    image_to_bgr,
    intrinsics_to_camera_info,
)
from edge_rover.common.msgs.stamps import sec_to_stamp


def test_image_round_trip() -> None:
    pixels = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    msg = bgr_to_image(pixels, sec_to_stamp(2.0), "camera_optical_frame")
    assert msg.encoding == "bgr8" and msg.step == 64 * 3
    np.testing.assert_array_equal(image_to_bgr(msg), pixels)


def test_bad_images() -> None:
    with pytest.raises(ImageConversionError, match="HxWx3"):
        bgr_to_image(np.zeros((4, 4), np.uint8), sec_to_stamp(0.0), "cam")
    msg = bgr_to_image(np.zeros((4, 4, 3), np.uint8), sec_to_stamp(0.0), "cam")
    msg.encoding = "yuv422"
    with pytest.raises(ImageConversionError, match="encoding"):
        image_to_bgr(msg)
    msg.encoding, msg.width, msg.height = "bgr8", 0, 0
    with pytest.raises(ImageConversionError, match="empty"):
        image_to_bgr(msg)


def test_camera_info_round_trip() -> None:
    k = np.array([[500.0, 0.0, 320.0], [0.0, 501.0, 240.0], [0.0, 0.0, 1.0]])
    intr = CameraIntrinsics(640, 480, k, np.array([0.1, -0.05, 0.001, 0.0, 0.0]), "plumb_bob", "cam")
    back = camera_info_to_intrinsics(intrinsics_to_camera_info(intr, sec_to_stamp(1.0), "cam"))
    assert (back.width, back.height, back.distortion_model, back.camera_name) == (
        640,
        480,
        "plumb_bob",
        "cam",
    )
    np.testing.assert_allclose(back.camera_matrix, k)
    np.testing.assert_allclose(back.distortion, intr.distortion)


def test_bad_camera_info_is_refused() -> None:
    k = np.array([[500.0, 0.0, 320.0], [0.0, 501.0, 240.0], [0.0, 0.0, 1.0]])
    msg = intrinsics_to_camera_info(
        CameraIntrinsics(640, 480, k, np.zeros(5), "plumb_bob", "cam"), sec_to_stamp(1.0), "cam"
    )
    msg.k = [float("nan")] * 9
    with pytest.raises(ValueError):
        camera_info_to_intrinsics(msg)
