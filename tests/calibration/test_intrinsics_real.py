"""Intrinsic calibration on real photos: OpenCV's sample chessboard set (9×6 inner corners).

OpenCV's own result for this set (``left_intrinsics.yml``, made by its calibration sample):
fx = fy = 535.92, cx = 342.28, cy = 235.57, RMS 0.39 px.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from edge_rover.calibration.boards import Checkerboard, Skip, SkipReason, to_gray
from edge_rover.calibration.calibration_io import load_camera_info
from edge_rover.calibration.frame_selection import CoverageSelector
from edge_rover.calibration.image_sources import FolderSource
from edge_rover.calibration.intrinsic_calibration import calibrate, quality_problems
from edge_rover.calibration.intrinsics_cli import collect_views, main

BOARD = Checkerboard(9, 6, 0.025)


@pytest.fixture(scope="module")
def calib_dir(shared_data: Path) -> Path:
    folder = shared_data / "images" / "calib"
    if not (folder / "left01.jpg").is_file():
        pytest.skip(f"chessboard images not found in {folder}")
    return folder


@pytest.fixture(scope="module")
def reference(calib_dir: Path) -> dict[str, float]:
    text = (calib_dir / "left_intrinsics.yml").read_text()
    data = yaml.safe_load(text.replace("%YAML:1.0", "").replace("!!opencv-matrix", ""))
    k = data["camera_matrix"]["data"]
    return {"fx": k[0], "fy": k[4], "cx": k[2], "cy": k[5], "rms": data["avg_reprojection_error"]}


@pytest.fixture(scope="module")
def collected(calib_dir: Path):
    return collect_views(FolderSource(calib_dir, "left*.jpg"), BOARD, CoverageSelector(0.0), 5.0)


@pytest.fixture(scope="module")
def result(collected):
    return calibrate(collected.detections, collected.image_size)


def test_every_real_view_is_found_sharp_and_used(collected) -> None:
    assert len(collected.detections) == 13
    assert collected.skipped == {}
    assert collected.image_size == (640, 480)
    assert all(d.sharpness_px is not None and d.sharpness_px < 4.0 for d in collected.detections)


def test_real_images_match_opencv_reference(result, reference) -> None:
    intr = result.intrinsics
    assert result.rms_px < 0.5
    for name in ("fx", "fy", "cx", "cy"):
        assert getattr(intr, name) == pytest.approx(reference[name], abs=2.0), name
    assert intr.distortion[0] == pytest.approx(-0.266, abs=0.02)  # strong barrel distortion
    assert quality_problems(result) == []


def test_per_view_errors_single_out_the_known_worst_view(result, collected) -> None:
    # OpenCV's reference run also finds left02 the worst view (1.18 px there).
    assert len(result.per_view_rms_px) == 13
    worst = collected.names[int(np.argmax(result.per_view_rms_px))]
    assert worst == "left02.jpg"
    assert np.sqrt(np.mean(result.per_view_rms_px**2)) == pytest.approx(result.rms_px, rel=0.05)


def test_blurred_real_image_is_skipped_and_counted(calib_dir: Path, tmp_path: Path) -> None:
    image = cv2.imread(str(calib_dir / "left01.jpg"), cv2.IMREAD_GRAYSCALE)
    detection = BOARD.detect(cv2.GaussianBlur(image, (0, 0), 3.0), max_edge_width_px=5.0)
    assert getattr(detection, "reason", None) in (SkipReason.BLURRED, SkipReason.NO_BOARD)
    sharp = BOARD.detect(image, max_edge_width_px=5.0)
    assert sharp.sharpness_px < 4.0


@pytest.fixture(scope="module")
def cli_run(calib_dir: Path, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    code = main(
        [
            "--images",
            str(calib_dir),
            "--pattern",
            "left*.jpg",
            "--size",
            "9x6",
            "--square",
            "0.025",
            "--camera-name",
            "left",
            "--out",
            str(out / "left.yaml"),
            "--report-dir",
            str(out / "report"),
        ]
    )
    return code, out


def test_cli_writes_camera_info_that_loads_by_url(cli_run, reference) -> None:
    code, out = cli_run
    assert code == 0
    intr = load_camera_info(f"file://{out / 'left.yaml'}")
    assert (intr.width, intr.height, intr.camera_name) == (640, 480, "left")
    assert intr.fx == pytest.approx(reference["fx"], abs=2.0)
    raw = yaml.safe_load((out / "left.yaml").read_text())
    assert raw["projection_matrix"]["rows"] == 3 and raw["projection_matrix"]["cols"] == 4
    assert raw["rectification_matrix"]["data"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]


def test_cli_report_has_errors_coverage_and_pictures(cli_run) -> None:
    _, out = cli_run
    report = json.loads((out / "report" / "report.json").read_text())
    assert report["written"] and report["rms_px"] < 0.5
    assert set(report["per_view_rms_px"]) == {f"left{i:02d}.jpg" for i in range(1, 15) if i != 10}
    assert report["coverage_progress"]["size"] == 1.0
    for name in ("coverage.png", "undistorted.png"):
        image = cv2.imread(str(out / "report" / name))
        assert image is not None and image.shape[0] >= 480


def test_cli_refuses_a_bad_rms_and_writes_nothing(calib_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cam.yaml"
    args = ["--images", str(calib_dir), "--pattern", "left*.jpg", "--size", "9x6", "--square", "0.025"]
    code = main([*args, "--max-rms", "0.1", "--out", str(out)])
    assert code == 1 and not out.exists()
    assert "RMS reprojection error" in capsys.readouterr().err


def test_cli_refuses_too_few_views(calib_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cam.yaml"
    args = ["--images", str(calib_dir), "--pattern", "left0[1-5].jpg", "--size", "9x6", "--square", "0.025"]
    code = main([*args, "--out", str(out)])
    assert code == 1 and not out.exists()
    assert "only 5 usable views" in capsys.readouterr().err


def test_wrong_board_size_finds_no_board_and_says_so(calib_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cam.yaml"
    args = ["--images", str(calib_dir), "--pattern", "left0[1-3].jpg", "--size", "10x7", "--square", "0.025"]
    code = main([*args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert "3: board not found" in " ".join(err.split()) and "INNER corner" in err


def test_folder_source_reads_16_bit_and_grey_files_as_8_bit_bgr(calib_dir: Path, tmp_path: Path) -> None:
    grey = cv2.imread(str(calib_dir / "left01.jpg"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(tmp_path / "a16.png"), grey.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "b8.png"), grey)
    frames = list(FolderSource(tmp_path))
    assert [f.name for f in frames] == ["a16.png", "b8.png"]
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.shape == (480, 640, 3)
        assert not isinstance(BOARD.detect(to_gray(frame.image)), Skip)
