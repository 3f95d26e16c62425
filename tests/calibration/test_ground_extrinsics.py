"""Camera mounting from a checkerboard on the ground, checked on renders from known mountings."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_rover.calibration.boards import BoardDetection, Checkerboard
from edge_rover.calibration.calibration_io import load_extrinsics, save_camera_info
from edge_rover.calibration.extrinsics_cli import main
from edge_rover.calibration.ground_extrinsics import (
    OPTICAL_RPY_IN_LINK,
    BoardPose,
    GroundBoardPlacement,
    average_extrinsics,
    extrinsics_from_board_pose,
    extrinsics_problems,
    solve_board_pose,
    static_transform_command,
)
from edge_rover.calibration.rectify import GroundView, birdseye_image
from edge_rover.common.camera_model import (
    R_LINK_FROM_OPTICAL,
    CalibrationError,
    CameraExtrinsics,
    CameraIntrinsics,
    CameraRig,
    rotation_from_rpy,
)
from edge_rover.simulation.calibration_targets import (
    CheckerPattern,
    TargetRenderer,
    default_sim_camera,
    ground_board_pose,
)

PATTERN = CheckerPattern(9, 6, 0.08, 0.04)
BOARD = Checkerboard(9, 6, 0.08)


def _fisheye() -> CameraIntrinsics:
    k = np.array([[300.0, 0.0, 318.0], [0.0, 301.0, 242.0], [0.0, 0.0, 1.0]])
    return CameraIntrinsics(640, 480, k, np.array([0.05, -0.02, 0.004, -0.001]), "equidistant")


_RENDERERS: dict[str, TargetRenderer] = {}


def _renderer(kind: str) -> TargetRenderer:
    if kind not in _RENDERERS:
        _RENDERERS[kind] = TargetRenderer(default_sim_camera() if kind == "radtan" else _fisheye())
    return _RENDERERS[kind]


def _render(kind: str, mount: CameraExtrinsics, placement: GroundBoardPlacement, seed: int = 0) -> np.ndarray:
    rotation, translation = ground_board_pose(
        PATTERN, placement.centre_x, placement.centre_y, placement.yaw, placement.thickness
    )
    return _renderer(kind).render_ground(PATTERN, mount, rotation, translation, noise_std=1.0, seed=seed)


def _solve(kind: str, image: np.ndarray, placement: GroundBoardPlacement) -> CameraExtrinsics:
    detection = BOARD.detect(image)
    assert isinstance(detection, BoardDetection), detection
    pose = solve_board_pose(_renderer(kind).intrinsics, detection)
    assert pose.rms_px < 0.3
    return extrinsics_from_board_pose(pose, BOARD.centre(), placement)


MOUNTINGS = [
    ("radtan", (0.2, 0.0, 0.6), (0.0, 0.12, 0.0), GroundBoardPlacement(1.5)),
    ("radtan", (0.35, 0.05, 0.45), (0.02, 0.25, -0.05), GroundBoardPlacement(1.5, 0.1, 0.0, 0.005)),
    ("radtan", (0.1, -0.04, 0.8), (-0.015, 0.3, 0.06), GroundBoardPlacement(1.5, -0.1, math.radians(8))),
    ("fisheye", (0.25, 0.02, 0.55), (0.01, 0.2, -0.03), GroundBoardPlacement(1.5)),
]


@pytest.mark.parametrize(("kind", "translation", "rpy", "placement"), MOUNTINGS)
def test_ground_board_recovers_the_mounting(kind, translation, rpy, placement) -> None:
    truth = CameraExtrinsics(translation, rpy)
    estimate = _solve(kind, _render(kind, truth, placement), placement)
    assert estimate.translation[2] == pytest.approx(truth.translation[2], abs=0.01)  # height within 1 cm
    errors_deg = np.degrees(np.abs(np.subtract(estimate.rotation_rpy, truth.rotation_rpy)))
    assert errors_deg[1] < 0.3  # pitch
    assert errors_deg[0] < 0.5 and errors_deg[2] < 0.5  # roll, yaw
    np.testing.assert_allclose(estimate.translation[:2], truth.translation[:2], atol=0.02)
    assert (
        extrinsics_problems(
            estimate,
            [solve_board_pose(_renderer(kind).intrinsics, BOARD.detect(_render(kind, truth, placement)))],
        )
        == []
    )


def test_corner_order_does_not_flip_the_answer() -> None:
    """OpenCV may number the corners from either end; the forward edge is found geometrically."""
    placement = GroundBoardPlacement(1.5)
    truth = CameraExtrinsics((0.2, 0.0, 0.6), (0.0, 0.12, 0.0))
    detection = BOARD.detect(_render("radtan", truth, placement))
    reversed_detection = BoardDetection(detection.image_points[::-1].copy(), detection.object_points)
    intrinsics = _renderer("radtan").intrinsics
    a = extrinsics_from_board_pose(solve_board_pose(intrinsics, detection), BOARD.centre(), placement)
    b = extrinsics_from_board_pose(
        solve_board_pose(intrinsics, reversed_detection), BOARD.centre(), placement
    )
    np.testing.assert_allclose(a.translation, b.translation, atol=1e-6)
    np.testing.assert_allclose(a.rotation_rpy, b.rotation_rpy, atol=1e-6)


def test_board_turned_45_degrees_is_refused() -> None:
    """At 45° no board edge is "forward": refused rather than guessed."""
    truth = CameraExtrinsics((0.2, 0.0, 0.6), (0.0, 0.12, 0.0))
    placement = GroundBoardPlacement(1.5)
    pose = solve_board_pose(_renderer("radtan").intrinsics, BOARD.detect(_render("radtan", truth, placement)))
    centre = BOARD.centre()
    for turn_deg, refused in ((40, True), (45, True), (20, False)):
        turned = pose.rotation @ rotation_from_rpy(0.0, 0.0, math.radians(turn_deg))
        shifted = pose.translation + pose.rotation @ centre - turned @ centre  # turn about the centre
        turned_pose = BoardPose(turned, shifted, pose.rms_px)
        if refused:
            with pytest.raises(CalibrationError, match="45°"):
                extrinsics_from_board_pose(turned_pose, centre, placement)
        else:
            yaw = extrinsics_from_board_pose(turned_pose, centre, placement).rotation_rpy[2]
            assert abs(math.degrees(yaw)) == pytest.approx(20, abs=0.01)


def test_several_views_are_averaged() -> None:
    truth = CameraExtrinsics((0.2, 0.0, 0.6), (0.0, 0.12, 0.0))
    placement = GroundBoardPlacement(1.5)
    estimates = [_solve("radtan", _render("radtan", truth, placement, seed=s), placement) for s in range(3)]
    mean = average_extrinsics(estimates)
    assert mean.translation[2] == pytest.approx(0.6, abs=0.01)
    assert math.degrees(abs(mean.rotation_rpy[1] - 0.12)) < 0.3


def test_static_transform_line_and_optical_frame_follow_rep103() -> None:
    ext = CameraExtrinsics((0.2, -0.01, 0.6), (0.01, 0.12, -0.02))
    line = static_transform_command(ext)
    values = dict(re.findall(r"--([a-z-]+) (\S+)", line))
    assert line.startswith("ros2 run tf2_ros static_transform_publisher ")
    assert (values["frame-id"], values["child-frame-id"]) == ("base_link", "camera_link")
    np.testing.assert_allclose([float(values[k]) for k in ("x", "y", "z")], ext.translation, atol=1e-4)
    np.testing.assert_allclose(
        [float(values[k]) for k in ("roll", "pitch", "yaw")], ext.rotation_rpy, atol=1e-5
    )
    np.testing.assert_allclose(rotation_from_rpy(*OPTICAL_RPY_IN_LINK), R_LINK_FROM_OPTICAL, atol=1e-12)


def test_birdseye_shows_floor_lines_straight_and_where_they_are() -> None:
    """The floor's painted lines at y = ±0.5 m come out as straight columns at ±0.5 m."""
    truth = CameraExtrinsics((0.2, 0.0, 0.6), (0.0, 0.12, 0.0))
    image = _render("radtan", truth, GroundBoardPlacement(1.5))
    view = GroundView(x_min=2.2, x_max=3.8, y_half_width=1.0, resolution=0.01)
    top = birdseye_image(image, CameraRig(_renderer("radtan").intrinsics, truth), view).astype(float)
    expected_cols = view.to_pixel(np.array([[3.0, 0.5], [3.0, -0.5]]))[:, 0]
    for band in np.array_split(top, 4, axis=0):  # the line must be in place at every distance
        profile = band.mean(axis=0)
        left, right = np.argmax(profile[:100]), 100 + np.argmax(profile[100:])
        np.testing.assert_allclose([left, right], expected_cols, atol=2.0)  # 2 cm


