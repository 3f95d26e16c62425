"""Intrinsic calibration on rendered boards with a known camera (the simulator's target renderer).

The renderer draws through ``edge_rover.common.camera_model`` with known K and distortion, so the
calibration must give them back: K within 1 %, and the distortion it models (the pixel shift
it applies across the image) within 1 % of the true shift.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_rover.calibration.boards import BoardDetection, CharucoTarget, Checkerboard, SkipReason
from edge_rover.calibration.calibration_io import load_camera_info
from edge_rover.calibration.frame_selection import CoverageSelector
from edge_rover.calibration.image_sources import Frame, ImageSizeGuard, VideoSource
from edge_rover.calibration.intrinsic_calibration import CalibrationOptions, IntrinsicResult, calibrate
from edge_rover.calibration.intrinsics_cli import collect_views, main
from edge_rover.calibration.rectify import undistort_image
from edge_rover.common.camera_model import CalibrationError, CameraIntrinsics
from edge_rover.simulation.calibration_targets import (
    CheckerPattern,
    TargetRenderer,
    default_sim_camera,
    random_board_views,
)

PATTERN = CheckerPattern(9, 6, 0.04, 0.04)
BOARD = Checkerboard(9, 6, 0.04)


def _fisheye_camera() -> CameraIntrinsics:
    k = np.array([[300.0, 0.0, 318.0], [0.0, 301.0, 242.0], [0.0, 0.0, 1.0]])
    return CameraIntrinsics(640, 480, k, np.array([0.05, -0.02, 0.004, -0.001]), "equidistant")


def _render_set(
    camera: CameraIntrinsics, count: int, seed: int, centre_range: tuple[float, float] = (0.1, 0.9)
) -> tuple[list[np.ndarray], list]:
    renderer = TargetRenderer(camera)
    views = random_board_views(camera, PATTERN, count, seed=seed, max_tilt_deg=45, centre_range=centre_range)
    images = [renderer.render(PATTERN, r, t, noise_std=1.0, seed=i) for i, (r, t) in enumerate(views)]
    return images, views


def _detect_all(images: list[np.ndarray]) -> list[BoardDetection]:
    detections = [BOARD.detect(image, 5.0) for image in images]
    return [d for d in detections if isinstance(d, BoardDetection)]


@pytest.fixture(scope="module")
def pinhole_set():
    camera = default_sim_camera()
    images, views = _render_set(camera, 20, seed=1)
    return camera, images, views


@pytest.fixture(scope="module")
def pinhole_calibration(pinhole_set) -> tuple[IntrinsicResult, list[BoardDetection]]:
    _, images, _ = pinhole_set
    detections = _detect_all(images)
    assert len(detections) >= 18
    return calibrate(detections, (640, 480)), detections


@pytest.fixture(scope="module")
def fisheye_result() -> tuple[CameraIntrinsics, IntrinsicResult, list[BoardDetection]]:
    camera = _fisheye_camera()
    images, _ = _render_set(camera, 18, seed=2, centre_range=(0.2, 0.8))
    detections = _detect_all(images)
    assert len(detections) >= 15
    return camera, calibrate(detections, (640, 480), CalibrationOptions("fisheye")), detections


def _distortion_shift(camera: CameraIntrinsics) -> np.ndarray:
    """Pixel shift the lens applies to a grid of rays spread over the true image."""
    u, v = np.meshgrid(np.linspace(40, 600, 15), np.linspace(40, 440, 11))
    rays = camera.unproject(np.column_stack([u.ravel(), v.ravel()]))
    distorted, _ = camera.project(rays)
    pinhole = rays[:, :2] / rays[:, 2:] * [camera.fx, camera.fy] + [camera.cx, camera.cy]
    return rays, distorted - pinhole


def _assert_recovered(
    true: CameraIntrinsics, estimated: CameraIntrinsics, detections: list[BoardDetection]
) -> None:
    """K within 1 %; the lens's pixel shift within 1 % of its largest value, over the part of the
    image the board views covered (beyond it any calibration only extrapolates)."""
    for name in ("fx", "fy", "cx", "cy"):
        assert getattr(estimated, name) == pytest.approx(getattr(true, name), rel=0.01), name
    rays, true_shift = _distortion_shift(true)
    hull = cv2.convexHull(np.concatenate([d.image_points for d in detections]).astype(np.float32))
    pixels, _ = true.project(rays)
    covered = np.array([cv2.pointPolygonTest(hull, (float(u), float(v)), False) >= 0 for u, v in pixels])
    assert covered.sum() >= 80  # about half of the 165 test points, the corners excepted
    rays, true_shift = rays[covered], true_shift[covered]
    estimated_pixels, _ = estimated.project(rays)
    estimated_shift = estimated_pixels - (
        rays[:, :2] / rays[:, 2:] * [estimated.fx, estimated.fy] + [estimated.cx, estimated.cy]
    )
    error = np.linalg.norm(estimated_shift - true_shift, axis=1).max()
    assert error <= 0.01 * np.linalg.norm(true_shift, axis=1).max()


def test_renderer_puts_corners_where_the_camera_model_does(pinhole_set) -> None:
    camera, images, views = pinhole_set
    checked = 0
    for image, (rotation, translation) in zip(images, views, strict=True):
        detection = BOARD.detect(image)
        if not isinstance(detection, BoardDetection):
            continue
        checked += 1
        truth, _ = camera.project(BOARD.object_points() @ rotation.T + translation)
        error = min(
            np.abs(detection.image_points - truth).max(), np.abs(detection.image_points[::-1] - truth).max()
        )
        assert error < 0.15
    assert checked >= 18


def test_pinhole_radtan_is_recovered_within_one_percent(pinhole_set, pinhole_calibration) -> None:
    camera, _, _ = pinhole_set
    result, detections = pinhole_calibration
    assert result.rms_px < 0.15
    assert result.intrinsics.distortion_model == "plumb_bob"
    _assert_recovered(camera, result.intrinsics, detections)


def test_fisheye_is_recovered_within_one_percent(fisheye_result) -> None:
    camera, result, detections = fisheye_result
    assert result.intrinsics.distortion_model == "equidistant"
    assert result.rms_px < 0.4
    _assert_recovered(camera, result.intrinsics, detections)


def test_undistorted_preview_makes_board_rows_straight(pinhole_set, pinhole_calibration) -> None:
    _, images, _ = pinhole_set
    intrinsics = pinhole_calibration[0].intrinsics
    pairs = [
        (BOARD.detect(image), BOARD.detect(undistort_image(image, intrinsics)[0])) for image in images[:10]
    ]
    pairs = [(a, b) for a, b in pairs if isinstance(a, BoardDetection) and isinstance(b, BoardDetection)]
    assert len(pairs) >= 8

    def worst_row_bow(detection: BoardDetection) -> float:
        worst = 0.0
        for row in detection.image_points.reshape(6, 9, 2):
            direction = (row[-1] - row[0]) / np.linalg.norm(row[-1] - row[0])
            normal = np.array([-direction[1], direction[0]])
            worst = max(worst, float(np.abs((row - row[0]) @ normal).max()))
        return worst

    # Rows bow by pixels in the raw images (most where the board is off-centre), not once undistorted.
    assert max(worst_row_bow(raw) for raw, _ in pairs) > 1.0
    assert max(worst_row_bow(straight) for _, straight in pairs) < 0.3


def test_blurred_and_partly_visible_boards_are_skipped_and_counted(pinhole_set) -> None:
    camera, images, views = pinhole_set
    renderer = TargetRenderer(camera)
    rotation, translation = views[0]
    blurred = renderer.render(PATTERN, rotation, translation, blur_sigma=3.0)
    # Slide the board sideways until its centre sits on the left image border: half of it is out.
    centre = rotation @ PATTERN.centre() + translation
    on_border = camera.unproject(np.array([[0.0, camera.cy]]))[0]
    half_out = renderer.render(PATTERN, rotation, translation + on_border / on_border[2] * centre[2] - centre)
    frames = [Frame("sharp0", images[0]), Frame("blurred", blurred), Frame("half_out", half_out)]
    frames += [Frame(f"sharp{i}", images[i]) for i in range(1, 4)]
    found = collect_views(frames, BOARD, CoverageSelector(0.0), 5.0)
    assert found.names == ["sharp0", "sharp1", "sharp2", "sharp3"]
    # A blurred board is either found and measured too soft, or not found at all; half a board
    # is never found (or found touching the border): both are counted, neither is used.
    assert "blurred" in found.skipped.get("blurred", []) + found.skipped.get("no_board", [])
    assert "half_out" in found.skipped.get("no_board", []) + found.skipped.get("at_edge", [])
    assert sum(len(v) for v in found.skipped.values()) == 2


def test_mixed_image_sizes_are_refused_with_a_clear_error(tmp_path: Path, capsys) -> None:
    guard = ImageSizeGuard()
    guard.check(Frame("a.png", np.zeros((480, 640), np.uint8)))
    with pytest.raises(CalibrationError, match=r"mixed sizes: b.png is 320x240 but a.png is 640x480"):
        guard.check(Frame("b.png", np.zeros((240, 320), np.uint8)))
    cv2.imwrite(str(tmp_path / "a.png"), np.full((480, 640), 128, np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.full((240, 320), 128, np.uint8))
    code = main(
        ["--images", str(tmp_path), "--size", "9x6", "--square", "0.04", "--out", str(tmp_path / "c.yaml")]
    )
    assert code == 1 and not (tmp_path / "c.yaml").exists()
    assert "mixed sizes" in capsys.readouterr().err


def test_video_source_selects_views_for_coverage(pinhole_set, tmp_path: Path) -> None:
    """A video holding each pose for 3 frames: repeats are skipped as redundant, K still recovered."""
    camera, images, _ = pinhole_set
    path = tmp_path / "board.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    for image in images:
        for _ in range(3):
            writer.write(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    writer.release()
    assert len(VideoSource(path)) == 60
    out = tmp_path / "video.yaml"
    args = ["--video", str(path), "--size", "9x6", "--square", "0.04", "--report-dir", str(tmp_path / "r")]
    assert main([*args, "--out", str(out)]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    # Each pose is held for 3 frames: at least the 2 repeats of every used view are redundant.
    assert report["skipped"]["redundant"]["count"] >= 2 * report["views_used"]
    assert 8 <= report["views_used"] <= 20
    estimated = load_camera_info(str(out))
    for name in ("fx", "fy", "cx", "cy"):
        assert getattr(estimated, name) == pytest.approx(getattr(camera, name), rel=0.01), name
    # The live-camera path (OpenCV opens the file like a camera): reads until covered or max frames.
    live = tmp_path / "live.yaml"
    assert (
        main(
            [
                "--camera",
                str(path),
                "--max-frames",
                "60",
                "--size",
                "9x6",
                "--square",
                "0.04",
                "--out",
                str(live),
            ]
        )
        == 0
    )
    assert load_camera_info(str(live)).fx == pytest.approx(camera.fx, rel=0.01)


def test_interrupted_capture_keeps_what_it_collected(pinhole_set) -> None:
    """Ctrl-C during live capture ends collection; the views so far are kept for calibration."""
    _, images, _ = pinhole_set

    def frames():
        for index, image in enumerate(images[:5]):
            yield Frame(f"f{index}", image)
        raise KeyboardInterrupt

    found = collect_views(frames(), BOARD, CoverageSelector(0.0), 5.0)
    assert found.interrupted and len(found.detections) == 5


def test_charuco_board_calibrates_from_partial_views() -> None:
    """ChArUco views made by warping OpenCV's own board image with pinhole homographies."""
    target = CharucoTarget(7, 5, 0.04, 0.03)
    pixels_per_metre = 2500.0
    board_image = target.generate_image(
        int(7 * 0.04 * pixels_per_metre), int(5 * 0.04 * pixels_per_metre), margin=0
    )
    k = np.array([[520.0, 0.0, 316.0], [0.0, 522.0, 244.0], [0.0, 0.0, 1.0]])
    metres_from_board_px = np.diag([1 / pixels_per_metre, 1 / pixels_per_metre, 1.0])
    rng = np.random.default_rng(3)
    detections, partial = [], 0
    for index in range(14):
        rvec = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(-0.3, 0.3)])
        rotation, _ = cv2.Rodrigues(rvec)
        shift = rng.uniform(-0.1, 0.1, 2) if index % 4 else np.array([0.18, 0.0])  # every 4th: partly out
        translation = np.array([shift[0] - 0.14, shift[1] - 0.1, 0.45])
        homography = k @ np.column_stack([rotation[:, 0], rotation[:, 1], translation]) @ metres_from_board_px
        canvas = cv2.warpPerspective(board_image, homography, (640, 480), borderValue=200)
        detection = target.detect(canvas)
        if isinstance(detection, BoardDetection):
            detections.append(detection)
            partial += len(detection.image_points) < target.corner_count
        else:
            assert detection.reason in (SkipReason.PARTIAL, SkipReason.AT_EDGE, SkipReason.NO_BOARD)
    assert len(detections) >= 9
    result = calibrate(detections, (640, 480), CalibrationOptions(zero_tangent=True, fix_k3=True))
    assert result.rms_px < 0.5
    assert result.intrinsics.fx == pytest.approx(520.0, rel=0.01)
    assert result.intrinsics.cy == pytest.approx(244.0, rel=0.01)
