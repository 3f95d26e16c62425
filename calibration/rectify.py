"""Image remaps built from the shared camera model: undistortion and bird's-eye (ground) views.

Both are "for each output pixel, where in the camera image does it come from?" lookups, made
with :class:`edge_rover.common.camera_model.CameraIntrinsics.project` — so a preview shows exactly what
the rest of the stack will assume, for every distortion model.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_rover.common.camera_model import CameraIntrinsics, CameraRig


def _remap(image: np.ndarray, pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    pixels = np.where(np.isfinite(pixels), pixels, -1e6)  # NaN (behind the camera) → outside, black
    map_x = pixels[:, 0].reshape(shape).astype(np.float32)
    map_y = pixels[:, 1].reshape(shape).astype(np.float32)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def field_of_view_radius(intrinsics: CameraIntrinsics, samples: int = 64) -> float:
    """Largest normalised radius (tan of the off-axis angle) that an image pixel sees.

    Beyond it, a radtan polynomial can fold back: a point far outside the view "projects" into
    the image. Previews drop such points instead of showing folded garbage.
    """
    w, h = intrinsics.width, intrinsics.height
    t = np.linspace(0.0, 1.0, samples)
    border = np.concatenate(
        [
            np.column_stack([t * (w - 1), np.zeros(samples)]),
            np.column_stack([t * (w - 1), np.full(samples, h - 1.0)]),
            np.column_stack([np.zeros(samples), t * (h - 1)]),
            np.column_stack([np.full(samples, w - 1.0), t * (h - 1)]),
        ]
    )
    normalized = intrinsics.undistort_pixels(border)
    reprojected, _ = intrinsics.project(np.column_stack([normalized, np.ones(len(normalized))]))
    good = np.linalg.norm(reprojected - border, axis=1) < 0.5
    if not np.any(good):
        return float("inf")
    return float(np.max(np.linalg.norm(normalized[good], axis=1)))


def project_in_view(intrinsics: CameraIntrinsics, points_optical: np.ndarray) -> np.ndarray:
    """Pixels of optical-frame points; NaN for points behind the camera or outside the view."""
    points = np.asarray(points_optical, dtype=np.float64)
    pixels, in_front = intrinsics.project(points)
    with np.errstate(divide="ignore", invalid="ignore"):
        radius = np.linalg.norm(points[:, :2], axis=1) / points[:, 2]
    outside = ~in_front | ~(radius <= 1.02 * field_of_view_radius(intrinsics))
    pixels[outside] = np.nan
    return pixels


def undistorted_camera(intrinsics: CameraIntrinsics) -> CameraIntrinsics:
    """A distortion-free pinhole of the same size that keeps the whole width and height in view."""
    w, h = intrinsics.width, intrinsics.height
    edges = np.array(
        [[0.0, intrinsics.cy], [w - 1.0, intrinsics.cy], [intrinsics.cx, 0.0], [intrinsics.cx, h - 1.0]]
    )
    normalized = np.abs(intrinsics.undistort_pixels(edges))
    half_x = max(normalized[0, 0], normalized[1, 0])
    half_y = max(normalized[2, 1], normalized[3, 1])
    focal = min((w / 2.0) / half_x, (h / 2.0) / half_y) if half_x > 0 and half_y > 0 else intrinsics.fx
    k = np.array([[focal, 0.0, (w - 1) / 2.0], [0.0, focal, (h - 1) / 2.0], [0.0, 0.0, 1.0]])
    return CameraIntrinsics(w, h, k, np.zeros(5), camera_name=intrinsics.camera_name)


def undistort_image(
    image: np.ndarray, intrinsics: CameraIntrinsics, target: CameraIntrinsics | None = None
) -> tuple[np.ndarray, CameraIntrinsics]:
    """The image as a distortion-free pinhole (``target``, default :func:`undistorted_camera`) sees it."""
    target = target or undistorted_camera(intrinsics)
    vs, us = np.mgrid[0 : target.height, 0 : target.width].astype(np.float64)
    normalized = np.column_stack(
        [(us.ravel() - target.cx) / target.fx, (vs.ravel() - target.cy) / target.fy, np.ones(us.size)]
    )
    source = project_in_view(intrinsics, normalized)
    return _remap(image, source, (target.height, target.width)), target


@dataclass(frozen=True)
class GroundView:
    """A top-down window of the ground plane in base_link: x forward (up), y left (left)."""

    x_min: float = 0.5
    x_max: float = 4.5
    y_half_width: float = 2.0
    resolution: float = 0.01  # metres per output pixel

    @property
    def shape(self) -> tuple[int, int]:
        rows = round((self.x_max - self.x_min) / self.resolution)
        cols = round(2 * self.y_half_width / self.resolution)
        return rows, cols

    def ground_points(self) -> np.ndarray:
        """(rows*cols, 3) base_link points at the centre of each output pixel."""
        rows, cols = self.shape
        i, j = np.mgrid[0:rows, 0:cols].astype(np.float64)
        x = self.x_max - (i.ravel() + 0.5) * self.resolution
        y = self.y_half_width - (j.ravel() + 0.5) * self.resolution
        return np.column_stack([x, y, np.zeros(x.size)])

    def to_pixel(self, points_base: np.ndarray) -> np.ndarray:
        """(N,2|3) base_link points → (N,2) (col, row) in the bird's-eye image."""
        points = np.asarray(points_base, dtype=np.float64)
        col = (self.y_half_width - points[:, 1]) / self.resolution - 0.5
        row = (self.x_max - points[:, 0]) / self.resolution - 0.5
        return np.column_stack([col, row])


def birdseye_image(image: np.ndarray, rig: CameraRig, view: GroundView | None = None) -> np.ndarray:
    """Inverse perspective mapping: the camera image re-sampled onto the ground plane z = 0."""
    view = view or GroundView()
    source = project_in_view(rig.intrinsics, rig.extrinsics.base_to_optical(view.ground_points()))
    return _remap(image, source, view.shape)


def draw_ground_grid(image: np.ndarray, view: GroundView, spacing: float = 0.5) -> np.ndarray:
    """Metric grid lines on a bird's-eye image (straight floor lines must run along them)."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    rows, cols = view.shape
    x = np.ceil(view.x_min / spacing) * spacing
    while x <= view.x_max + 1e-9:
        row = round(float(view.to_pixel(np.array([[x, 0.0]]))[0, 1]))
        cv2.line(out, (0, row), (cols - 1, row), (0, 200, 255), 1)
        cv2.putText(out, f"{x:.1f} m", (4, max(row - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 200, 255), 1)
        x += spacing
    y = np.ceil(-view.y_half_width / spacing) * spacing
    while y <= view.y_half_width + 1e-9:
        col = round(float(view.to_pixel(np.array([[0.0, y]]))[0, 0]))
        cv2.line(out, (col, 0), (col, rows - 1), (0, 200, 255), 1)
        y += spacing
    return out
