"""Image messages with random encodings, sizes, steps and data lengths, and mutated JPEGs: the
conversion every image node uses returns the frame's pixels or raises ImageConversionError (which
the nodes count), never anything else."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

pytest.importorskip("rclpy")

from sensor_msgs.msg import CompressedImage, Image

from edge_rover.common.msgs.image import ImageConversionError, compressed_to_bgr, image_to_bgr

ENCODINGS = ["bgr8", "rgb8", "mono8", "bgra8", "rgba8", "BGR8", "yuv422", "16UC1", "", "bgr8\x00"]


def test_random_image_messages_convert_or_raise_a_conversion_error() -> None:
    rng = random.Random(11)
    converted = refused = 0
    for _ in range(3000):
        width, height = rng.choice([0, 1, 3, 64, 641]), rng.choice([0, 1, 2, 48, 481])
        msg = Image(encoding=rng.choice(ENCODINGS), width=width, height=height)
        msg.step = max(0, width * rng.choice([0, 1, 3, 4]) + rng.randint(-2, 8))
        msg.data = rng.randbytes(max(0, msg.step * height + rng.randint(-16, 16)))
        try:
            pixels = image_to_bgr(msg)
        except ImageConversionError:
            refused += 1
            continue
        assert pixels.shape == (height, width, 3) and pixels.dtype == np.uint8
        converted += 1
    assert converted > 100 and refused > 1000


def test_mutated_jpegs_decode_or_raise_a_conversion_error() -> None:
    rng = random.Random(12)
    ok, jpeg = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8))
    assert ok
    for _ in range(500):
        data = bytearray(jpeg.tobytes())
        for _ in range(rng.randint(1, 10)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)) :]
        try:
            pixels = compressed_to_bgr(CompressedImage(format="jpeg", data=bytes(data)))
        except ImageConversionError:
            continue
        assert pixels.ndim == 3 and pixels.shape[2] == 3
