"""Place 2D detector boxes on the ground in ``base_link`` (pure core, no rclpy).

For each box: the bottom-centre pixel is where the obstacle touches the ground. It is undistorted,
turned into a ray and intersected with the ground plane — all by the shared camera model
(:meth:`CameraRig.pixels_to_ground`); nothing here re-derives projection maths. The ground point
is the obstacle's near face, so the footprint centre lies half a typical depth farther along the
line of sight.

Boxes cut by the image's bottom edge do not show where the obstacle touches the ground: the cut
row's ground point is only an upper bound on range. There the range comes from the class's height
prior: the distance along the bearing at which an obstacle of typical height would put its top on
the box's top row (found by projecting candidate positions through the camera model).

A box is rejected, with a reason, when its ray points at or above the horizon (a pitching rover
sees that routinely), when it lands beyond ``max_range``, or when its height is implausible for
its class (a 30 m tall "person" is a ground-projection failure, not an obstacle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edge_rover.common.camera_model import CameraRig
from edge_rover.perception.mapping.obstacle_types import (
    ClassProfiles,
    Detection2D,
    GroundObservation,
    ObstacleProfile,
)

# Rejection reasons (counted by the node, asserted by the tests).
NON_FINITE = "non_finite"
LOW_SCORE = "low_score"
DEGENERATE_BOX = "degenerate_box"
ABOVE_HORIZON = "above_horizon"
BEYOND_RANGE = "beyond_max_range"
IMPLAUSIBLE_HEIGHT = "implausible_height"


@dataclass(frozen=True)
class ProjectionConfig:
    max_range: float = 30.0  # m; farther ground points are rejected
    min_score: float = 0.25  # detections below this score are ignored (the shipped run-time value)
    edge_margin_px: float = 2.0  # a box edge this close to the image border counts as cut
    pixel_sigma: float = 1.5  # px; detector box-edge noise, for the position covariance
    pitch_sigma: float = 0.01  # rad; unmodelled body pitch, for the position covariance
    height_tolerance: float = 1.3  # the class height range is widened by this factor both ways
    centre_from_near_face: bool = True  # report the footprint centre (near face + depth / 2)
    min_position_sigma: float = 0.05  # m; covariance floor
    # Pixels subtracted from box edges to reach the camera model's convention (pixel centres at
    # integers). At 15 m one pixel of row is ~1 m of range, so this matters. 1.0 matches the shipped
    # detector: it is trained on the simulator's labels, which hold every pixel a silhouette touches
    # (cv2.fillPoly: the last labelled row is round(v) of the silhouette's lowest point, so the
    # bottom edge sits at y_max - 1). 0.5 suits tight edge-convention boxes (pixel i spans [i, i+1))
    # such as a COCO model's.
    box_pixel_offset: float = 1.0
    # The top edge is a range cue (see GroundObservation.top_tan) for classes at least this much
    # taller than the camera; lower ones show the far edge of their top, which moves differently.
    top_edge_min_rise: float = 0.5  # m
    # Boxes cut by the image's left or right side: extra position sigma across / along the line of
    # sight, as fractions of the class's width / contact depth (_beyond_inner_edge).
    handle_side_cut: bool = True  # False: side-cut boxes are placed like whole ones (comparisons)
    side_cut_sigma_across: float = 0.5
    side_cut_sigma_along: float = 0.5

    def __post_init__(self) -> None:
        if not self.max_range > 0 or not self.pixel_sigma >= 0 or not self.height_tolerance >= 1.0:
            raise ValueError(f"invalid ProjectionConfig {self}")


@dataclass
class ProjectionResult:
    observations: list[GroundObservation] = field(default_factory=list)
    rejected: list[tuple[Detection2D, str]] = field(default_factory=list)


class GroundProjector:
    """Boxes → :class:`GroundObservation` for one calibrated camera rig."""

    def __init__(self, rig: CameraRig, profiles: ClassProfiles, config: ProjectionConfig | None = None):
        self.rig = rig
        self.profiles = profiles
        self.config = config or ProjectionConfig()

    def project(self, detections: Sequence[Detection2D], pitch_offset: float = 0.0) -> ProjectionResult:
        """Project a frame's boxes; ``pitch_offset`` (rad, > 0 nose down) from IMU/odometry."""
        rig = self.rig
        if pitch_offset != 0.0 and np.isfinite(pitch_offset):
            rig = CameraRig(rig.intrinsics, rig.extrinsics.with_pitch_offset(pitch_offset))
        result = ProjectionResult()
        for detection in detections:
            outcome = self._project_one(rig, detection)
            if isinstance(outcome, str):
                result.rejected.append((detection, outcome))
            else:
                result.observations.append(outcome)
        return result

    # -- one box ---------------------------------------------------------------------------------

    def _project_one(self, rig: CameraRig, det: Detection2D) -> GroundObservation | str:
        cfg = self.config
        if not det.is_finite:
            return NON_FINITE
        if det.score < cfg.min_score:
            return LOW_SCORE
        x_min, y_min, x_max, y_max = (v - cfg.box_pixel_offset for v in det.box)
        if x_max <= x_min or y_max <= y_min:
            return DEGENERATE_BOX
        profile = self.profiles.get(det.class_name)
        height_px = rig.intrinsics.height
        cut_bottom = y_max >= height_px - 1 - cfg.edge_margin_px
        top_cut = y_min <= cfg.edge_margin_px
        # Cut by exactly one of the image's sides: the box's centre column is the visible part's,
        # not the obstacle's, and its width is a lower bound (a box spanning both sides is
        # a near obstacle filling the view: its centre column is fine).
        cut_left = x_min <= cfg.edge_margin_px
        cut_right = x_max >= rig.intrinsics.width - 1 - cfg.edge_margin_px
        cut_side = cfg.handle_side_cut and cut_left != cut_right
        u_centre = 0.5 * (x_min + x_max)
        corners = np.array([[u_centre, y_max], [x_min, y_max], [x_max, y_max]])
        ground, valid = rig.pixels_to_ground(corners, max_range=1e6)
        if not valid[0]:
            return ABOVE_HORIZON
        camera_xy = rig.extrinsics.origin[:2]
        near = ground[0, :2]
        offset = near - camera_xy
        cut_distance = float(np.hypot(*offset))
        bearing = offset / max(cut_distance, 1e-9)
        distance = cut_distance
        if cut_bottom:
            distance = self._distance_from_height_prior(rig, bearing, cut_distance, y_min, profile)
            near = camera_xy + bearing * distance
        if np.hypot(*near) > cfg.max_range:
            return BEYOND_RANGE
        if not top_cut and not cut_bottom:
            height = self._height_at(rig, near, y_min)
            if not self._height_plausible(height, profile):
                return IMPLAUSIBLE_HEIGHT
        else:
            # Top edge cut: the visible part is only a lower bound on the height.
            height = profile.height
            if top_cut and not cut_bottom:
                visible = self._height_at(rig, near, y_min)
                if np.isfinite(visible) and visible > profile.max_height * cfg.height_tolerance:
                    return IMPLAUSIBLE_HEIGHT
                height = max(height, visible) if np.isfinite(visible) else height
        width = self._width(camera_xy, ground[1:, :2], valid[1:], distance / max(cut_distance, 1e-9), bearing)
        if not np.isfinite(width):
            width = profile.width
        covariance = self._covariance(rig, u_centre, y_max, bearing, distance, cut_bottom, profile)
        position = near + bearing * (profile.depth / 2.0) if cfg.centre_from_near_face else near
        side_normal = None
        if cut_side:
            width = max(width, profile.width)
            anchored = self._beyond_inner_edge(
                rig, position, x_max if cut_left else x_min, y_max, cut_left, profile
            )
            if anchored is not None:
                position, extra, side_normal = anchored
                covariance = covariance + extra
        top = None
        rises = profile.height - rig.extrinsics.origin[2] >= cfg.top_edge_min_rise
        if not (top_cut or cut_bottom or cut_side) and rises:
            top = self._top_tan(rig, u_centre, y_min)
        return GroundObservation(
            position=position,
            covariance=covariance,
            size=(profile.depth, float(width), float(height)),
            class_name=det.class_name,
            score=float(det.score),
            cut_bottom=bool(cut_bottom),
            cut_side=bool(cut_side),
            side_normal=side_normal,
            top_tan=None if top is None else top[0],
            top_tan_sigma=0.0 if top is None else top[1],
            camera_xyz=tuple(float(v) for v in rig.extrinsics.origin),
        )

    def _beyond_inner_edge(
        self,
        rig: CameraRig,
        estimate: np.ndarray,
        u_inner: float,
        bottom_row: float,
        cut_left: bool,
        profile: ObstacleProfile,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Position, extra covariance and hidden-side normal of a box cut by the image's side.

        Its centre column is the visible part's, not the obstacle's. Its inner edge is the
        obstacle's own outline: the centre lies beyond that ray, on the hidden side, by at least
        half the class width (a car: between 0.9 m and half its diagonal, 2.3 m, with the heading).
        The estimate is kept where it satisfies that (on a sample of rendered cars, moving it
        further out, to the heading-averaged (L + W) / π, was no better: the heading decides) and
        pushed out to it where it does not. The extra covariance says how loosely it is known:
        across the line of sight, half the class width; along it, half the contact depth (the
        lowest visible point may be a body edge at the border, not a ground contact).
        """
        cfg = self.config
        camera_xy = rig.extrinsics.origin[:2]
        ground, valid = rig.pixels_to_ground(np.array([[u_inner, bottom_row]]), max_range=1e6)
        if valid[0]:
            ray = ground[0, :2] - camera_xy
        else:
            ray = rig.pixel_rays_in_base(np.array([[u_inner, bottom_row]]))[0, :2]
        norm = float(np.hypot(*ray))
        if not (np.isfinite(norm) and norm > 1e-9):
            return None
        ray = ray / norm
        # Image left is base_link's +y side of the line of sight.
        outward = np.array([-ray[1], ray[0]]) if cut_left else np.array([ray[1], -ray[0]])
        beyond = float((estimate - camera_xy) @ outward)
        position = estimate + max(0.0, profile.width / 2.0 - beyond) * outward
        sight = (position - camera_xy) / max(float(np.hypot(*(position - camera_xy))), 1e-9)
        across = np.array([-sight[1], sight[0]])
        extra = (cfg.side_cut_sigma_across * profile.width) ** 2 * np.outer(across, across) + (
            cfg.side_cut_sigma_along * profile.depth
        ) ** 2 * np.outer(sight, sight)
        return position, extra, outward

    def _top_tan(self, rig: CameraRig, u: float, top_row: float) -> tuple[float, float] | None:
        """Tangent of the elevation of the ray through (u, top_row) and its sigma (pixel and pitch
        noise, through the camera model); None when the ray does not point upwards."""
        cfg = self.config
        rays = rig.pixel_rays_in_base(np.array([[u, top_row], [u, top_row - 1.0], [u, top_row + 1.0]]))
        tans = rays[:, 2] / np.hypot(rays[:, 0], rays[:, 1])
        if not np.all(np.isfinite(tans)) or tans[0] <= 0.0:
            return None
        per_px = 0.5 * abs(tans[1] - tans[2])
        sigma_px = float(np.hypot(cfg.pixel_sigma, rig.intrinsics.fy * cfg.pitch_sigma))
        return float(tans[0]), per_px * sigma_px

    def _height_plausible(self, height: float, profile: ObstacleProfile) -> bool:
        tol = self.config.height_tolerance
        return bool(np.isfinite(height) and profile.min_height / tol <= height <= profile.max_height * tol)

    @staticmethod
    def _height_at(rig: CameraRig, ground_xy: np.ndarray, top_row: float) -> float:
        """Height (m) of a vertical line standing at ``ground_xy`` whose top projects on ``top_row``."""
        heights = np.linspace(0.0, 40.0, 801)
        points = np.column_stack(
            [np.full_like(heights, ground_xy[0]), np.full_like(heights, ground_xy[1]), heights]
        )
        pixels, in_front = rig.project_base_points(points)
        rows = pixels[:, 1]
        keep = in_front & np.isfinite(rows)
        if keep.sum() < 2:
            return float("nan")
        rows, heights = rows[keep], heights[keep]
        # Rows fall (image up) as height grows along a vertical line in front of the camera.
        order = np.argsort(rows)
        rows, heights = rows[order], heights[order]
        if top_row < rows[0]:
            return float("inf")  # taller than anything we consider
        return float(np.interp(top_row, rows, heights))

    def _distance_from_height_prior(
        self,
        rig: CameraRig,
        bearing: np.ndarray,
        cut_distance: float,
        top_row: float,
        profile: ObstacleProfile,
    ) -> float:
        """Horizontal camera distance at which a typical-height obstacle's top lands on ``top_row``.

        The obstacle is nearer than the cut row's ground point, so the answer is capped there.
        """
        camera_xy = rig.extrinsics.origin[:2]
        distances = np.linspace(0.05, cut_distance, 400)
        # An obstacle lower than the camera shows its far top edge on the top row, a taller one
        # its near top edge: search over the near face's distance either way.
        top_offset = profile.depth if profile.height < rig.extrinsics.origin[2] else 0.0
        points = np.column_stack(
            [
                camera_xy[0] + bearing[0] * (distances + top_offset),
                camera_xy[1] + bearing[1] * (distances + top_offset),
                np.full_like(distances, profile.height),
            ]
        )
        pixels, in_front = rig.project_base_points(points)
        rows = pixels[:, 1]
        error = np.where(in_front & np.isfinite(rows), rows - top_row, np.nan)
        finite = np.isfinite(error)
        if not finite.any():
            return cut_distance
        best = int(np.nanargmin(np.abs(error)))
        # Refine between neighbours where the sign changes.
        for j in (best - 1, best):
            if 0 <= j < len(distances) - 1 and finite[j] and finite[j + 1] and error[j] * error[j + 1] <= 0:
                span = error[j + 1] - error[j]
                frac = 0.0 if span == 0 else -error[j] / span
                return float(distances[j] + frac * (distances[j + 1] - distances[j]))
        return float(distances[best])

    @staticmethod
    def _width(
        camera_xy: np.ndarray, corner_ground: np.ndarray, valid: np.ndarray, scale: float, bearing: np.ndarray
    ) -> float:
        """Extent across the line of sight between the bottom corners' ground points (rescaled when
        the range came from the height prior)."""
        if not valid.all():
            return float("nan")
        left = camera_xy + (corner_ground[0] - camera_xy) * scale
        right = camera_xy + (corner_ground[1] - camera_xy) * scale
        span = left - right
        return float(abs(span[0] * bearing[1] - span[1] * bearing[0]))

    def _covariance(
        self,
        rig: CameraRig,
        u: float,
        v: float,
        bearing: np.ndarray,
        distance: float,
        cut_bottom: bool,
        profile: ObstacleProfile,
    ) -> np.ndarray:
        """Position covariance from box-edge pixel noise and pitch noise, through the camera model."""
        cfg = self.config
        sigma_v = float(np.hypot(cfg.pixel_sigma, rig.intrinsics.fy * cfg.pitch_sigma))
        floor = cfg.min_position_sigma**2 + (0.15 * profile.depth) ** 2
        along = np.outer(bearing, bearing)
        if cut_bottom:
            # Height-prior range: ~25 % range uncertainty along the line of sight.
            return (0.25 * distance) ** 2 * along + floor * np.eye(2)
        step = 1.0
        probes = np.array([[u + step, v], [u - step, v], [u, v + step], [u, v - step]])
        ground, valid = rig.pixels_to_ground(probes, max_range=1e6)
        if not valid.all():
            # Next to the horizon: the range is barely observable.
            return (0.5 * distance) ** 2 * along + floor * np.eye(2)
        d_du = (ground[0, :2] - ground[1, :2]) / (2 * step)
        d_dv = (ground[2, :2] - ground[3, :2]) / (2 * step)
        jacobian = np.column_stack([d_du, d_dv])
        pixel_cov = np.diag([cfg.pixel_sigma**2, sigma_v**2])
        return jacobian @ pixel_cov @ jacobian.T + floor * np.eye(2)
