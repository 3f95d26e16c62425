"""Camera mounting (base_link → camera_link) from a checkerboard lying flat on the ground.

The board's pose in the camera (solvePnP through the shared camera model) and its measured pose
on the floor in base_link give the camera's pose in base_link: height, pitch, roll, yaw and
offset. Which board edge points forward is decided geometrically — of the board's four in-plane
directions, the one closest to the camera's viewing direction — so OpenCV's corner ordering
(which may start at either end of the board) never flips the answer. The camera must therefore
look roughly forward (|yaw| well below 45°) and the board lie square to the rover (or at the
given yaw).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edge_rover.calibration.boards import BoardDetection
from edge_rover.common.camera_model import (
    R_LINK_FROM_OPTICAL,
    CalibrationError,
    CameraExtrinsics,
    CameraIntrinsics,
    rotation_from_rpy,
    rpy_from_rotation,
)

# camera_link → camera_optical_frame as REP-103 fixes it (z forward, x right, y down).
OPTICAL_RPY_IN_LINK = (-math.pi / 2, 0.0, -math.pi / 2)


@dataclass(frozen=True)
class GroundBoardPlacement:
    """Where the board lies, measured on the floor in base_link.

    ``centre_x``/``centre_y``: the centre of the printed checker pattern (= of its inner
    corners); base_link's origin is on the floor under the rear axle (REP-105), so measure
    from there. ``yaw``: angle of the board's edges to base_link's axes (0 = square to the
    rover). ``thickness``: height of the board's top surface above the floor.
    """

    centre_x: float
    centre_y: float = 0.0
    yaw: float = 0.0
    thickness: float = 0.0

    def __post_init__(self) -> None:
        values = (self.centre_x, self.centre_y, self.yaw, self.thickness)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"board placement must be finite numbers, got {values}")
        if self.centre_x <= 0:
            raise ValueError(f"the board must lie in front of base_link (centre_x > 0), got {self.centre_x}")
        if not 0.0 <= self.thickness < 0.2:
            raise ValueError(f"board thickness must be in [0, 0.2) m, got {self.thickness}")


@dataclass(frozen=True)
class BoardPose:
    """Board frame in the optical frame, and how well it explains the detected corners."""

    rotation: np.ndarray  # R_optical_from_board
    translation: np.ndarray  # board origin in the optical frame (m)
    rms_px: float


def solve_board_pose(intrinsics: CameraIntrinsics, detection: BoardDetection) -> BoardPose:
    """solvePnP on distortion-free normalised coordinates (works for every distortion model)."""
    normalized = intrinsics.undistort_pixels(detection.image_points)
    objects = detection.object_points.astype(np.float64)
    ok, rvec, tvec = cv2.solvePnP(objects, normalized, np.eye(3), None, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        raise CalibrationError("solvePnP found no board pose")
    rvec, tvec = cv2.solvePnPRefineLM(objects, normalized, np.eye(3), None, rvec, tvec)
    rotation, _ = cv2.Rodrigues(rvec)
    translation = tvec.reshape(3)
    projected, _ = intrinsics.project(objects @ rotation.T + translation)
    rms = float(np.sqrt(np.mean(np.sum((projected - detection.image_points) ** 2, axis=1))))
    return BoardPose(rotation, translation, rms)


def _ground_frame_in_optical(pose: BoardPose, board_centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A board-aligned frame on the floor: origin at the board centre, z up, x the board
    direction nearest the camera's view direction. Returns (R_optical_from_ground, origin)."""
    centre = pose.rotation @ board_centre + pose.translation
    up = pose.rotation[:, 2]
    if float(up @ (-centre)) < 0:  # the normal must point at the camera, i.e. up
        up = -up
    view = np.array([0.0, 0.0, 1.0])
    forward_on_floor = view - (view @ up) * up
    if np.linalg.norm(forward_on_floor) < 0.2:
        raise CalibrationError(
            "the camera looks (almost) straight down at the board: the rover's forward direction "
            "cannot be told from the board; use measured values instead"
        )
    candidates = [pose.rotation[:, 0], -pose.rotation[:, 0], pose.rotation[:, 1], -pose.rotation[:, 1]]
    scores = np.array([c @ forward_on_floor for c in candidates]) / np.linalg.norm(forward_on_floor)
    order = np.argsort(scores)[::-1]
    # Best and runner-up nearly tied: the camera yaw relative to the board is close to 45°.
    if (
        math.degrees(math.acos(min(1.0, scores[order[1]])))
        - math.degrees(math.acos(min(1.0, scores[order[0]])))
        < 20
    ):
        raise CalibrationError(
            "the board is turned about 45° to the camera's view: lay it square to the rover "
            "(or give its yaw) so its forward edge is unambiguous"
        )
    x_axis = candidates[order[0]]
    y_axis = np.cross(up, x_axis)
    return np.column_stack([x_axis, y_axis, up]), centre


