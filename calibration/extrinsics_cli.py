"""Camera mounting CLI: writes the extrinsics YAML (base_link → camera_link) and prints the TF line.

From a checkerboard lying flat on the floor in front of the rover::

    python -m edge_rover.calibration.extrinsics_cli board --images ground.png \\
        --camera-info config/my_camera.yaml \\
        --size 9x6 --square 0.08 --board-x 1.5 --out config/my_extrinsics.yaml --report-dir /tmp/ext

From values measured with a tape and an inclinometer::

    python -m edge_rover.calibration.extrinsics_cli measured --x 0.2 --z 0.6 --pitch-deg 6.9 \\
        --out config/my_extrinsics.yaml

Either way, ``--image`` / ``--images`` with ``--report-dir`` writes ``birdseye.png``: the floor
seen from above through the calibration, with a 0.5 m grid — straight floor lines must come out
straight, parallel and along the grid; the board's squares square.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from edge_rover.calibration.boards import Checkerboard, Skip, parse_board_size, to_gray
from edge_rover.calibration.calibration_io import load_camera_info, save_extrinsics
from edge_rover.calibration.ground_extrinsics import (
    GroundBoardPlacement,
    average_extrinsics,
    extrinsics_from_board_pose,
    extrinsics_problems,
    extrinsics_spread,
    optical_transform_command,
    solve_board_pose,
    static_transform_command,
)
from edge_rover.calibration.image_sources import IMAGE_SUFFIXES, Frame, ImageSizeGuard
from edge_rover.calibration.rectify import GroundView, birdseye_image, draw_ground_grid
from edge_rover.calibration.report import write_json, write_png
from edge_rover.common.camera_model import CalibrationError, CameraExtrinsics, CameraIntrinsics, CameraRig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m edge_rover.calibration.extrinsics_cli",
        description="Camera mounting on the rover → extrinsics YAML + static transform.",
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    board = sub.add_parser("board", help="from a checkerboard lying flat on the floor in front of the rover")
    board.add_argument("--images", type=Path, nargs="+", required=True, help="image file(s) or a folder")
    board.add_argument("--camera-info", required=True, help="intrinsics (camera_info YAML path or URL)")
    board.add_argument(
        "--size", type=parse_board_size, required=True, help="INNER corners COLSxROWS, e.g. 9x6"
    )
    board.add_argument("--square", type=float, required=True, help="square side in metres")
    board.add_argument(
        "--board-x", type=float, required=True, help="board centre ahead of base_link's origin (m, floor)"
    )
    board.add_argument(
        "--board-y", type=float, default=0.0, help="board centre left of base_link's origin (m)"
    )
    board.add_argument("--board-yaw-deg", type=float, default=0.0, help="board edges vs rover axes (deg)")
    board.add_argument("--board-thickness", type=float, default=0.0, help="board top above the floor (m)")
    board.add_argument("--max-rms", type=float, default=1.0, help="refuse above this reprojection error (px)")
    board.add_argument("--force", action="store_true", help="write even if the checks fail")
    measured = sub.add_parser("measured", help="from measured values")
    measured.add_argument("--x", type=float, required=True, help="camera ahead of base_link's origin (m)")
    measured.add_argument("--y", type=float, default=0.0, help="camera left of the centre line (m)")
    measured.add_argument("--z", type=float, required=True, help="camera lens height above the floor (m)")
    measured.add_argument("--roll-deg", type=float, default=0.0)
    measured.add_argument("--pitch-deg", type=float, default=0.0, help="downward tilt, positive looks down")
    measured.add_argument("--yaw-deg", type=float, default=0.0, help="positive turns the camera to the left")
    measured.add_argument("--image", type=Path, help="a view of the floor, for the bird's-eye check")
    measured.add_argument("--camera-info", help="intrinsics, needed with --image")
    for sub_parser in (board, measured):
        sub_parser.add_argument("--out", type=Path, required=True, help="extrinsics YAML to write")
        sub_parser.add_argument("--report-dir", type=Path, help="folder for birdseye.png and report.json")
        sub_parser.add_argument("--parent-frame", default="base_link")
        sub_parser.add_argument("--child-frame", default="camera_link")
    return parser


def _image_paths(entries: Sequence[Path]) -> list[Path]:
    paths: list[Path] = []
    for entry in entries:
        if entry.is_dir():
            paths += sorted(p for p in entry.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif entry.is_file():
            paths.append(entry)
        else:
            raise CalibrationError(f"image not found: {entry}")
    if not paths:
        raise CalibrationError("no images given")
    return paths


def _read_image(path: Path, intrinsics: CameraIntrinsics, guard: ImageSizeGuard) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)  # raw, as the camera sees
    if image is None:
        raise CalibrationError(f"cannot read image {path}")
    guard.check(Frame(path.name, image))
    if (image.shape[1], image.shape[0]) != (intrinsics.width, intrinsics.height):
        raise CalibrationError(
            f"{path.name} is {image.shape[1]}x{image.shape[0]} but the camera_info is for "
            f"{intrinsics.width}x{intrinsics.height}: use the calibration of this resolution"
        )
    return image


def birdseye_preview(
    image: np.ndarray, rig: CameraRig, centre_x: float, ground_points: np.ndarray | None = None
) -> np.ndarray:
    """Bird's-eye view around ``centre_x`` with a 0.5 m grid and (optionally) marked floor points."""
    view = GroundView(
        x_min=max(0.0, centre_x - 1.5), x_max=centre_x + 2.5, y_half_width=1.5, resolution=0.005
    )
    top = draw_ground_grid(birdseye_image(image, rig, view), view)
    if ground_points is not None:
        for col, row in view.to_pixel(ground_points):
            if np.isfinite(col) and np.isfinite(row):
                cv2.circle(top, (round(float(col)), round(float(row))), 4, (0, 0, 255), 1, cv2.LINE_AA)
    cv2.putText(
        top, "bird's-eye (x forward = up, 0.5 m grid)", (6, top.shape[0] - 8), 0, 0.5, (0, 255, 255), 1
    )
    return top


