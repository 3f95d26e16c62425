"""Pictures and a JSON summary of an intrinsic calibration, for a person to judge it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_rover.calibration.boards import BoardDetection
from edge_rover.calibration.calibration_io import intrinsics_to_dict
from edge_rover.calibration.frame_selection import outside_corners
from edge_rover.calibration.intrinsic_calibration import IntrinsicResult
from edge_rover.calibration.rectify import undistort_image


def _error_colour(error_px: float) -> tuple[int, int, int]:
    """Green (<= 0.3 px) → yellow → red (>= 1 px), as BGR."""
    t = float(np.clip((error_px - 0.3) / 0.7, 0.0, 1.0))
    if t < 0.5:
        return (0, 255, int(510 * t))
    return (0, int(510 * (1.0 - t)), 255)


def coverage_map(
    detections: Sequence[BoardDetection],
    board_outline: np.ndarray,
    image_size: tuple[int, int],
    result: IntrinsicResult,
    progress: dict[str, float],
) -> np.ndarray:
    """Every used board outline over the image area, coloured by its reprojection error, with
    the corner density as a heat map and the coverage progress bars underneath."""
    width, height = image_size
    density = np.zeros((height, width), np.float32)
    for det in detections:
        for u, v in det.image_points:
            if 0 <= u < width and 0 <= v < height:
                density[int(v), int(u)] += 1.0
    density = cv2.GaussianBlur(density, (0, 0), max(width, height) / 40)
    heat = cv2.applyColorMap(np.uint8(255 * density / max(float(density.max()), 1e-9)), cv2.COLORMAP_BONE)
    canvas = np.zeros((height + 110, width, 3), np.uint8)
    canvas[:height] = heat
    for det, error in zip(detections, result.per_view_rms_px, strict=True):
        quad = outside_corners(det, board_outline)
        cv2.polylines(
            canvas, [np.round(quad).astype(np.int32)], True, _error_colour(float(error)), 1, cv2.LINE_AA
        )
    cv2.rectangle(canvas, (0, 0), (width - 1, height - 1), (255, 255, 255), 1)
    text = f"{result.view_count} views  RMS {result.rms_px:.3f} px  (outlines: green <= 0.3 px, red >= 1 px)"
    cv2.putText(
        canvas, text, (6, height + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA
    )
    for index, (name, value) in enumerate(progress.items()):
        top = height + 30 + 19 * index
        cv2.putText(canvas, f"{name:>4}", (6, top + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        cv2.rectangle(canvas, (50, top), (width - 60, top + 13), (80, 80, 80), 1)
        fill = 50 + int((width - 110) * value)
        colour = (0, 200, 0) if value >= 1.0 else (0, 200, 255)
        cv2.rectangle(canvas, (50, top), (fill, top + 13), colour, -1)
        cv2.putText(
            canvas,
            f"{100 * value:.0f}%",
            (width - 55, top + 12),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
        )
    return canvas


def undistorted_preview(
    image: np.ndarray, detection: BoardDetection | None, result: IntrinsicResult
) -> np.ndarray:
    """Original (with its detected corners) beside the undistorted image: straight lines in the
    world must come out straight on the right."""
    colour = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    left = colour.copy()
    if detection is not None:
        for u, v in detection.image_points:
            cv2.circle(left, (round(float(u)), round(float(v))), 3, (0, 0, 255), 1, cv2.LINE_AA)
    right, _ = undistort_image(colour, result.intrinsics)
    cv2.putText(left, "original", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 2)
    cv2.putText(right, "undistorted", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 2)
    return np.hstack([left, right])


def summary(
    result: IntrinsicResult,
    view_names: Sequence[str],
    skipped: dict[str, list[str]],
    progress: dict[str, float],
    problems: Sequence[str],
    suspect_views: Sequence[str],
    parameters: dict[str, Any],
) -> dict[str, Any]:
    return {
        "rms_px": result.rms_px,
        "views_used": result.view_count,
        "per_view_rms_px": {n: float(e) for n, e in zip(view_names, result.per_view_rms_px, strict=True)},
        "suspect_views": list(suspect_views),
        "skipped": {reason: {"count": len(names), "frames": names} for reason, names in skipped.items()},
        "coverage_progress": progress,
        "problems": list(problems),
        "written": not problems,
        "camera_info": intrinsics_to_dict(result.intrinsics),
        "parameters": parameters,
    }


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")
    return path


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
