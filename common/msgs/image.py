"""sensor_msgs/Image and CompressedImage ↔ BGR pixels; sensor_msgs/CameraInfo ↔ CameraIntrinsics.

Images: decoded to HxWx3 uint8 BGR from bgr8, rgb8, mono8, bgra8, rgba8 (rows may be padded:
``step`` ≥ width × channels); encoded as bgr8, unpadded. An encoding outside that list, an empty
image or data shorter than ``step × height`` raises :class:`ImageConversionError` (one line).
CompressedImage: anything OpenCV decodes (JPEG, PNG). CameraInfo: ``k`` = the camera matrix,
``d`` = distortion in the model named by ``distortion_model`` (``plumb_bob``/``rational_polynomial``
radtan or ``equidistant`` fisheye), ``r`` = identity, ``p`` = [K | 0] (the image is not rectified);
``header.frame_id`` = the camera's optical frame, read back as the camera name.
"""

from __future__ import annotations

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from edge_rover.common.camera_model import CameraIntrinsics

_CHANNELS = {"bgr8": 3, "rgb8": 3, "mono8": 1, "bgra8": 4, "rgba8": 4}


class ImageConversionError(ValueError):
    """An image message that cannot be turned into pixels (encoding, size, data length)."""


def image_to_bgr(msg: Image) -> np.ndarray:
    """Image message → HxWx3 uint8 BGR (a copy-free view where possible)."""
    encoding = msg.encoding.lower()
    if encoding not in _CHANNELS:
        raise ImageConversionError(
            f"unsupported image encoding {msg.encoding!r}; use one of {list(_CHANNELS)}"
        )
    channels = _CHANNELS[encoding]
    if msg.width == 0 or msg.height == 0:
        raise ImageConversionError(f"empty image ({msg.width}x{msg.height})")
    row_bytes = msg.width * channels
    if msg.step < row_bytes or len(msg.data) < msg.step * msg.height:
        raise ImageConversionError(
            f"image data too short: {len(msg.data)} bytes for {msg.width}x{msg.height} {encoding} "
            f"step {msg.step}"
        )
    buffer = np.frombuffer(msg.data, dtype=np.uint8, count=msg.step * msg.height)
    pixels = buffer.reshape(msg.height, msg.step)[:, :row_bytes].reshape(msg.height, msg.width, channels)
    if encoding == "bgr8":
        return pixels
    if encoding == "rgb8":
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    if encoding == "mono8":
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    if encoding == "bgra8":
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR)
    return cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGR)


def compressed_to_bgr(msg: CompressedImage) -> np.ndarray:
    pixels = cv2.imdecode(np.frombuffer(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise ImageConversionError(f"could not decode compressed image (format {msg.format!r})")
    return pixels


def bgr_to_image(pixels: np.ndarray, stamp: Time, frame_id: str) -> Image:
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ImageConversionError(f"expected HxWx3 uint8 BGR, got {pixels.shape} {pixels.dtype}")
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = "bgr8"
    msg.is_bigendian = 0
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(pixels).tobytes()
    return msg


def intrinsics_to_camera_info(intr: CameraIntrinsics, stamp: Time, frame_id: str) -> CameraInfo:
    msg = CameraInfo()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.width, msg.height = int(intr.width), int(intr.height)
    msg.distortion_model = intr.distortion_model
    msg.d = [float(v) for v in intr.distortion]
    msg.k = [float(v) for v in intr.camera_matrix.ravel()]
    msg.r = [float(v) for v in np.eye(3).ravel()]
    msg.p = [float(v) for v in np.hstack([intr.camera_matrix, np.zeros((3, 1))]).ravel()]
    return msg


def camera_info_to_intrinsics(msg: CameraInfo) -> CameraIntrinsics:
    """CameraInfo → CameraIntrinsics; raises CalibrationError for an unusable message."""
    return CameraIntrinsics(
        width=int(msg.width),
        height=int(msg.height),
        camera_matrix=np.asarray(msg.k, dtype=np.float64).reshape(3, 3),
        distortion=np.asarray(msg.d, dtype=np.float64),
        distortion_model=msg.distortion_model,
        camera_name=msg.header.frame_id or "camera",
    )