def extrinsics_from_board_pose(
    pose: BoardPose,
    board_centre: np.ndarray,
    placement: GroundBoardPlacement,
    parent_frame: str = "base_link",
    child_frame: str = "camera_link",
) -> CameraExtrinsics:
    """Camera pose in base_link from the board's pose in the camera and its placement on the floor."""
    r_opt_ground, ground_origin_opt = _ground_frame_in_optical(
        pose, np.asarray(board_centre, dtype=np.float64)
    )
    r_base_ground = rotation_from_rpy(0.0, 0.0, placement.yaw)
    t_base_ground = np.array([placement.centre_x, placement.centre_y, placement.thickness])
    r_base_opt = r_base_ground @ r_opt_ground.T
    camera_in_base = t_base_ground - r_base_opt @ ground_origin_opt
    r_base_link = r_base_opt @ R_LINK_FROM_OPTICAL.T
    return CameraExtrinsics(
        tuple(camera_in_base),
        rpy_from_rotation(r_base_link),
        parent_frame=parent_frame,
        child_frame=child_frame,
    )


def average_extrinsics(estimates: Sequence[CameraExtrinsics]) -> CameraExtrinsics:
    """Mean translation and the rotation nearest the mean rotation matrix (chordal mean)."""
    if not estimates:
        raise CalibrationError("no extrinsics to average")
    translation = np.mean([e.origin for e in estimates], axis=0)
    mean_rotation = np.mean([e.rotation_base_from_link for e in estimates], axis=0)
    u, _, vt = np.linalg.svd(mean_rotation)
    rotation = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    first = estimates[0]
    return CameraExtrinsics(
        tuple(translation), rpy_from_rotation(rotation), first.parent_frame, first.child_frame
    )


def extrinsics_spread(estimates: Sequence[CameraExtrinsics]) -> dict[str, float]:
    """Standard deviation across views of height (m) and roll/pitch/yaw (degrees)."""
    if len(estimates) < 2:
        return {"x_m": 0.0, "y_m": 0.0, "z_m": 0.0, "roll_deg": 0.0, "pitch_deg": 0.0, "yaw_deg": 0.0}
    t = np.array([e.translation for e in estimates])
    r = np.degrees(np.array([e.rotation_rpy for e in estimates]))
    std_t, std_r = t.std(axis=0), r.std(axis=0)
    return {
        "x_m": float(std_t[0]),
        "y_m": float(std_t[1]),
        "z_m": float(std_t[2]),
        "roll_deg": float(std_r[0]),
        "pitch_deg": float(std_r[1]),
        "yaw_deg": float(std_r[2]),
    }


def extrinsics_problems(
    ext: CameraExtrinsics, poses: Sequence[BoardPose], max_rms_px: float = 1.0
) -> list[str]:
    """Every reason this mounting must not be written (empty: good)."""
    problems = []
    worst = max((p.rms_px for p in poses), default=0.0)
    if worst > max_rms_px:
        problems.append(
            f"board reprojection error {worst:.2f} px > {max_rms_px} px: wrong camera_info for this camera "
            "or resolution, wrong --size/--square, or the board is not flat"
        )
    height = ext.translation[2]
    if not 0.02 < height < 5.0:
        problems.append(
            f"camera height {height:.3f} m is implausible: check --board-x/--board-thickness and --square"
        )
    roll, pitch, _ = ext.rotation_rpy
    if abs(math.degrees(roll)) > 30 or not -30 < math.degrees(pitch) < 89:
        problems.append(
            f"roll {math.degrees(roll):.1f}°, pitch {math.degrees(pitch):.1f}°: implausible for a forward "
            "camera: check the board lies flat and in front of the rover"
        )
    return problems


def static_transform_command(ext: CameraExtrinsics) -> str:
    """The tf2_ros line that publishes base_link → camera_link (Jazzy/Humble named arguments)."""
    (x, y, z), (roll, pitch, yaw) = ext.translation, ext.rotation_rpy
    return (
        f"ros2 run tf2_ros static_transform_publisher --x {x:.4f} --y {y:.4f} --z {z:.4f} "
        f"--roll {roll:.5f} --pitch {pitch:.5f} --yaw {yaw:.5f} "
        f"--frame-id {ext.parent_frame} --child-frame-id {ext.child_frame}"
    )


def optical_transform_command(
    link_frame: str = "camera_link", optical_frame: str = "camera_optical_frame"
) -> str:
    """camera_link → camera_optical_frame (fixed by REP-103), for users who publish the whole chain."""
    roll, pitch, yaw = OPTICAL_RPY_IN_LINK
    return (
        f"ros2 run tf2_ros static_transform_publisher --roll {roll:.5f} --pitch {pitch:.5f} --yaw {yaw:.5f} "
        f"--frame-id {link_frame} --child-frame-id {optical_frame}"
    )