@pytest.fixture(scope="module")
def ground_files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ground")
    save_camera_info(_renderer("radtan").intrinsics, folder / "camera_info.yaml")
    truth = CameraExtrinsics((0.2, 0.0, 0.6), (0.0, 0.12, 0.0))
    for seed in range(2):
        cv2.imwrite(
            str(folder / f"ground{seed}.png"), _render("radtan", truth, GroundBoardPlacement(1.5), seed)
        )
    return folder


def test_cli_board_mode_writes_extrinsics_report_and_tf_line(
    ground_files: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "extrinsics.yaml"
    code = main(
        ["board", "--images", str(ground_files / "ground0.png"), str(ground_files / "ground1.png"),
         "--camera-info", f"file://{ground_files / 'camera_info.yaml'}", "--size", "9x6", "--square", "0.08",
         "--board-x", "1.5", "--out", str(out), "--report-dir", str(tmp_path / "report")]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    ext = load_extrinsics(str(out))
    assert ext.translation[2] == pytest.approx(0.6, abs=0.01)
    assert math.degrees(abs(ext.rotation_rpy[1] - 0.12)) < 0.3
    assert "ros2 run tf2_ros static_transform_publisher --x 0.2" in printed
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert len(report["views"]) == 2 and report["problems"] == []
    assert cv2.imread(str(tmp_path / "report" / "birdseye.png")) is not None


def test_cli_refuses_images_of_another_resolution(ground_files: Path, tmp_path: Path, capsys) -> None:
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), cv2.resize(cv2.imread(str(ground_files / "ground0.png")), (320, 240)))
    args = ["--camera-info", str(ground_files / "camera_info.yaml"), "--size", "9x6", "--square", "0.08"]
    code = main(
        ["board", "--images", str(small), *args, "--board-x", "1.5", "--out", str(tmp_path / "e.yaml")]
    )
    assert code == 1 and not (tmp_path / "e.yaml").exists()
    assert "320x240 but the camera_info is for 640x480" in capsys.readouterr().err


def test_cli_measured_mode_converts_degrees(tmp_path: Path, capsys) -> None:
    out = tmp_path / "measured.yaml"
    code = main(
        ["measured", "--x", "0.2", "--z", "0.6", "--pitch-deg", "6.875", "--yaw-deg", "-1", "--out", str(out)]
    )
    assert code == 0
    ext = load_extrinsics(str(out))
    assert ext.translation == (0.2, 0.0, 0.6)
    np.testing.assert_allclose(ext.rotation_rpy, (0.0, math.radians(6.875), math.radians(-1)))
    assert "--pitch 0.11999" in capsys.readouterr().out
