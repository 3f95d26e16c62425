"""The one camera model of the project: intrinsics, extrinsics and the maths between them.

The simulator renders with it, calibration estimates it and the obstacle mapper inverts it,
so a calibration error in the world shows up as the same error in perception. Nobody else
writes projection maths: import from here.

Frames (REP-103): ``base_link`` x forward, y left, z up; ``camera_link`` the same axes at
the camera; ``camera_optical_frame`` z forward, x right, y down. Units: metres, radians.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# Distortion models as ROS names them (sensor_msgs/distortion_models.hpp).
PLUMB_BOB = "plumb_bob"
RATIONAL_POLYNOMIAL = "rational_polynomial"
EQUIDISTANT = "equidistant"
DISTORTION_MODELS = (PLUMB_BOB, RATIONAL_POLYNOMIAL, EQUIDISTANT)
_EXPECTED_COEFFS = {PLUMB_BOB: (5,), RATIONAL_POLYNOMIAL: (8,), EQUIDISTANT: (4,)}

# Columns are the optical axes expressed in camera_link: x_opt = -y_link, y_opt = -z_link,
# z_opt = +x_link.
R_LINK_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


class CalibrationError(ValueError):
    """A camera calibration that cannot be used (wrong size, NaN, unknown model…)."""


def _as_points(points: np.ndarray, dim: int, what: str) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != dim:
        raise ValueError(f"{what} must have shape (N, {dim}), got {np.shape(points)}")
    return array


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole camera with radtan (plumb_bob / rational_polynomial) or fisheye distortion."""

    width: int
    height: int
    camera_matrix: np.ndarray
    distortion: np.ndarray = field(default_factory=lambda: np.zeros(5))
    distortion_model: str = PLUMB_BOB
    camera_name: str = "camera"

    def __post_init__(self) -> None:
        k = np.asarray(self.camera_matrix, dtype=np.float64)
        d = np.asarray(self.distortion, dtype=np.float64).reshape(-1)
        object.__setattr__(self, "camera_matrix", k)
        object.__setattr__(self, "distortion", d)
        validate_intrinsics(self)

    @property
    def fx(self) -> float:
        return float(self.camera_matrix[0, 0])

    @property
    def fy(self) -> float:
        return float(self.camera_matrix[1, 1])

    @property
    def cx(self) -> float:
        return float(self.camera_matrix[0, 2])

    @property
    def cy(self) -> float:
        return float(self.camera_matrix[1, 2])

    @property
    def is_fisheye(self) -> bool:
        return self.distortion_model == EQUIDISTANT

    def project(self, points_optical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project (N,3) points in the optical frame to (N,2) pixels.

        Returns ``(pixels, in_front)``; pixels of points behind the camera are NaN.
        """
        points = _as_points(points_optical, 3, "points_optical")
        in_front = points[:, 2] > 1e-9
        pixels = np.full((len(points), 2), np.nan)
        if not np.any(in_front):
            return pixels, in_front
        front = points[in_front].reshape(-1, 1, 3)
        zero = np.zeros(3)
        if self.is_fisheye:
            projected, _ = cv2.fisheye.projectPoints(front, zero, zero, self.camera_matrix, self.distortion)
        else:
            projected, _ = cv2.projectPoints(front, zero, zero, self.camera_matrix, self.distortion)
        pixels[in_front] = projected.reshape(-1, 2)
        return pixels, in_front

    def undistort_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """(N,2) distorted pixels → (N,2) normalized image coordinates (x/z, y/z)."""
        pts = _as_points(pixels, 2, "pixels").reshape(-1, 1, 2)
        if len(pts) == 0:
            return np.zeros((0, 2))
        if self.is_fisheye:
            normalized = cv2.fisheye.undistortPoints(pts, self.camera_matrix, self.distortion)
        else:
            # Extra iterations: the default 5 leave ~0.1 px error at strong barrel distortion.
            criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)
            normalized = _undistort_points_iter(pts, self.camera_matrix, self.distortion, criteria)
        return normalized.reshape(-1, 2)

    def unproject(self, pixels: np.ndarray) -> np.ndarray:
        """(N,2) pixels → (N,3) unit rays in the optical frame."""
        normalized = self.undistort_pixels(pixels)
        rays = np.column_stack([normalized, np.ones(len(normalized))])
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def scaled(self, width: int, height: int) -> CameraIntrinsics:
        """The same lens at another resolution (e.g. a camera configured to 320×240)."""
        sx, sy = width / self.width, height / self.height
        k = self.camera_matrix.copy()
        k[0, :] *= sx
        k[1, :] *= sy
        return CameraIntrinsics(
            width, height, k, self.distortion.copy(), self.distortion_model, self.camera_name
        )

    @staticmethod
    def from_fov(
        width: int, height: int, horizontal_fov_rad: float, distortion: np.ndarray | None = None
    ) -> CameraIntrinsics:
        """A centred pinhole with square pixels and the given horizontal field of view."""
        if not 0.0 < horizontal_fov_rad < np.pi:
            raise CalibrationError(f"horizontal_fov_rad must be in (0, pi), got {horizontal_fov_rad}")
        f = (width / 2.0) / np.tan(horizontal_fov_rad / 2.0)
        k = np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])
        d = np.zeros(5) if distortion is None else np.asarray(distortion, dtype=np.float64)
        return CameraIntrinsics(width, height, k, d)


def validate_intrinsics(intr: CameraIntrinsics) -> None:
    """Raise CalibrationError naming the first field that makes the calibration unusable."""
    if not (isinstance(intr.width, (int, np.integer)) and intr.width > 0):
        raise CalibrationError(f"image_width must be a positive integer, got {intr.width!r}")
    if not (isinstance(intr.height, (int, np.integer)) and intr.height > 0):
        raise CalibrationError(f"image_height must be a positive integer, got {intr.height!r}")
    k = intr.camera_matrix
    if k.shape != (3, 3):
        raise CalibrationError(f"camera_matrix must be 3x3, got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise CalibrationError("camera_matrix contains NaN or Inf")
    if k[0, 0] <= 0 or k[1, 1] <= 0:
        raise CalibrationError(f"camera_matrix focal lengths must be > 0, got fx={k[0, 0]}, fy={k[1, 1]}")
    if intr.distortion_model not in DISTORTION_MODELS:
        raise CalibrationError(
            f"distortion_model must be one of {DISTORTION_MODELS}, got {intr.distortion_model!r}"
        )
    d = intr.distortion
    if not np.all(np.isfinite(d)):
        raise CalibrationError("distortion_coefficients contains NaN or Inf")
    expected = _EXPECTED_COEFFS[intr.distortion_model]
    if len(d) not in expected:
        raise CalibrationError(
            f"distortion_coefficients for {intr.distortion_model} must have {expected[0]} values, "
            f"got {len(d)}"
        )


def rotation_from_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """REP-103 fixed-axis roll, pitch, yaw: R = Rz(yaw) · Ry(pitch) · Rx(roll)."""
    cr, sr = np.cos(roll), np.sin(roll)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx


def rpy_from_rotation(rotation: np.ndarray) -> tuple[float, float, float]:
    """Inverse of :func:`rotation_from_rpy` (pitch in [-pi/2, pi/2])."""
    r = np.asarray(rotation, dtype=np.float64)
    pitch = float(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    roll = float(np.arctan2(r[2, 1], r[2, 2]))
    yaw = float(np.arctan2(r[1, 0], r[0, 0]))
    return roll, pitch, yaw


@dataclass(frozen=True)
class CameraExtrinsics:
    """Pose of ``camera_link`` in ``base_link``. Pitch > 0 looks down (REP-103)."""

    translation: tuple[float, float, float] = (0.0, 0.0, 0.5)
    rotation_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    parent_frame: str = "base_link"
    child_frame: str = "camera_link"

    def __post_init__(self) -> None:
        t = tuple(float(v) for v in self.translation)
        r = tuple(float(v) for v in self.rotation_rpy)
        if len(t) != 3 or not np.all(np.isfinite(t)):
            raise CalibrationError(f"translation must be 3 finite numbers, got {self.translation!r}")
        if len(r) != 3 or not np.all(np.isfinite(r)):
            raise CalibrationError(f"rotation_rpy must be 3 finite numbers, got {self.rotation_rpy!r}")
        object.__setattr__(self, "translation", t)
        object.__setattr__(self, "rotation_rpy", r)

    @property
    def rotation_base_from_link(self) -> np.ndarray:
        return rotation_from_rpy(*self.rotation_rpy)

    @property
    def rotation_base_from_optical(self) -> np.ndarray:
        return self.rotation_base_from_link @ R_LINK_FROM_OPTICAL

    @property
    def origin(self) -> np.ndarray:
        return np.asarray(self.translation, dtype=np.float64)

    def optical_to_base(self, points_optical: np.ndarray) -> np.ndarray:
        points = _as_points(points_optical, 3, "points_optical")
        return points @ self.rotation_base_from_optical.T + self.origin

    def base_to_optical(self, points_base: np.ndarray) -> np.ndarray:
        points = _as_points(points_base, 3, "points_base")
        return (points - self.origin) @ self.rotation_base_from_optical

    def with_pitch_offset(self, extra_pitch: float) -> CameraExtrinsics:
        """The same mount with the body pitched by ``extra_pitch`` (e.g. braking dive from IMU)."""
        roll, pitch, yaw = self.rotation_rpy
        return CameraExtrinsics(
            self.translation, (roll, pitch + extra_pitch, yaw), self.parent_frame, self.child_frame
        )


@dataclass(frozen=True)
class CameraRig:
    """A calibrated camera mounted on the rover: pixels ↔ points in ``base_link``."""

    intrinsics: CameraIntrinsics
    extrinsics: CameraExtrinsics

    def project_base_points(self, points_base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,3) points in base_link → (N,2) pixels and an in-front-of-camera mask."""
        return self.intrinsics.project(self.extrinsics.base_to_optical(points_base))

    def pixel_rays_in_base(self, pixels: np.ndarray) -> np.ndarray:
        """(N,2) pixels → (N,3) unit ray directions in base_link (origin: the camera)."""
        rays_optical = self.intrinsics.unproject(pixels)
        return rays_optical @ self.extrinsics.rotation_base_from_optical.T

    def pixels_to_ground(
        self, pixels: np.ndarray, ground_z: float = 0.0, max_range: float = 200.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Intersect pixel rays with the plane z = ground_z in base_link.

        Returns ``(points, valid)``. Rays at or above the horizon, or meeting the ground farther
        than ``max_range``, are invalid (their points are NaN) — never an exception, since a
        pitching rover routinely sees such pixels.
        """
        rays = self.pixel_rays_in_base(pixels)
        origin = self.extrinsics.origin
        dz = rays[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (ground_z - origin[2]) / dz
        valid = np.isfinite(t) & (dz < -1e-9) & (t > 0)
        points = origin + rays * t[:, None]
        valid &= np.linalg.norm(points[:, :2] - origin[:2], axis=1) <= max_range
        points[~valid] = np.nan
        return points, valid


def _undistort_points_iter(pts: np.ndarray, camera_matrix, distortion, criteria) -> np.ndarray:
    """cv2.undistortPoints with explicit iteration criteria on OpenCV 4.x and 5.x.

    OpenCV 4.x (JetPack 6's system OpenCV is 4.8) exposes it only as ``undistortPointsIter``;
    5.x dropped that name and takes ``criteria=`` in ``undistortPoints`` itself.
    """
    iterate = getattr(cv2, "undistortPointsIter", None)
    if iterate is not None:
        return iterate(pts, camera_matrix, distortion, None, None, criteria)
    return cv2.undistortPoints(pts, camera_matrix, distortion, None, None, criteria=criteria)