def run_board(args: argparse.Namespace) -> int:
    intrinsics = load_camera_info(args.camera_info)
    board = Checkerboard(args.size[0], args.size[1], args.square)
    placement = GroundBoardPlacement(
        args.board_x, args.board_y, math.radians(args.board_yaw_deg), args.board_thickness
    )
    guard = ImageSizeGuard()
    estimates, poses, names, used_images, detections = [], [], [], [], []
    for path in _image_paths(args.images):
        image = _read_image(path, intrinsics, guard)
        detection = board.detect(to_gray(image), max_edge_width_px=None)
        if isinstance(detection, Skip):
            print(f"  {path.name}: skipped, {detection.reason.value}", file=sys.stderr)
            continue
        pose = solve_board_pose(intrinsics, detection)
        ext = extrinsics_from_board_pose(pose, board.centre(), placement, args.parent_frame, args.child_frame)
        estimates.append(ext)
        poses.append(pose)
        names.append(path.name)
        used_images.append(image)
        detections.append(detection)
        print(f"  {path.name}: board RMS {pose.rms_px:.3f} px, {_describe(ext)}")
    if not estimates:
        raise CalibrationError("the board was found in none of the images (check --size: INNER corners)")
    result = average_extrinsics(estimates)
    spread = extrinsics_spread(estimates)
    problems = extrinsics_problems(result, poses, args.max_rms)
    print(f"\nresult ({len(estimates)} view(s)): {_describe(result)}")
    if len(estimates) > 1:
        print("spread (std): " + ", ".join(f"{k} {v:.4f}" for k, v in spread.items()))
    if args.report_dir is not None:
        rig = CameraRig(intrinsics, result)
        floor_points, _ = rig.pixels_to_ground(detections[0].image_points, ground_z=placement.thickness)
        write_png(
            args.report_dir / "birdseye.png",
            birdseye_preview(used_images[0], rig, args.board_x, floor_points),
        )
        write_json(
            args.report_dir / "report.json",
            {
                "views": {
                    n: {"board_rms_px": p.rms_px, **_as_dict(e)}
                    for n, p, e in zip(names, poses, estimates, strict=True)
                },
                "result": _as_dict(result),
                "spread": spread,
                "problems": problems,
                "written": not problems or args.force,
            },
        )
        print(f"report: {args.report_dir}/birdseye.png, report.json")
    return _finish(result, problems, args)


def run_measured(args: argparse.Namespace) -> int:
    result = CameraExtrinsics(
        (args.x, args.y, args.z),
        (math.radians(args.roll_deg), math.radians(args.pitch_deg), math.radians(args.yaw_deg)),
        args.parent_frame,
        args.child_frame,
    )
    print(f"result: {_describe(result)}")
    if args.image is not None:
        if args.camera_info is None or args.report_dir is None:
            raise CalibrationError("--image needs --camera-info and --report-dir for the bird's-eye check")
        intrinsics = load_camera_info(args.camera_info)
        image = _read_image(args.image, intrinsics, ImageSizeGuard())
        write_png(
            args.report_dir / "birdseye.png", birdseye_preview(image, CameraRig(intrinsics, result), 1.5)
        )
        print(f"report: {args.report_dir}/birdseye.png")
    args.force = False
    return _finish(result, [], args)


def _finish(result: CameraExtrinsics, problems: list[str], args: argparse.Namespace) -> int:
    if problems and not args.force:
        print("\nNOT writing the extrinsics:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    path = save_extrinsics(result, args.out)
    print(
        f"\nwrote {path}\nload it with the obstacle_mapper parameter extrinsics_url:=file://{path.resolve()}"
    )
    print("publish it as TF with:\n  " + static_transform_command(result))
    print(
        "and, if nothing publishes the optical frame yet:\n  " + optical_transform_command(result.child_frame)
    )
    return 0


def _describe(ext: CameraExtrinsics) -> str:
    (x, y, z), (roll, pitch, yaw) = ext.translation, ext.rotation_rpy
    return (
        f"x {x:.3f} m, y {y:.3f} m, height {z:.3f} m, roll {math.degrees(roll):.2f}°, "
        f"pitch {math.degrees(pitch):.2f}°, yaw {math.degrees(yaw):.2f}°"
    )


def _as_dict(ext: CameraExtrinsics) -> dict[str, list[float]]:
    return {"translation": list(ext.translation), "rotation_rpy": list(ext.rotation_rpy)}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_board(args) if args.mode == "board" else run_measured(args)
    except (CalibrationError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
