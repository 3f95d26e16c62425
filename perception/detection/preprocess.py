"""Letterbox: any image size → the model's input size (any H×W, rectangular included).

Same geometry as ultralytics' ``LetterBox(auto=False, center=True)``: scale so the image fits,
keep the aspect ratio, pad both sides equally with grey 114. Boxes map back through
:meth:`Letterbox.to_original`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import cv2
import numpy as np

from edge_rover.perception.detection.types import FrameError

PAD_VALUE = 114
YOLO_STRIDE = 32


def parse_input_hw(text: str) -> tuple[int, int]:
    """CLI type for a model input size: '480x640' → (480, 640), height × width, each a multiple of
    the 32 px YOLO stride within 64..1280; anything else is an argparse error saying why."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH like 480x640, got {text!r}") from err
    if height % YOLO_STRIDE or width % YOLO_STRIDE or not (64 <= height <= 1280 and 64 <= width <= 1280):
        raise argparse.ArgumentTypeError(
            f"input {text}: height and width must be multiples of {YOLO_STRIDE} within 64..1280"
        )
    return height, width


@dataclass(frozen=True)
class Letterbox:
    """How an original image was placed inside the model input."""

    scale: float  # input pixels per original pixel
    pad_x: float  # left padding in input pixels
    pad_y: float  # top padding in input pixels
    original_hw: tuple[int, int]

    def to_original(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Input-pixel boxes → original-image pixels, clipped to the image."""
        out = np.empty_like(boxes_xyxy)
        out[:, [0, 2]] = (boxes_xyxy[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (boxes_xyxy[:, [1, 3]] - self.pad_y) / self.scale
        height, width = self.original_hw
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
        return out


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Accept HxWx3 BGR, HxW / HxWx1 grey or HxWx4 BGRA uint8; anything else → FrameError."""
    if not isinstance(image, np.ndarray):
        raise FrameError("bad_image", f"expected a numpy image, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise FrameError("bad_image", f"expected uint8 pixels, got {image.dtype}")
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise FrameError("empty_image", f"empty or malformed image of shape {image.shape}")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] != 3:
        raise FrameError("bad_image", f"expected 1, 3 or 4 channels, got shape {image.shape}")
    return image


def letterbox(image_bgr: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """BGR uint8 image → (1, 3, H, W) float32 RGB 0..1 tensor and the placement."""
    padded, placement = letterbox_bgr(image_bgr, input_hw)
    return cv2.dnn.blobFromImage(padded, scalefactor=1.0 / 255.0, swapRB=True), placement


def letterbox_bgr(image_bgr: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """BGR uint8 image → the letterboxed H×W×3 uint8 BGR image (still integer pixels) and the placement.

    Backends that scale and reorder inside the compiled model take this directly (OpenVINO's
    PrePostProcessor: 0.2–0.3 ms less per 640×480 frame than building the float blob in numpy).
    """
    image_bgr = as_bgr(image_bgr)
    height, width = image_bgr.shape[:2]
    in_h, in_w = input_hw
    scale = min(in_h / height, in_w / width)
    new_w, new_h = round(width * scale), round(height * scale)
    pad_w, pad_h = (in_w - new_w) / 2, (in_h - new_h) / 2
    # ultralytics rounds the split of the padding this way (±0.1): match it to the pixel
    top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
    left, right = round(pad_w - 0.1), round(pad_w + 0.1)
    if (new_w, new_h) != (width, height):
        # INTER_LINEAR like ultralytics; INTER_AREA would be nicer when shrinking but shifts scores
        resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    else:
        resized = image_bgr
    if top or bottom or left or right:
        resized = cv2.copyMakeBorder(
            resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
        )
    return resized, Letterbox(scale=scale, pad_x=float(left), pad_y=float(top), original_hw=(height, width))
