"""Choosing views for coverage rather than taking every frame.

The approach of image_pipeline's ``camera_calibration`` calibrator: each board view is summarised
by four numbers in [0, 1] — x and y position of the board in the image, its apparent size and
its skew (tilt) — and a view is kept only if it is far enough (L1 distance) from every view
already kept. Progress per parameter says how much of the range a good calibration needs has
been covered (left to right, top to bottom, near and far, tilted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_rover.calibration.boards import BoardDetection

# Range each parameter should span for a good calibration (image_pipeline's values): x, y,
# size, skew. Size and skew count from 0, so only large / tilted views earn progress there.
PARAM_RANGES = (0.7, 0.7, 0.4, 0.5)
PARAM_NAMES = ("x", "y", "size", "skew")


@dataclass(frozen=True)
class ViewParameters:
    x: float
    y: float
    size: float
    skew: float

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.size, self.skew)

    def distance(self, other: ViewParameters) -> float:
        return float(sum(abs(a - b) for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))


def outside_corners(detection: BoardDetection, board_outline: np.ndarray) -> np.ndarray:
    """(4,2) image positions of the board outline (via a homography, so partial views work)."""
    homography, _ = cv2.findHomography(detection.object_points[:, :2], detection.image_points)
    if homography is None:
        raise ValueError("degenerate board detection: no homography through its corners")
    outline = board_outline[:, :2].reshape(-1, 1, 2).astype(np.float64)
    return cv2.perspectiveTransform(outline, homography).reshape(-1, 2)


def _quad_area(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    ab, cb = a - b, c - b
    cosine = np.dot(ab, cb) / (np.linalg.norm(ab) * np.linalg.norm(cb))
    return math.acos(float(np.clip(cosine, -1.0, 1.0)))


def view_parameters(
    detection: BoardDetection, board_outline: np.ndarray, image_size: tuple[int, int]
) -> ViewParameters:
    """Summarise one view: position, size and skew in [0, 1] (``image_size`` = (width, height))."""
    width, height = image_size
    quad = outside_corners(detection, board_outline)
    area = _quad_area(quad)
    border = math.sqrt(area)
    # Shrink the image by about half a board on every side: a large board cannot move far, and
    # should not be penalised for it.
    mean = detection.image_points.mean(axis=0)
    x = float(np.clip((mean[0] - border / 2) / max(width - border, 1.0), 0.0, 1.0))
    y = float(np.clip((mean[1] - border / 2) / max(height - border, 1.0), 0.0, 1.0))
    size = math.sqrt(area / (width * height))
    skew = min(1.0, 2.0 * abs(math.pi / 2 - _angle(quad[0], quad[1], quad[2])))
    return ViewParameters(x, y, min(size, 1.0), skew)


@dataclass
class CoverageSelector:
    """Keeps views that add coverage; ``min_distance`` 0 keeps every distinct view."""

    min_distance: float = 0.2
    max_views: int | None = None
    kept: list[ViewParameters] = field(default_factory=list)

    def consider(self, params: ViewParameters) -> bool:
        """True (and remembered) when the view adds coverage and there is room for it."""
        if self.max_views is not None and len(self.kept) >= self.max_views:
            return False
        if self.kept and min(params.distance(p) for p in self.kept) <= self.min_distance:
            return False
        self.kept.append(params)
        return True

    def progress(self) -> dict[str, float]:
        return coverage_progress(self.kept)

    def good_enough(self) -> bool:
        """All four parameters covered, or many views (image_pipeline's rule)."""
        return len(self.kept) >= 40 or all(p >= 1.0 for p in self.progress().values())


def coverage_progress(views: list[ViewParameters]) -> dict[str, float]:
    """Fraction (0..1) of the needed range covered, per parameter."""
    if not views:
        return dict.fromkeys(PARAM_NAMES, 0.0)
    values = np.array([v.as_tuple() for v in views])
    low, high = values.min(axis=0), values.max(axis=0)
    low[2:] = 0.0  # small or untilted views earn nothing on size and skew
    spans = (high - low) / np.array(PARAM_RANGES)
    return {name: float(min(span, 1.0)) for name, span in zip(PARAM_NAMES, spans, strict=True)}
