"""Calibration accuracy: real chessboard photos against OpenCV's reference, rendered boards
against the known camera, and ground-board extrinsics against the known mounting.

Writes benchmarks/results/calibration_accuracy.json (machine, versions, parameters, figures)
and prints Markdown tables. Needs ../shared/data/images/calib for the real-image rows.

    python benchmarks/calibration_accuracy.py
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_rover.calibration.boards import BoardDetection, Checkerboard
from edge_rover.calibration.frame_selection import CoverageSelector
from edge_rover.calibration.ground_extrinsics import (
    GroundBoardPlacement,
    extrinsics_from_board_pose,
    solve_board_pose,
)
from edge_rover.calibration.image_sources import FolderSource
from edge_rover.calibration.intrinsic_calibration import CalibrationOptions, calibrate
from edge_rover.calibration.intrinsics_cli import collect_views
from edge_rover.common.camera_model import CameraExtrinsics, CameraIntrinsics
from edge_rover.simulation.calibration_targets import (
    CheckerPattern,
    TargetRenderer,
    default_sim_camera,
    ground_board_pose,
    random_board_views,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "calibration_accuracy.json"
CALIB_DIR = ROOT.parent / "shared" / "data" / "images" / "calib"


def _reference() -> dict[str, float]:
    text = (CALIB_DIR / "left_intrinsics.yml").read_text()
    data = yaml.safe_load(text.replace("%YAML:1.0", "").replace("!!opencv-matrix", ""))
    k = data["camera_matrix"]["data"]
    return {"fx": k[0], "fy": k[4], "cx": k[2], "cy": k[5], "rms_px": data["avg_reprojection_error"]}


def _opencv_sample_recipe(paths: list[Path]) -> dict[str, float]:
    """OpenCV's calibration sample: fixed 11×11 cornerSubPix, CALIB_FIX_ASPECT_RATIO."""
    objects, images = [], []
    board = Checkerboard(9, 6, 0.025)
    for path in paths:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        ok, corners = cv2.findChessboardCorners(gray, (9, 6))
        if not ok:
            continue
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.0001)
        corners = cv2.cornerSubPix(gray, corners, (11, 11), (-1, -1), criteria)
        objects.append(board.object_points().astype(np.float32))
        images.append(corners)
    rms, k, _, _, _ = cv2.calibrateCamera(
        objects, images, (640, 480), np.eye(3), None, flags=cv2.CALIB_FIX_ASPECT_RATIO
    )
    return {"fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2], "rms_px": rms}


def real_images() -> list[dict]:
    if not (CALIB_DIR / "left01.jpg").is_file():
        return []
    reference = _reference()
    rows = [{"method": "OpenCV reference (left_intrinsics.yml)", **reference}]
    found = collect_views(
        FolderSource(CALIB_DIR, "left*.jpg"), Checkerboard(9, 6, 0.025), CoverageSelector(0.05), 5.0
    )
    for label, options in (
        ("edge_rover default (plumb_bob)", CalibrationOptions()),
        ("edge_rover --fix-aspect-ratio", CalibrationOptions(fix_aspect_ratio=True)),
    ):
        start = time.perf_counter()
        result = calibrate(found.detections, found.image_size, options)
        intr = result.intrinsics
        rows.append(
            {
                "method": label,
                "views": result.view_count,
                "fx": intr.fx,
                "fy": intr.fy,
                "cx": intr.cx,
                "cy": intr.cy,
                "rms_px": result.rms_px,
                "calibrate_s": time.perf_counter() - start,
            }
        )
    rows.append(
        {
            "method": "OpenCV sample recipe, re-run here",
            **_opencv_sample_recipe(sorted(CALIB_DIR.glob("left*.jpg"))),
        }
    )
    for row in rows[1:]:
        row["max_abs_diff_px"] = max(abs(row[k] - reference[k]) for k in ("fx", "fy", "cx", "cy"))
    return rows


def _fisheye() -> CameraIntrinsics:
    k = np.array([[300.0, 0.0, 318.0], [0.0, 301.0, 242.0], [0.0, 0.0, 1.0]])
    return CameraIntrinsics(640, 480, k, np.array([0.05, -0.02, 0.004, -0.001]), "equidistant")


def rendered_intrinsics() -> list[dict]:
    pattern, board = CheckerPattern(9, 6, 0.04, 0.04), Checkerboard(9, 6, 0.04)
    rows = []
    for label, camera, model, centre_range in (
        ("plumb_bob 640x480", default_sim_camera(), "plumb_bob", (0.1, 0.9)),
        ("equidistant 640x480", _fisheye(), "equidistant", (0.2, 0.8)),
    ):
        renderer = TargetRenderer(camera)
        views = random_board_views(camera, pattern, 20, seed=1, max_tilt_deg=45, centre_range=centre_range)
        detections = [
            board.detect(renderer.render(pattern, r, t, noise_std=1.0, seed=i), 5.0)
            for i, (r, t) in enumerate(views)
        ]
        detections = [d for d in detections if isinstance(d, BoardDetection)]
        result = calibrate(detections, (640, 480), CalibrationOptions(model))
        errors = {
            name: 100 * abs(getattr(result.intrinsics, name) - getattr(camera, name)) / getattr(camera, name)
            for name in ("fx", "fy", "cx", "cy")
        }
        rows.append(
            {
                "camera": label,
                "views": result.view_count,
                "rms_px": result.rms_px,
                **{f"{k}_err_pct": v for k, v in errors.items()},
            }
        )
    return rows


def ground_extrinsics() -> list[dict]:
    pattern, board = CheckerPattern(9, 6, 0.08, 0.04), Checkerboard(9, 6, 0.08)
    camera = default_sim_camera()
    renderer = TargetRenderer(camera)
    rows = []
    mountings = [
        ((0.2, 0.0, 0.6), (0.0, 0.12, 0.0)),
        ((0.35, 0.05, 0.45), (0.02, 0.25, -0.05)),
        ((0.1, -0.04, 0.8), (-0.015, 0.3, 0.06)),
    ]
    for translation, rpy in mountings:
        truth = CameraExtrinsics(translation, rpy)
        for distance in (1.0, 1.5, 2.0, 2.5):
            placement = GroundBoardPlacement(distance)
            rotation, t = ground_board_pose(pattern, distance)
            image = renderer.render_ground(
                pattern, truth, rotation, t, noise_std=2.0, seed=int(distance * 10)
            )
            detection = board.detect(image)
            row = {"height_m": translation[2], "pitch_deg": math.degrees(rpy[1]), "board_x_m": distance}
            if not isinstance(detection, BoardDetection):
                rows.append({**row, "found": False})
                continue
            est = extrinsics_from_board_pose(solve_board_pose(camera, detection), board.centre(), placement)
            err_rpy = np.degrees(np.subtract(est.rotation_rpy, truth.rotation_rpy))
            err_t = np.subtract(est.translation, truth.translation) * 1000
            rows.append(
                {
                    **row,
                    "found": True,
                    "height_err_mm": float(err_t[2]),
                    "x_err_mm": float(err_t[0]),
                    "y_err_mm": float(err_t[1]),
                    "roll_err_deg": float(err_rpy[0]),
                    "pitch_err_deg": float(err_rpy[1]),
                    "yaw_err_deg": float(err_rpy[2]),
                }
            )
    return rows


def _table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _print_tables(figures: dict) -> None:
    print("### Real images (OpenCV sample set, 13 views)\n")
    _table(
        ["method", "fx", "fy", "cx", "cy", "RMS px", "max abs diff to reference px"],
        [
            [r["method"], *(f"{r[k]:.2f}" for k in ("fx", "fy", "cx", "cy")), f"{r['rms_px']:.3f}",
             f"{r['max_abs_diff_px']:.2f}" if "max_abs_diff_px" in r else "—"]
            for r in figures["real_images"]
        ],
    )  # fmt: skip
    print("\n### Rendered boards, known camera\n")
    _table(
        ["camera", "views", "RMS px", "fx err %", "fy err %", "cx err %", "cy err %"],
        [
            [r["camera"], str(r["views"]), f"{r['rms_px']:.3f}",
             *(f"{r[f'{k}_err_pct']:.3f}" for k in ("fx", "fy", "cx", "cy"))]
            for r in figures["rendered_intrinsics"]
        ],
    )  # fmt: skip
    print("\n### Ground board → mounting (one image each)\n")
    header = ["height m", "pitch °", "board x m", "height err mm", "pitch err °", "roll err °", "yaw err °"]
    rows = []
    for r in figures["ground_extrinsics"]:
        head = [f"{r['height_m']}", f"{r['pitch_deg']:.1f}", f"{r['board_x_m']}"]
        if not r["found"]:
            rows.append([*head, "board not found (out of view or too small)", "", "", ""])
            continue
        errors = [
            f"{r['height_err_mm']:+.1f}",
            *(f"{r[k]:+.3f}" for k in ("pitch_err_deg", "roll_err_deg", "yaw_err_deg")),
        ]
        rows.append([*head, *errors])
    _table(header, rows)


def main() -> int:
    cv2.setNumThreads(1)
    figures = {
        "real_images": real_images(),
        "rendered_intrinsics": rendered_intrinsics(),
        "ground_extrinsics": ground_extrinsics(),
    }
    data = {
        "benchmark": "calibration_accuracy",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "python": platform.python_version(),
        },
        "versions": {"opencv": cv2.__version__, "numpy": np.__version__},
        "parameters": {
            "real": "13 OpenCV sample photos left*.jpg, 9x6 inner corners",
            "rendered": "20 random views, 9x6 board 0.04 m squares, noise sigma 1 grey level",
            "ground": "9x6 board 0.08 m squares lying flat, noise sigma 2, one image per row",
        },
        "figures": figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, default=float) + "\n")

    _print_tables(figures)
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
