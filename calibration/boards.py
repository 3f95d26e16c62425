"""Calibration targets and their detection in one image: checkerboard and ChArUco.

A detection is either a :class:`BoardDetection` (image points with their board points) or a
:class:`Skip` saying why the frame is unusable — calibration tools count the reasons so a user
sees "7 blurred, 3 board not found" instead of a silently short calibration.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

# Corners closer than this to the image edge mean the board is (about to be) cut off; their
# sub-pixel refinement is also unreliable (image_pipeline's calibrator uses the same margin).
EDGE_MARGIN_PX = 8.0
# Detection runs on a copy scaled to about VGA (fast on a 2-core CPU), refinement on full size.
_DETECTION_PIXELS = 640 * 480
_CHECKERBOARD_FLAGS = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE


class SkipReason(str, Enum):
    """Why a frame was skipped; str() and f-strings give the text (Python 3.10 has no StrEnum)."""

    NO_BOARD = "board not found (absent, partly hidden or out of frame)"
    AT_EDGE = "board touches the image border (partly out of view)"
    PARTIAL = "too few ChArUco corners visible"
    BLURRED = "board blurred (edge width above limit)"
    REDUNDANT = "adds no new coverage (similar view already taken)"
    UNREADABLE = "image could not be read"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Skip:
    reason: SkipReason
    detail: str = ""


@dataclass(frozen=True)
class BoardDetection:
    """Corners found in one image: ``image_points`` (N,2) px ↔ ``object_points`` (N,3) m."""

    image_points: np.ndarray
    object_points: np.ndarray
    sharpness_px: float | None = None  # mean edge width (OpenCV estimateChessboardSharpness)


@dataclass(frozen=True)
class Checkerboard:
    """A plain chessboard: ``cols`` × ``rows`` INNER corners, ``square`` metres per square.

    ``fast_check`` rejects board-less frames quickly (worth it on video, where most frames are
    repeats or show no board) but also misses strongly foreshortened boards, such as one lying
    on the floor: leave it off for stills.
    """

    cols: int
    rows: int
    square: float
    fast_check: bool = False

    def __post_init__(self) -> None:
        if self.cols < 2 or self.rows < 2:
            raise ValueError(f"board needs at least 2x2 inner corners, got {self.cols}x{self.rows}")
        if self.cols == self.rows:
            # A square grid has no distinguishable axes: corner order (and so the board pose)
            # becomes ambiguous by 90°.
            raise ValueError(f"use a board with different inner-corner counts, got {self.cols}x{self.rows}")
        if not (math.isfinite(self.square) and self.square > 0):
            raise ValueError(f"square size must be > 0 metres, got {self.square}")

    @property
    def pattern_size(self) -> tuple[int, int]:
        return (self.cols, self.rows)

    @property
    def corner_count(self) -> int:
        return self.cols * self.rows

    def object_points(self) -> np.ndarray:
        """(N,3) inner corners in the board frame, OpenCV order (row by row), z = 0."""
        xs, ys = np.meshgrid(np.arange(self.cols), np.arange(self.rows))
        return np.column_stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)]) * self.square

    def outline(self) -> np.ndarray:
        """(4,3) the outer inner corners (first, last of first row, last, first of last row)."""
        w, h = (self.cols - 1) * self.square, (self.rows - 1) * self.square
        return np.array([[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0]], dtype=np.float64)

    def centre(self) -> np.ndarray:
        return np.array([(self.cols - 1) * self.square / 2, (self.rows - 1) * self.square / 2, 0.0])

    def detect(self, gray: np.ndarray, max_edge_width_px: float | None = None) -> BoardDetection | Skip:
        scale = min(1.0, math.sqrt(_DETECTION_PIXELS / (gray.shape[0] * gray.shape[1])))
        small = (
            gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        flags = _CHECKERBOARD_FLAGS | (cv2.CALIB_CB_FAST_CHECK if self.fast_check else 0)
        found, corners = cv2.findChessboardCorners(small, self.pattern_size, flags=flags)
        if not found or corners is None or len(corners) != self.corner_count:
            return Skip(SkipReason.NO_BOARD)
        corners = corners.reshape(-1, 2).astype(np.float64) / scale
        if _touches_border(corners, gray.shape):
            return Skip(SkipReason.AT_EDGE)
        corners = _refine(gray, corners, _min_neighbour_distance(corners, self.cols))
        sharpness = None
        if max_edge_width_px is not None:
            stats, _ = cv2.estimateChessboardSharpness(gray, self.pattern_size, corners.astype(np.float32))
            sharpness = float(stats[0])
            if not math.isfinite(sharpness) or sharpness > max_edge_width_px:
                return Skip(SkipReason.BLURRED, f"edge width {sharpness:.1f} px > {max_edge_width_px}")
        return BoardDetection(corners, self.object_points(), sharpness)


@dataclass(frozen=True)
class CharucoTarget:
    """A ChArUco board: ``cols`` × ``rows`` SQUARES, marker side ``marker`` metres."""

    cols: int
    rows: int
    square: float
    marker: float
    dictionary: str = "DICT_4X4_50"
    min_corner_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.cols < 3 or self.rows < 3:
            raise ValueError(f"ChArUco board needs at least 3x3 squares, got {self.cols}x{self.rows}")
        if not (0 < self.marker < self.square):
            raise ValueError(f"marker size must be in (0, square={self.square}), got {self.marker}")
        if not hasattr(cv2.aruco, self.dictionary):
            raise ValueError(f"unknown ArUco dictionary {self.dictionary!r} (e.g. DICT_4X4_50, DICT_5X5_100)")

    @property
    def corner_count(self) -> int:
        return (self.cols - 1) * (self.rows - 1)

    def _board(self) -> cv2.aruco.CharucoBoard:
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard((self.cols, self.rows), self.square, self.marker, dictionary)

    def object_points(self) -> np.ndarray:
        return np.asarray(self._board().getChessboardCorners(), dtype=np.float64).reshape(-1, 3)

    def outline(self) -> np.ndarray:
        """(4,3) the outermost chessboard corners (one square in from the board's edge)."""
        w, h = (self.cols - 2) * self.square, (self.rows - 2) * self.square
        corners = np.array([[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0]], dtype=np.float64)
        return corners + np.array([self.square, self.square, 0.0])

    def generate_image(self, width: int, height: int, margin: int = 20) -> np.ndarray:
        """A printable board image (grey levels, uint8)."""
        return self._board().generateImage((width, height), marginSize=margin)

    def detect(self, gray: np.ndarray, max_edge_width_px: float | None = None) -> BoardDetection | Skip:
        # ChArUco corners are identified individually, so a partly visible board still counts
        # as long as enough corners are seen; the blur limit is not applied (OpenCV's sharpness
        # estimate needs the full chessboard).
        del max_edge_width_px
        detector = cv2.aruco.CharucoDetector(self._board())
        corners, ids, _, _ = detector.detectBoard(gray)
        if corners is None or ids is None or len(np.ravel(ids)) == 0:
            return Skip(SkipReason.NO_BOARD)
        ids = np.ravel(ids).astype(int)
        corners = np.asarray(corners, dtype=np.float64).reshape(-1, 2)
        if len(ids) < max(6, self.min_corner_fraction * self.corner_count):
            return Skip(SkipReason.PARTIAL, f"{len(ids)}/{self.corner_count} corners")
        if _touches_border(corners, gray.shape):
            return Skip(SkipReason.AT_EDGE)
        return BoardDetection(corners, self.object_points()[ids])


Board = Checkerboard | CharucoTarget


def parse_board_size(text: str) -> tuple[int, int]:
    """Command-line board size "COLSxROWS" (inner corners), e.g. "9x6"."""
    try:
        cols, rows = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"board size must look like 9x6, got {text!r}") from exc
    return cols, rows


