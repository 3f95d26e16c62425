"""The simulator's calibration-target renderer: checkerboards seen through the shared camera model.

Every pixel's ray comes from :meth:`CameraIntrinsics.unproject` (so the known K and distortion
are exactly those of ``edge_rover.common.camera_model``), meets the board plane, and takes the board's
colour box-filtered over the pixel's footprint on the board (analytic anti-aliasing: edges and
corners land where the model puts them, to a small fraction of a pixel). Uses:

* held-in-view boards at many poses, to check that intrinsic calibration recovers K and
  distortion (:func:`random_board_views`);
* a board lying on the ground in front of a mounted camera, to check extrinsic calibration
  (:meth:`TargetRenderer.render_ground`).

CLI (images to try the calibration tools without a camera)::

    python -m edge_rover.simulation.calibration_targets intrinsics --out /tmp/sim_calib [--video]
    python -m edge_rover.simulation.calibration_targets ground --out /tmp/sim_ground --distance 1.5
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_rover.calibration.calibration_io import save_camera_info, save_extrinsics
from edge_rover.common.camera_model import CameraExtrinsics, CameraIntrinsics, rotation_from_rpy


@dataclass(frozen=True)
class CheckerPattern:
    """A printed checkerboard: ``cols`` × ``rows`` INNER corners, ``square`` m, white margin.

    Board frame as ``edge_rover.calibration.boards.Checkerboard.object_points``: origin at the first
    inner corner, x along a row (cols), y down the columns (rows), z = 0 on the surface.
    """

    cols: int = 9
    rows: int = 6
    square: float = 0.05
    margin: float = 0.05  # white border beyond the outer squares, metres
    black: float = 25.0
    white: float = 230.0

    @property
    def extent_u(self) -> tuple[float, float]:
        return (-self.square - self.margin, self.cols * self.square + self.margin)

    @property
    def extent_v(self) -> tuple[float, float]:
        return (-self.square - self.margin, self.rows * self.square + self.margin)

    def centre(self) -> np.ndarray:
        return np.array([(self.cols - 1) * self.square / 2, (self.rows - 1) * self.square / 2, 0.0])

    def outline(self) -> np.ndarray:
        """(4,3) the board's physical corners in the board frame."""
        (u0, u1), (v0, v1) = self.extent_u, self.extent_v
        return np.array([[u0, v0, 0], [u1, v0, 0], [u1, v1, 0], [u0, v1, 0]], dtype=np.float64)

    def shade(
        self, u: np.ndarray, v: np.ndarray, w_u: np.ndarray, w_v: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Grey level and board coverage (0..1) of pixels centred at (u, v) with footprint (w_u, w_v)."""
        s = self.square
        # Clamp into the outer squares' middles: the wave must not switch at the pattern's outer
        # edge (that edge belongs to the square-area mask below).
        u_in = np.clip(u, -s / 2, (self.cols - 0.5) * s)
        v_in = np.clip(v, -s / 2, (self.rows - 0.5) * s)
        checker = _filtered_square_wave(u_in, s, w_u) * _filtered_square_wave(v_in, s, w_v)
        in_squares = _filtered_interval(u, -s, self.cols * s, w_u) * _filtered_interval(
            v, -s, self.rows * s, w_v
        )
        on_board = _filtered_interval(u, *self.extent_u, w_u) * _filtered_interval(v, *self.extent_v, w_v)
        mid, amplitude = (self.white + self.black) / 2, (self.white - self.black) / 2
        squares = mid - amplitude * checker  # the square at the origin's lower-right is black
        value = self.white * (1 - in_squares) + squares * in_squares
        return value, on_board


def _filtered_square_wave(x: np.ndarray, period: float, width: np.ndarray) -> np.ndarray:
    """±1 square wave (edges every ``period``) box-filtered over ``width`` (exact near one edge)."""
    phase = np.mod(x, 2 * period)
    sign = np.where(phase < period, 1.0, -1.0)
    within = np.mod(x, period)
    edge_distance = np.minimum(within, period - within)
    return sign * np.clip(2 * edge_distance / np.maximum(width, 1e-12), 0.0, 1.0)


def _filtered_interval(x: np.ndarray, low: float, high: float, width: np.ndarray) -> np.ndarray:
    """Indicator of [low, high] box-filtered over ``width``."""
    half = np.maximum(width, 1e-12) / 2
    overlap = np.minimum(x + half, high) - np.maximum(x - half, low)
    return np.clip(overlap / (2 * half), 0.0, 1.0)


class TargetRenderer:
    """Renders boards for one camera; the per-pixel rays are computed once."""

    def __init__(self, intrinsics: CameraIntrinsics, background: float = 120.0) -> None:
        self.intrinsics = intrinsics
        self.background = background
        h, w = intrinsics.height, intrinsics.width
        vs, us = np.mgrid[0:h, 0:w].astype(np.float64)
        pixels = np.column_stack([us.ravel(), vs.ravel()])
        normalized = intrinsics.undistort_pixels(pixels)
        # Pixels where the distortion cannot be inverted (beyond a strong lens's valid radius)
        # get no ray: better a blank corner than a board drawn from a wrong ray.
        rays = np.column_stack([normalized, np.ones(len(normalized))])
        reprojected, _ = intrinsics.project(rays)
        self.valid = (np.linalg.norm(reprojected - pixels, axis=1) < 0.01).reshape(h, w)
        self.rays = rays.reshape(h, w, 3)  # optical frame, z = 1

    def _board_uv(self, rays: np.ndarray, rotation: np.ndarray, translation: np.ndarray):
        """Intersect rays (from the origin) with the board plane; (u, v, range, hit mask)."""
        normal = rotation[:, 2]
        denominator = rays @ normal
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = float(normal @ translation) / denominator
        hit = np.isfinite(scale) & (scale > 0) & self.valid
        points = rays * np.where(hit, scale, 0.0)[..., None]
        local = (points - translation) @ rotation  # board coordinates
        return local[..., 0], local[..., 1], scale, hit

    @staticmethod
    def _footprint(u: np.ndarray, v: np.ndarray, hit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Extent of one pixel along the board's u and v axes (from neighbouring pixels)."""
        big = 1e3
        u_f, v_f = np.where(hit, u, np.nan), np.where(hit, v, np.nan)
        du_dy, du_dx = np.gradient(u_f)
        dv_dy, dv_dx = np.gradient(v_f)
        w_u = np.nan_to_num(np.abs(du_dx) + np.abs(du_dy), nan=big)
        w_v = np.nan_to_num(np.abs(dv_dx) + np.abs(dv_dy), nan=big)
        return w_u, w_v

    def _shade_board(self, rays, pattern, rotation, translation):
        u, v, scale, hit = self._board_uv(rays, rotation, translation)
        w_u, w_v = self._footprint(u, v, hit)
        value, coverage = pattern.shade(u, v, w_u, w_v)
        return value, np.where(hit, coverage, 0.0), scale

    def render(
        self,
        pattern: CheckerPattern,
        rotation_optical_from_board: np.ndarray,
        translation_optical_from_board: np.ndarray,
        noise_std: float = 0.0,
        blur_sigma: float = 0.0,
        seed: int = 0,
    ) -> np.ndarray:
        """A board held in view (pose of the board frame in the optical frame) → grey uint8."""
        rotation = np.asarray(rotation_optical_from_board, dtype=np.float64)
        translation = np.asarray(translation_optical_from_board, dtype=np.float64).reshape(3)
        value, coverage, _ = self._shade_board(self.rays, pattern, rotation, translation)
        image = self.background * (1 - coverage) + value * coverage
        return _finish(image, noise_std, blur_sigma, seed)

    def render_ground(
        self,
        pattern: CheckerPattern,
        extrinsics: CameraExtrinsics,
        rotation_base_from_board: np.ndarray,
        translation_base_from_board: np.ndarray,
        noise_std: float = 0.0,
        seed: int = 0,
    ) -> np.ndarray:
        """A board lying on the ground seen from a mounted camera → grey uint8.

        The floor (z = 0 in base_link) is mid-grey with two painted lines parallel to x at
        y = ±0.5 m and cross lines every metre — a bird's-eye view must show them straight,
        parallel and square. Above the horizon: a brighter sky.
        """
        r_bo = extrinsics.rotation_base_from_optical
        origin = extrinsics.origin
        # Express the board pose in the optical frame and render it like a held board.
        rotation = r_bo.T @ np.asarray(rotation_base_from_board, dtype=np.float64)
        translation = r_bo.T @ (np.asarray(translation_base_from_board, dtype=np.float64).reshape(3) - origin)
        board_value, board_cover, _ = self._shade_board(self.rays, pattern, rotation, translation)
        floor = self._floor(r_bo, origin)
        image = floor * (1 - board_cover) + board_value * board_cover
        return _finish(image, noise_std, 0.0, seed)

    def _floor(self, r_bo: np.ndarray, origin: np.ndarray) -> np.ndarray:
        rays_base = self.rays @ r_bo.T
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = -origin[2] / rays_base[..., 2]
        hit = np.isfinite(scale) & (scale > 0) & self.valid
        x = origin[0] + rays_base[..., 0] * np.where(hit, scale, 0.0)
        y = origin[1] + rays_base[..., 1] * np.where(hit, scale, 0.0)
        w_x, w_y = self._footprint(x, y, hit)
        line_half = 0.025  # 5 cm wide tape
        lines = np.maximum(
            np.maximum(
                _filtered_interval(y, 0.5 - line_half, 0.5 + line_half, w_y),
                _filtered_interval(y, -0.5 - line_half, -0.5 + line_half, w_y),
            ),
            _filtered_interval(np.mod(x + 0.5, 1.0), 0.5 - line_half, 0.5 + line_half, w_x) * (w_x < 0.2),
        )
        floor = 95.0 + 100.0 * lines
        return np.where(hit, floor, 200.0)


def _finish(image: np.ndarray, noise_std: float, blur_sigma: float, seed: int) -> np.ndarray:
    if blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), blur_sigma)
    if noise_std > 0:
        image = image + np.random.default_rng(seed).normal(0.0, noise_std, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def board_in_view(
    intrinsics: CameraIntrinsics,
    pattern: CheckerPattern,
    rotation: np.ndarray,
    translation: np.ndarray,
    margin_px: float,
) -> bool:
    """Whole board (with its white margin) inside the image, ``margin_px`` from the border."""
    corners = pattern.outline() @ np.asarray(rotation).T + np.asarray(translation).reshape(1, 3)
    pixels, in_front = intrinsics.project(corners)
    if not in_front.all():
        return False
    u, v = pixels[:, 0], pixels[:, 1]
    return bool(
        np.all(u >= margin_px)
        and np.all(v >= margin_px)
        and np.all(u <= intrinsics.width - 1 - margin_px)
        and np.all(v <= intrinsics.height - 1 - margin_px)
    )


def random_board_views(
    intrinsics: CameraIntrinsics,
    pattern: CheckerPattern,
    count: int,
    seed: int = 0,
    max_tilt_deg: float = 40.0,
    margin_px: float = 15.0,
    centre_range: tuple[float, float] = (0.1, 0.9),
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` varied board poses (rotation, translation in the optical frame), all fully in view.

    Varied like a person waving a board: across the image, near and far, tilted up to
    ``max_tilt_deg`` about both board axes and turned about its normal; the board centre aims
    at a pixel within ``centre_range`` (fractions of width and height).
    """
    rng = np.random.default_rng(seed)
    board_width = (pattern.cols + 1) * pattern.square + 2 * pattern.margin
    views: list[tuple[np.ndarray, np.ndarray]] = []
    attempts = 0
    while len(views) < count:
        attempts += 1
        if attempts > 200 * count:
            raise RuntimeError(f"could not place {count} boards in view (board too large for the camera?)")
        # Board fills 35–80 % of the image width at its distance.
        fill = rng.uniform(0.35, 0.8)
        distance = intrinsics.fx * board_width / (fill * intrinsics.width)
        tilt = np.deg2rad(rng.uniform(-max_tilt_deg, max_tilt_deg, 2))
        spin = rng.uniform(-np.pi, np.pi)
        rotation = rotation_from_rpy(tilt[0], tilt[1], 0.0) @ rotation_from_rpy(0.0, 0.0, spin)
        target = intrinsics.unproject(
            np.array(
                [
                    [
                        rng.uniform(*centre_range) * intrinsics.width,
                        rng.uniform(*centre_range) * intrinsics.height,
                    ]
                ]
            )
        )[0]
        centre = target / target[2] * distance
        translation = centre - rotation @ pattern.centre()
        if board_in_view(intrinsics, pattern, rotation, translation, margin_px):
            views.append((rotation, translation))
    return views


def ground_board_pose(
    pattern: CheckerPattern, centre_x: float, centre_y: float = 0.0, yaw: float = 0.0, thickness: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Pose in base_link of a board lying flat with its centre at (x, y), rows across the rover.

    Board x (along a row) points to the rover's right (−y), board y towards the rover (−x), so
    board z points down into the floor; ``yaw`` turns it about the vertical.
    """
    lying = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    rotation = rotation_from_rpy(0.0, 0.0, yaw) @ lying
    translation = np.array([centre_x, centre_y, thickness]) - rotation @ pattern.centre()
    return rotation, translation


def default_sim_camera() -> CameraIntrinsics:
    """640×480, fx = fy = 480, mild barrel distortion: a typical rover webcam."""
    k = np.array([[480.0, 0.0, 322.0], [0.0, 482.0, 236.0], [0.0, 0.0, 1.0]])
    return CameraIntrinsics(
        640, 480, k, np.array([-0.28, 0.09, 0.0008, -0.0005, -0.01]), camera_name="sim_camera"
    )


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge_rover.simulation.calibration_targets", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="what", required=True)
    intr = sub.add_parser("intrinsics", help="held-board views + the true camera_info")
    intr.add_argument("--out", type=Path, required=True)
    intr.add_argument("--count", type=int, default=20)
    intr.add_argument("--video", action="store_true", help="also write views.avi (MJPG, 5 fps)")
    ground = sub.add_parser("ground", help="a board on the ground + the true extrinsics")
    ground.add_argument("--out", type=Path, required=True)
    ground.add_argument("--distance", type=float, default=1.5, help="board centre x in base_link (m)")
    args = parser.parse_args(argv)
    camera = default_sim_camera()
    renderer = TargetRenderer(camera)
    pattern = CheckerPattern(9, 6, 0.04, 0.04)
    args.out.mkdir(parents=True, exist_ok=True)
    save_camera_info(camera, args.out / "true_camera_info.yaml")
    if args.what == "intrinsics":
        images = [
            renderer.render(pattern, r, t, noise_std=1.0, seed=i)
            for i, (r, t) in enumerate(random_board_views(camera, pattern, args.count, seed=1))
        ]
        for index, image in enumerate(images):
            cv2.imwrite(str(args.out / f"view{index:02d}.png"), image)
        if args.video:
            writer = cv2.VideoWriter(
                str(args.out / "views.avi"),
                cv2.VideoWriter_fourcc(*"MJPG"),
                5.0,
                (camera.width, camera.height),
            )
            for image in images:
                writer.write(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
            writer.release()
        print(
            f"wrote {len(images)} views (9x6 inner corners, 0.04 m squares) + true camera_info to {args.out}"
        )
    else:
        mount = CameraExtrinsics((0.2, 0.0, 0.6), (0.0, 0.12, 0.0))
        pattern = CheckerPattern(9, 6, 0.08, 0.04)
        rotation, translation = ground_board_pose(pattern, args.distance)
        cv2.imwrite(
            str(args.out / "ground.png"), renderer.render_ground(pattern, mount, rotation, translation, 1.0)
        )
        save_extrinsics(mount, args.out / "true_extrinsics.yaml")
        print(
            f"wrote ground.png (9x6 inner corners, 0.08 m squares, centre x={args.distance} m) in {args.out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(_main())
