"""Estimate camera intrinsics from board detections (pure: numpy + OpenCV, no ROS).

``calibrate`` runs OpenCV's calibration for the chosen model and measures the reprojection
error per view through :mod:`edge_rover.common.camera_model` (so the error is the one the rest of the
stack will see). ``quality_problems`` lists every reason a result must not be written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edge_rover.calibration.boards import BoardDetection
from edge_rover.common.camera_model import (
    EQUIDISTANT,
    PLUMB_BOB,
    RATIONAL_POLYNOMIAL,
    CalibrationError,
    CameraIntrinsics,
)

MODELS = (PLUMB_BOB, RATIONAL_POLYNOMIAL, EQUIDISTANT)
MODEL_ALIASES = {"pinhole": PLUMB_BOB, "radtan": PLUMB_BOB, "fisheye": EQUIDISTANT}


@dataclass(frozen=True)
class CalibrationOptions:
    model: str = PLUMB_BOB
    fix_aspect_ratio: bool = False
    zero_tangent: bool = False
    fix_k3: bool = False

    def __post_init__(self) -> None:
        model = MODEL_ALIASES.get(self.model, self.model)
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS} (or {tuple(MODEL_ALIASES)}), got {self.model!r}")
        object.__setattr__(self, "model", model)


@dataclass(frozen=True)
class IntrinsicResult:
    intrinsics: CameraIntrinsics
    rms_px: float
    per_view_rms_px: np.ndarray  # (V,) RMS reprojection error of each view
    rotations: np.ndarray  # (V,3) Rodrigues vectors, board → optical
    translations: np.ndarray  # (V,3) board origin in the optical frame (m)

    @property
    def view_count(self) -> int:
        return len(self.per_view_rms_px)


def reprojection_residuals(
    intrinsics: CameraIntrinsics, detection: BoardDetection, rvec: np.ndarray, tvec: np.ndarray
) -> np.ndarray:
    """(N,2) projected − detected pixels for one view, through the shared camera model."""
    rotation, _ = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3, 1))
    points_optical = detection.object_points @ rotation.T + np.asarray(tvec, dtype=np.float64).reshape(1, 3)
    projected, _ = intrinsics.project(points_optical)
    return projected - detection.image_points


def calibrate(
    detections: Sequence[BoardDetection],
    image_size: tuple[int, int],
    options: CalibrationOptions | None = None,
    camera_name: str = "camera",
) -> IntrinsicResult:
    """Calibrate from views of a planar board (``image_size`` = (width, height))."""
    options = options or CalibrationOptions()
    if len(detections) < 3:
        raise CalibrationError(f"need at least 3 board views to calibrate, got {len(detections)}")
    width, height = image_size
    if options.model == EQUIDISTANT:
        k, d, rvecs, tvecs = _calibrate_fisheye(detections, image_size)
    else:
        k, d, rvecs, tvecs = _calibrate_pinhole(detections, image_size, options)
    try:
        intrinsics = CameraIntrinsics(int(width), int(height), k, d.reshape(-1), options.model, camera_name)
    except CalibrationError as exc:
        raise CalibrationError(f"calibration diverged: {exc}") from exc
    residuals = [
        reprojection_residuals(intrinsics, det, r, t)
        for det, r, t in zip(detections, rvecs, tvecs, strict=True)
    ]
    per_view = np.array([np.sqrt(np.mean(np.sum(r**2, axis=1))) for r in residuals])
    all_residuals = np.concatenate(residuals)
    rms = float(np.sqrt(np.mean(np.sum(all_residuals**2, axis=1))))
    return IntrinsicResult(
        intrinsics,
        rms,
        per_view,
        np.array([np.ravel(r) for r in rvecs]),
        np.array([np.ravel(t) for t in tvecs]),
    )


def _calibrate_pinhole(
    detections: Sequence[BoardDetection], image_size: tuple[int, int], options: CalibrationOptions
) -> tuple[np.ndarray, np.ndarray, list, list]:
    flags = 0
    if options.fix_aspect_ratio:
        flags |= cv2.CALIB_FIX_ASPECT_RATIO
    if options.zero_tangent:
        flags |= cv2.CALIB_ZERO_TANGENT_DIST
    if options.fix_k3:
        flags |= cv2.CALIB_FIX_K3
    if options.model == RATIONAL_POLYNOMIAL:
        flags |= cv2.CALIB_RATIONAL_MODEL
    object_points = [d.object_points.astype(np.float32) for d in detections]
    image_points = [d.image_points.astype(np.float32).reshape(-1, 1, 2) for d in detections]
    k0 = np.eye(3)  # with FIX_ASPECT_RATIO OpenCV keeps fx/fy of the initial guess: 1
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-9)
    try:
        _, k, d, rvecs, tvecs = cv2.calibrateCamera(
            object_points, image_points, image_size, k0, None, flags=flags, criteria=criteria
        )
    except cv2.error as exc:
        raise CalibrationError(f"OpenCV calibrateCamera failed: {exc}") from exc
    d = np.ravel(d)
    d = d[:8] if options.model == RATIONAL_POLYNOMIAL else d[:5]
    return k, d, list(rvecs), list(tvecs)


def _fisheye_flag(name: str) -> int:
    """OpenCV 4 keeps fisheye flags in cv2.fisheye; OpenCV 5 moved them to cv2."""
    return int(getattr(cv2.fisheye, name, getattr(cv2, name)))


def _calibrate_fisheye(
    detections: Sequence[BoardDetection], image_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, list, list]:
    object_points = [d.object_points.reshape(1, -1, 3).astype(np.float64) for d in detections]
    image_points = [d.image_points.reshape(1, -1, 2).astype(np.float64) for d in detections]
    flags = _fisheye_flag("CALIB_RECOMPUTE_EXTRINSIC") | _fisheye_flag("CALIB_FIX_SKEW")
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-9)
    try:
        _, k, d, rvecs, tvecs = cv2.fisheye.calibrate(
            object_points,
            image_points,
            image_size,
            np.zeros((3, 3)),
            np.zeros(4),
            flags=flags,
            criteria=criteria,
        )
    except cv2.error as exc:
        raise CalibrationError(
            f"OpenCV fisheye calibration failed (an ill-conditioned view? take views with the board "
            f"nearer the centre and less tilted): {exc}"
        ) from exc
    return k, np.ravel(d)[:4], list(rvecs), list(tvecs)


@dataclass(frozen=True)
class QualityLimits:
    min_views: int = 8
    max_rms_px: float = 1.0
    # A principal point this far from the image centre (fraction of the size) means the
    # views did not constrain it: a degenerate set, not a real lens.
    max_principal_offset: float = 0.25


def quality_problems(result: IntrinsicResult, limits: QualityLimits | None = None) -> list[str]:
    """Every reason this calibration must not be written (empty list: good)."""
    limits = limits or QualityLimits()
    problems = []
    if result.view_count < limits.min_views:
        problems.append(
            f"only {result.view_count} usable views, need at least {limits.min_views}: take more "
            "pictures with the whole board visible, sharp, at different positions and tilts"
        )
    if not np.isfinite(result.rms_px) or result.rms_px > limits.max_rms_px:
        problems.append(
            f"RMS reprojection error {result.rms_px:.3f} px is above the limit {limits.max_rms_px} px: "
            "check the board size and square size arguments, the board's flatness and motion blur"
        )
    intr = result.intrinsics
    offset_x = abs(intr.cx - (intr.width - 1) / 2) / intr.width
    offset_y = abs(intr.cy - (intr.height - 1) / 2) / intr.height
    if max(offset_x, offset_y) > limits.max_principal_offset:
        problems.append(
            f"principal point ({intr.cx:.1f}, {intr.cy:.1f}) is far from the image centre: the views do "
            "not constrain it (add views with the board near the corners and tilted)"
        )
    return problems


def worst_views(result: IntrinsicResult, names: Sequence[str], factor: float = 3.0) -> list[str]:
    """Views whose error is far above the median (a mis-detection or a moving board)."""
    median = float(np.median(result.per_view_rms_px))
    limit = max(factor * median, 0.5)
    return [name for name, err in zip(names, result.per_view_rms_px, strict=True) if err > limit]
