"""Plain data types of the detector core (no rclpy, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class DetectorError(Exception):
    """Base of every error the detector core raises on purpose."""


class ModelLoadError(DetectorError):
    """The model file is missing, damaged, the wrong shape, or does not match its model card."""


class BackendUnavailableError(DetectorError):
    """The chosen backend's runtime is not installed on this machine."""


class FrameError(DetectorError):
    """One frame could not be processed (bad image, non-finite model output). Counted, never fatal.

    ``kind`` is a short stable key used for the error counters and diagnostics.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Detections:
    """Detections of one frame, boxes in original-image pixels (x1, y1, x2, y2), sorted by score."""

    boxes: np.ndarray  # (N, 4) float32
    scores: np.ndarray  # (N,) float32
    class_ids: np.ndarray  # (N,) int32, index into ``class_names``
    class_names: tuple[str, ...]  # output class list (after remap)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def names(self) -> list[str]:
        return [self.class_names[i] for i in self.class_ids]

    @staticmethod
    def empty(class_names: tuple[str, ...]) -> Detections:
        return Detections(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros(0, np.float32),
            class_ids=np.zeros(0, np.int32),
            class_names=class_names,
        )


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each stage of one frame."""

    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.inference_ms + self.postprocess_ms


@dataclass(frozen=True)
class DetectionResult:
    detections: Detections
    timings: Timings
    image_size: tuple[int, int]  # (height, width) of the original image
    extra: dict = field(default_factory=dict)
