"""Rolling occupancy grid around the rover, in ``base_link`` (pure core, no rclpy).

Layout follows nav_msgs/OccupancyGrid: row-major, row index along +y, column index along +x,
``origin`` = the (x, y) of cell (0, 0)'s outer corner. Values: -1 unknown, 0 free, 1..100
occupied evidence (100 = seen occupied in this frame; decays while not re-observed).

Each update:
1. moves the memory by the rover's own motion (odometry), so the window rolls with the rover;
2. decays what is not re-observed: occupied evidence with ``occupied_decay`` (s), "known" with
   ``known_decay`` (s) — a cell seen long ago becomes unknown again;
3. marks free what the camera sees on the ground (the footprint the caller passes; the mapper
   cuts it at ``MapperConfig.free_range``) except the shadow behind each obstacle, where the
   camera cannot see;
4. marks each obstacle occupied: a disc of radius max(width, depth) / 2 + the rover's half-width
   (the configuration-space inflation a planner needs to treat the rover as a point).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edge_rover.perception.mapping.tracker import EgoMotion

UNKNOWN = -1
FREE = 0
OCCUPIED = 100

# Allowed cell sizes (m), checked here and declared as the node parameter's range: finer cells
# cost memory and time quadratically, coarser ones swallow the gap between two cones.
RESOLUTION_RANGE = (0.02, 1.0)


@dataclass(frozen=True)
class GridConfig:
    resolution: float = 0.1  # m per cell
    ahead: float = 20.0  # m of window in front of base_link
    behind: float = 5.0  # m of window behind base_link
    half_width: float = 10.0  # m of window to each side
    rover_half_width: float = 0.35  # m; inflation added to every obstacle
    occupied_decay: float = 1.0  # s; time constant of occupied evidence not re-observed
    known_decay: float = 3.0  # s; time constant after which unseen cells drift back to unknown
    known_threshold: float = 0.3  # "known" below this → unknown (-1)
    occupied_floor: float = 0.02  # occupied evidence below this counts as none

    def __post_init__(self) -> None:
        lo, hi = RESOLUTION_RANGE
        if not (lo <= self.resolution <= hi):
            raise ValueError(f"grid resolution {self.resolution} m outside [{lo}, {hi}]")
        if not (self.ahead > 0 and self.behind >= 0 and self.half_width > 0):
            raise ValueError("grid extents must be positive")
        if not (self.occupied_decay > 0 and self.known_decay > 0):
            raise ValueError("decay time constants must be > 0")

    @property
    def shape(self) -> tuple[int, int]:
        """(rows along y, columns along x)."""
        return (
            round(2 * self.half_width / self.resolution),
            round((self.ahead + self.behind) / self.resolution),
        )

    @property
    def origin(self) -> tuple[float, float]:
        return (-self.behind, -self.half_width)


@dataclass(frozen=True)
class GridObstacle:
    """What the grid needs of an obstacle: where, and how big."""

    x: float
    y: float
    width: float
    depth: float


class RollingGrid:
    def __init__(self, config: GridConfig | None = None):
        self.config = config or GridConfig()
        rows, cols = self.config.shape
        self.occupied = np.zeros((rows, cols), dtype=np.float32)  # evidence in [0, 1]
        self.known = np.zeros((rows, cols), dtype=np.float32)  # observed-ness in [0, 1]
        self.last_time: float | None = None
        ox, oy = self.config.origin
        res = self.config.resolution
        self._cell_x = (ox + (np.arange(cols) + 0.5) * res).astype(np.float32)[None, :]
        self._cell_y = (oy + (np.arange(rows) + 0.5) * res).astype(np.float32)[:, None]
        self._polar_key: tuple[float, float] | None = None
        self._polar: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))

    def reset(self) -> None:
        self.occupied[:] = 0.0
        self.known[:] = 0.0
        self.last_time = None

    # -- geometry --------------------------------------------------------------------------------

    def world_to_cell(self, x: float, y: float) -> tuple[float, float]:
        """Continuous (col, row) of a base_link point (cell centres at integers)."""
        ox, oy = self.config.origin
        res = self.config.resolution
        return (x - ox) / res - 0.5, (y - oy) / res - 0.5

    def value_at(self, x: float, y: float) -> int:
        """The published value (-1 / 0 / 1..100) of the cell holding base_link point (x, y)."""
        col, row = self.world_to_cell(x, y)
        r, c = round(row), round(col)
        rows, cols = self.config.shape
        if not (0 <= r < rows and 0 <= c < cols):
            return UNKNOWN
        return int(self.to_int8()[r, c])

    # -- update ----------------------------------------------------------------------------------

    def update(
        self,
        now: float,
        obstacles: Sequence[GridObstacle],
        footprint: np.ndarray | None,
        camera_xy: tuple[float, float] = (0.0, 0.0),
        ego: EgoMotion | None = None,
    ) -> None:
        """Advance to ``now``; ``footprint`` is the camera's ground polygon (N,2) in base_link."""
        if self.last_time is not None and now < self.last_time:
            self.reset()
        dt = 0.0 if self.last_time is None else now - self.last_time
        self.last_time = now
        if dt > 0.0:
            if ego is not None:
                self._roll(ego, dt)
            self.occupied *= np.float32(np.exp(-dt / self.config.occupied_decay))
            self.known *= np.float32(np.exp(-dt / self.config.known_decay))
        if footprint is not None and len(footprint) >= 3:
            visible = self._footprint_mask(footprint)
            visible &= ~self._shadows(obstacles, camera_xy)
            self.known[visible] = 1.0
            self.occupied[visible] = 0.0
        for obstacle in obstacles:
            mask = self._disc_mask(obstacle)
            self.occupied[mask] = 1.0
            self.known[mask] = 1.0

    def _roll(self, ego: EgoMotion, dt: float) -> None:
        """Move the memory with the rover: new cell ← the old cell that held the same ground."""
        R, t = ego.transform(dt)
        # p_new = R (p_old − t)  ⇒  p_old = Rᵀ p_new + t; in cell units with the grid origin.
        res = self.config.resolution
        ox, oy = self.config.origin
        A = R.T
        offset = np.array([ox, oy]) + 0.5 * res
        # cell→metric: p = offset + res * c ; metric→cell: c = (p − offset) / res
        b = (A @ offset + t - offset) / res
        M = np.hstack([A, b[:, None]]).astype(np.float64)
        rows, cols = self.config.shape
        flags = cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
        self.occupied = cv2.warpAffine(self.occupied, M, (cols, rows), flags=flags, borderValue=0.0)
        self.known = cv2.warpAffine(self.known, M, (cols, rows), flags=flags, borderValue=0.0)

    def _footprint_mask(self, footprint: np.ndarray) -> np.ndarray:
        rows, cols = self.config.shape
        mask = np.zeros((rows, cols), dtype=np.uint8)
        polygon = np.array([self.world_to_cell(float(x), float(y)) for x, y in footprint])
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
        return mask.astype(bool)

    def _shadows(self, obstacles: Sequence[GridObstacle], camera_xy: tuple[float, float]) -> np.ndarray:
        """Cells hidden behind obstacles as seen from the camera (their angular span, farther away)."""
        rows, cols = self.config.shape
        hidden = np.zeros((rows, cols), dtype=bool)
        if not obstacles:
            return hidden
        cell_range, cell_bearing = self._polar_from(camera_xy)
        for obstacle in obstacles:
            ox, oy = obstacle.x - camera_xy[0], obstacle.y - camera_xy[1]
            distance = float(np.hypot(ox, oy))
            if distance < 1e-3:
                continue
            half_angle = np.float32(np.arctan2(max(obstacle.width, 0.1) / 2.0, distance))
            bearing = np.float32(np.arctan2(oy, ox))
            difference = np.abs(
                (cell_bearing - bearing + np.float32(np.pi)) % np.float32(2 * np.pi) - np.float32(np.pi)
            )
            hidden |= (difference <= half_angle) & (cell_range >= np.float32(distance - obstacle.depth / 2.0))
        return hidden

    def _polar_from(self, camera_xy: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Range and bearing of every cell from the camera (cached: the camera rarely moves)."""
        key = (float(camera_xy[0]), float(camera_xy[1]))
        if self._polar_key != key:
            dx = self._cell_x - np.float32(key[0])
            dy = self._cell_y - np.float32(key[1])
            self._polar = (np.hypot(dx, dy), np.arctan2(dy, dx))
            self._polar_key = key
        return self._polar

    def _disc_mask(self, obstacle: GridObstacle) -> np.ndarray:
        rows, cols = self.config.shape
        mask = np.zeros((rows, cols), dtype=np.uint8)
        radius_m = max(obstacle.width, obstacle.depth) / 2.0 + self.config.rover_half_width
        col, row = self.world_to_cell(obstacle.x, obstacle.y)
        radius = max(round(radius_m / self.config.resolution), 1)
        # Far outside the window: nothing to draw (cv2 would clip anyway, but avoid int overflow).
        if -radius <= col < cols + radius and -radius <= row < rows + radius:
            cv2.circle(mask, (round(col), round(row)), radius, 1, thickness=-1)
        return mask.astype(bool)

    # -- output ----------------------------------------------------------------------------------

    def to_int8(self) -> np.ndarray:
        """(rows, cols) int8 in nav_msgs/OccupancyGrid conventions."""
        cfg = self.config
        values = np.full(self.occupied.shape, UNKNOWN, dtype=np.int8)
        known = self.known >= cfg.known_threshold
        values[known] = FREE
        evidence = self.occupied >= cfg.occupied_floor
        values[evidence] = np.clip(np.ceil(self.occupied[evidence] * OCCUPIED), 1, OCCUPIED).astype(np.int8)
        return values


def camera_ground_footprint(rig: object, max_range: float, samples_per_edge: int = 16) -> np.ndarray | None:
    """The camera's ground footprint in base_link: polygon (N,2) or None if it sees no ground.

    Pixels along the image border are intersected with the ground by the camera model; rays at or
    above the horizon (or beyond ``max_range``) are replaced by their direction cut at ``max_range``,
    so the polygon closes along the far arc.
    """
    intr = rig.intrinsics  # type: ignore[attr-defined]
    w, h = intr.width - 1, intr.height - 1
    s = np.linspace(0.0, 1.0, samples_per_edge)
    border = np.concatenate(
        [
            np.column_stack([s * w, np.full_like(s, h)]),  # bottom edge, left → right
            np.column_stack([np.full_like(s, w), (1 - s) * h]),  # right edge, bottom → top
            np.column_stack([(1 - s) * w, np.zeros_like(s)]),  # top edge, right → left
            np.column_stack([np.zeros_like(s), s * h]),  # left edge, top → bottom
        ]
    )
    ground, valid = rig.pixels_to_ground(border, max_range=max_range)  # type: ignore[attr-defined]
    if not valid.any():
        return None
    origin = rig.extrinsics.origin[:2]  # type: ignore[attr-defined]
    rays = rig.pixel_rays_in_base(border)[:, :2]  # type: ignore[attr-defined]
    norms = np.linalg.norm(rays, axis=1)
    far = origin + rays / np.maximum(norms, 1e-9)[:, None] * max_range
    points = np.where(valid[:, None], ground[:, :2], far)
    # Rays pointing straight up/back have no useful direction: drop them.
    keep = valid | ((norms > 1e-6) & (rays[:, 0] > 0))
    points = points[keep]
    return points if len(points) >= 3 else None
