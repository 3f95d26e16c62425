"""Ground-truth 2D boxes of 3D obstacles, through the shared camera model (tests, benchmark).

An obstacle is an upright cuboid standing on the ground (footprint centre x, y in base_link,
size depth × width × height, yaw). Its box is the bounding rectangle of its projected corners,
clipped to the image — what a perfect detector would report. Edge noise imitates a real one.
"""

from __future__ import annotations

import numpy as np

from edge_rover.common.camera_model import CameraRig
from edge_rover.perception.mapping.obstacle_types import Detection2D


def cuboid_corners(
    centre_xy: tuple[float, float], size: tuple[float, float, float], yaw: float = 0.0
) -> np.ndarray:
    """(8,3) corners in base_link of an upright cuboid standing on the ground."""
    depth, width, height = size
    local = np.array(
        [[sx * depth / 2, sy * width / 2, z] for sx in (-1, 1) for sy in (-1, 1) for z in (0.0, height)]
    )
    c, s = np.cos(yaw), np.sin(yaw)
    rotated = local @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
    return rotated + np.array([centre_xy[0], centre_xy[1], 0.0])


def cuboid_box(
    rig: CameraRig,
    centre_xy: tuple[float, float],
    size: tuple[float, float, float],
    yaw: float = 0.0,
    min_visible_px: float = 4.0,
) -> tuple[float, float, float, float] | None:
    """The clipped image box of a cuboid, or None when it is not (enough) in view.

    Edge convention, as detectors report boxes: pixel i spans [i, i+1), the image [0, W] × [0, H]
    (the camera model's pixel centres are at integers, hence the half pixel). Corners behind the
    camera make the box unbounded: treated as not in view.
    """
    pixels, in_front = rig.project_base_points(cuboid_corners(centre_xy, size, yaw))
    if not in_front.all():
        return None
    w, h = rig.intrinsics.width, rig.intrinsics.height
    x0, y0 = pixels.min(axis=0) + 0.5
    x1, y1 = pixels.max(axis=0) + 0.5
    x0, x1 = np.clip([x0, x1], 0.0, float(w))
    y0, y1 = np.clip([y0, y1], 0.0, float(h))
    if x1 - x0 < min_visible_px or y1 - y0 < min_visible_px:
        return None
    return float(x0), float(y0), float(x1), float(y1)


def noisy_detection(
    box: tuple[float, float, float, float],
    class_name: str,
    rng: np.random.Generator,
    edge_sigma_px: float = 1.0,
    score: float = 0.9,
    image_size: tuple[int, int] | None = None,
) -> Detection2D:
    """A detector-like box: each edge jittered by N(0, edge_sigma_px), still inside the image."""
    jittered = np.asarray(box) + rng.normal(0.0, edge_sigma_px, 4)
    if image_size is not None:
        w, h = image_size
        jittered = np.clip(jittered, 0.0, [w, h, w, h])
    x0, y0, x1, y1 = jittered
    return Detection2D(
        (float(min(x0, x1)), float(min(y0, y1)), float(max(x0, x1)), float(max(y0, y1))), class_name, score
    )
