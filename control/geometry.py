"""Arc geometry in base_link (x forward, y left) and the occupancy grid's clearance field.

The rover drives constant-curvature arcs from base_link (rear axle). A point's arc coordinates
are (s, d): the arc length to the point's foot on the arc and its unsigned lateral distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

STRAIGHT_CURVATURE = 1e-4  # |κ| below this is treated as a straight line (radius > 10 km)


def arc_coordinates(points: np.ndarray, curvature: float) -> tuple[np.ndarray, np.ndarray]:
    """(N,2) base_link points → (s, d): arc length along the arc and lateral distance to it.

    Points behind the start get s < 0 (so a large obstacle centred just behind can still reach
    ahead through its radius); beyond half a turn on a tight arc counts as behind.
    """
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    x, y = points[:, 0], points[:, 1]
    if abs(curvature) < STRAIGHT_CURVATURE:
        return x.copy(), np.abs(y)
    radius = 1.0 / abs(curvature)
    y_turn = y * math.copysign(1.0, curvature)  # mirror right turns onto left turns
    to_centre_y = radius - y_turn
    lateral = np.abs(np.hypot(x, to_centre_y) - radius)
    swept = np.arctan2(x, to_centre_y)  # angle swept from the start point, (-π, π]
    return swept * radius, lateral


def arc_points(curvature: float, s: np.ndarray) -> np.ndarray:
    """Points at arc lengths ``s`` along the arc of ``curvature`` from base_link → (N,2)."""
    s = np.asarray(s, dtype=float)
    if abs(curvature) < STRAIGHT_CURVATURE:
        return np.stack([s, np.zeros_like(s)], axis=-1)
    radius = 1.0 / curvature
    angle = s * curvature
    return np.stack([radius * np.sin(angle), radius * (1.0 - np.cos(angle))], axis=-1)


def arc_points_many(curvatures: np.ndarray, s: np.ndarray) -> np.ndarray:
    """:func:`arc_points` for every curvature at once → (A, S, 2), the same values element by
    element (the controller scores ~20 arcs three times a frame: one array pass, not 20)."""
    k = np.asarray(curvatures, dtype=float).reshape(-1, 1)
    s = np.asarray(s, dtype=float).reshape(1, -1)
    points = np.empty((k.shape[0], s.shape[1], 2))
    straight = np.abs(k[:, 0]) < STRAIGHT_CURVATURE
    points[straight, :, 0] = s
    points[straight, :, 1] = 0.0
    turning = k[~straight]
    if len(turning):
        radius = 1.0 / turning
        angle = s * turning
        points[~straight, :, 0] = radius * np.sin(angle)
        points[~straight, :, 1] = radius * (1.0 - np.cos(angle))
    return points


def arc_tangent(curvature: float, s: np.ndarray) -> np.ndarray:
    angle = np.asarray(s, dtype=float) * curvature
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def steering_to_curvature(steering_angle: float, wheelbase: float) -> float:
    return math.tan(steering_angle) / wheelbase


def curvature_to_steering(curvature: float, wheelbase: float) -> float:
    return math.atan(curvature * wheelbase)


def stopping_distance(speed: float, decel: float, delay: float) -> float:
    """Distance covered from now to standstill: ``delay`` at ``speed``, then constant ``decel``."""
    speed = max(speed, 0.0)
    return speed * delay + speed * speed / (2.0 * decel)


def speed_to_stop_within(distance: float, decel: float, delay: float) -> float:
    """Largest speed whose stopping distance (delay, then decel) is ≤ ``distance`` (inverse of above)."""
    if distance <= 0.0:
        return 0.0
    # v²/(2a) + v·t = d  →  v = a·(−t + sqrt(t² + 2d/a))
    return decel * (-delay + math.sqrt(delay * delay + 2.0 * distance / decel))


@dataclass(frozen=True)
class GridMap:
    """An occupancy grid with a precomputed clearance field (metres to the nearest occupied cell).

    ``origin_*`` is the pose of cell (0, 0)'s corner in the grid frame (nav_msgs/OccupancyGrid
    convention, row = y index). Unknown cells (-1) count as free: the camera sees a cone, and the
    tracked obstacles (not the grid) carry what is known about the rest.
    """

    occupied: np.ndarray  # (H, W) bool
    resolution: float
    origin_x: float
    origin_y: float
    origin_yaw: float
    clearance: np.ndarray  # (H, W) float32, metres

    @classmethod
    def from_occupancy(
        cls,
        data: np.ndarray,
        resolution: float,
        origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
        occupied_threshold: int = 50,
        inflation: float = 0.0,
    ) -> GridMap:
        """``inflation``: how far the map's producer already grew each obstacle (configuration
        space); it is added back to the clearance of free cells so obstacles are not grown twice."""
        data = np.asarray(data)
        if data.ndim != 2 or data.size == 0:
            raise ValueError(f"occupancy grid must be a non-empty 2-D array, got shape {data.shape}")
        if not (math.isfinite(resolution) and resolution > 0.0):
            raise ValueError(f"occupancy grid resolution must be > 0, got {resolution}")
        if not all(math.isfinite(v) for v in origin):
            raise ValueError(f"occupancy grid origin must be finite, got {origin}")
        occupied = data >= occupied_threshold
        if occupied.any():
            free = np.where(occupied, 0, 255).astype(np.uint8)
            clearance = cv2.distanceTransform(free, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).astype(np.float32)
            clearance *= resolution
            clearance[~occupied] += inflation
        else:
            clearance = np.full(data.shape, np.inf, dtype=np.float32)
        return cls(occupied, float(resolution), *map(float, origin), clearance)

    def clearance_at(self, points_grid: np.ndarray) -> np.ndarray:
        """Clearance (m) at (N,2) points in the grid frame; +inf outside the grid."""
        pts = np.asarray(points_grid, dtype=float).reshape(-1, 2)
        c, s = math.cos(self.origin_yaw), math.sin(self.origin_yaw)
        dx, dy = pts[:, 0] - self.origin_x, pts[:, 1] - self.origin_y
        col = np.floor((c * dx + s * dy) / self.resolution).astype(np.int64)
        row = np.floor((-s * dx + c * dy) / self.resolution).astype(np.int64)
        height, width = self.occupied.shape
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        out = np.full(len(pts), np.inf)
        out[inside] = self.clearance[row[inside], col[inside]]
        return out


def transform_points(points: np.ndarray, pose: tuple[float, float, float]) -> np.ndarray:
    """Map (N,2) points by the 2-D pose (x, y, yaw) of their frame in the target frame."""
    x, y, yaw = pose
    c, s = math.cos(yaw), math.sin(yaw)
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    return np.stack([c * pts[:, 0] - s * pts[:, 1] + x, s * pts[:, 0] + c * pts[:, 1] + y], axis=-1)


def corridor_polylines(
    curvature: float, half_width: float, start: float, length: float, step: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre line and left/right edges (each (N,2), base_link) of the corridor along an arc."""
    s = np.arange(start, start + length + 1e-9, step)
    centre = arc_points(curvature, s)
    tangent = arc_tangent(curvature, s)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=-1)
    return centre, centre + half_width * normal, centre - half_width * normal