def _touches_border(corners: np.ndarray, shape: tuple[int, ...]) -> bool:
    height, width = shape[:2]
    x, y = corners[:, 0], corners[:, 1]
    return bool(
        np.any(x < EDGE_MARGIN_PX)
        or np.any(y < EDGE_MARGIN_PX)
        or np.any(x > width - 1 - EDGE_MARGIN_PX)
        or np.any(y > height - 1 - EDGE_MARGIN_PX)
    )


def _min_neighbour_distance(corners: np.ndarray, cols: int) -> float:
    grid = corners.reshape(-1, cols, 2)
    along_rows = np.linalg.norm(np.diff(grid, axis=1), axis=2)
    along_cols = np.linalg.norm(np.diff(grid, axis=0), axis=2)
    return float(min(along_rows.min(), along_cols.min()))


def _refine(gray: np.ndarray, corners: np.ndarray, min_distance: float) -> np.ndarray:
    # Half-window no larger than half the corner spacing, so a window never reaches the next
    # corner; 11 px (OpenCV's sample value) at most.
    radius = int(max(2, min(11, math.ceil(0.5 * min_distance) - 1)))
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 0.001)
    refined = cv2.cornerSubPix(
        gray, corners.astype(np.float32).reshape(-1, 1, 2), (radius, radius), (-1, -1), criteria
    )
    return refined.reshape(-1, 2).astype(np.float64)


def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR / BGRA / grey uint8 → grey uint8 (the detectors want one channel)."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected a grey or BGR image, got shape {image.shape}")
