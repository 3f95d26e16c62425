"""Camera intrinsics calibration CLI: board views → camera_info YAML + a report.

    python -m edge_rover.calibration.intrinsics_cli --images DIR --size 9x6 --square 0.025 \\
        --out config/my_camera.yaml --report-dir /tmp/calib_report

Sources: ``--images DIR`` (stills), ``--video FILE`` or ``--camera DEVICE`` (live). Views are
selected for coverage (position, size, skew — image_pipeline's rule) instead of taking every
frame; blurred boards, boards cut off by the image border and frames without a board are
skipped and counted. The YAML is written only when the calibration passes its checks (enough
views, RMS below the limit, principal point plausible); otherwise the tool says why and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from tqdm import tqdm

from edge_rover.calibration.boards import Board, CharucoTarget, Checkerboard, SkipReason, parse_board_size
from edge_rover.calibration.calibration_io import save_camera_info
from edge_rover.calibration.frame_selection import CoverageSelector
from edge_rover.calibration.image_sources import CameraSource, FolderSource, Frame, VideoSource
from edge_rover.calibration.intrinsic_calibration import (
    CalibrationOptions,
    QualityLimits,
    calibrate,
    quality_problems,
    worst_views,
)
from edge_rover.calibration.report import coverage_map, summary, undistorted_preview, write_json, write_png
from edge_rover.calibration.view_collector import Collection, collect_views
from edge_rover.common.camera_model import CalibrationError

__all__ = ["Collection", "build_parser", "collect_views", "main", "run"]

# Stills are taken on purpose: drop only near-duplicates. Video frames mostly repeat each other.
DEFAULT_MIN_DISTANCE = {"images": 0.05, "video": 0.2, "camera": 0.2}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m edge_rover.calibration.intrinsics_cli",
        description="Calibrate camera intrinsics from checkerboard / ChArUco views; "
        "writes a ROS camera_info YAML.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", type=Path, help="folder of still images")
    source.add_argument("--video", type=Path, help="video file")
    source.add_argument("--camera", help="live camera: OpenCV device index (0) or a GStreamer pipeline")
    parser.add_argument("--pattern", default="*", help="glob for --images (default: all images)")
    parser.add_argument("--board", choices=("checkerboard", "charuco"), default="checkerboard")
    parser.add_argument(
        "--size",
        type=parse_board_size,
        required=True,
        help="checkerboard: INNER corners COLSxROWS (a 10x7-square board is 9x6); charuco: SQUARES COLSxROWS",
    )
    parser.add_argument("--square", type=float, required=True, help="square side in metres (e.g. 0.025)")
    parser.add_argument("--marker", type=float, help="charuco: marker side in metres")
    parser.add_argument("--dictionary", default="DICT_4X4_50", help="charuco: ArUco dictionary name")
    parser.add_argument(
        "--model",
        default="plumb_bob",
        choices=("plumb_bob", "pinhole", "radtan", "rational_polynomial", "equidistant", "fisheye"),
        help="distortion model (plumb_bob = pinhole-radtan; fisheye = equidistant)",
    )
    parser.add_argument("--fix-aspect-ratio", action="store_true", help="force fx = fy")
    parser.add_argument("--zero-tangent", action="store_true", help="force p1 = p2 = 0")
    parser.add_argument("--fix-k3", action="store_true", help="force k3 = 0 (narrow lenses)")
    parser.add_argument("--out", type=Path, required=True, help="camera_info YAML to write")
    parser.add_argument("--camera-name", default="camera", help="camera_name in the YAML")
    parser.add_argument(
        "--report-dir", type=Path, help="folder for report.json, coverage.png, undistorted.png"
    )
    parser.add_argument(
        "--min-distance",
        type=float,
        help="view selection: minimum L1 distance in (x, y, size, skew) to every kept view "
        "(default 0.05 for --images, 0.2 for --video/--camera; 0 keeps all)",
    )
    parser.add_argument(
        "--max-views", type=int, default=60, help="stop adding views after this many (default 60)"
    )
    parser.add_argument("--stride", type=int, default=1, help="--video: use every N-th frame")
    parser.add_argument(
        "--max-frames", type=int, default=3000, help="--camera: give up after this many frames"
    )
    parser.add_argument(
        "--max-edge-width", type=float, default=5.0, help="blur limit: edge width in px (default 5)"
    )
    parser.add_argument(
        "--min-views", type=int, default=8, help="refuse below this many usable views (default 8)"
    )
    parser.add_argument(
        "--max-rms", type=float, default=1.0, help="refuse above this RMS error in px (default 1.0)"
    )
    parser.add_argument("--force", action="store_true", help="write the YAML even if the checks fail")
    return parser


def _board_from_args(args: argparse.Namespace) -> Board:
    cols, rows = args.size
    fast_check = args.images is None  # video / camera: most frames repeat or show no board
    if args.board == "charuco":
        if args.marker is None:
            raise ValueError("--board charuco needs --marker (marker side in metres)")
        return CharucoTarget(cols, rows, args.square, args.marker, args.dictionary)
    return Checkerboard(cols, rows, args.square, fast_check)


def _source_from_args(args: argparse.Namespace) -> tuple[str, Sequence[Frame] | Iterable[Frame]]:
    if args.images is not None:
        return "images", FolderSource(args.images, args.pattern)
    if args.video is not None:
        return "video", VideoSource(args.video, args.stride)
    return "camera", CameraSource(args.camera, args.max_frames)


def run(args: argparse.Namespace) -> int:
    board = _board_from_args(args)
    options = CalibrationOptions(args.model, args.fix_aspect_ratio, args.zero_tangent, args.fix_k3)
    kind, source = _source_from_args(args)
    min_distance = DEFAULT_MIN_DISTANCE[kind] if args.min_distance is None else args.min_distance
    selector = CoverageSelector(min_distance, args.max_views)
    frames = tqdm(source, total=len(source), desc=f"detecting ({kind})", unit="frame", file=sys.stderr)
    try:
        found = collect_views(
            frames,
            board,
            selector,
            args.max_edge_width,
            stop_when_covered=(kind == "camera"),
            min_views=args.min_views,
        )
    finally:
        frames.close()
    _print_skips(found)
    if found.image_size is None:
        raise CalibrationError("no readable image in the source")
    if len(found.detections) < max(3, args.min_views):
        print(
            f"\nNOT writing a calibration: only {len(found.detections)} usable views, need at least "
            f"{args.min_views} (see the skip counts above; check --size is the INNER corner count)",
            file=sys.stderr,
        )
        return 1
    result = calibrate(found.detections, found.image_size, options, args.camera_name)
    problems = quality_problems(result, QualityLimits(args.min_views, args.max_rms))
    suspects = worst_views(result, found.names)
    progress = selector.progress()
    _print_result(result, found.names, progress, suspects)
    for hint in coverage_hints(progress):
        print(f"hint: {hint}", file=sys.stderr)
    if args.report_dir is not None:
        _write_report(args, board, found, result, progress, problems, suspects)
    if problems and not args.force:
        print("\nNOT writing a calibration:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    path = save_camera_info(result.intrinsics, args.out)
    if problems:
        print(f"WARNING: written despite failed checks (--force): {'; '.join(problems)}", file=sys.stderr)
    print(f"\nwrote {path}\nload it with: camera_info_url:=file://{path.resolve()}")
    return 0


_COVERAGE_HINTS = {
    "x": "views with the board near the left and right image edges",
    "y": "views with the board near the top and bottom image edges",
    "size": "views with the board close to the camera (filling much of the image)",
    "skew": "views with the board tilted 30-45° (left/right and up/down)",
}


def coverage_hints(progress: dict[str, float]) -> list[str]:
    """What to add to a calibration whose coverage is incomplete (it may still be fine)."""
    return [
        f"{name} coverage {100 * value:.0f}%: add {_COVERAGE_HINTS[name]}"
        for name, value in progress.items()
        if value < 1.0
    ]


def _print_skips(found: Collection) -> None:
    note = " (capture interrupted)" if found.interrupted else ""
    print(f"frames: {found.frames_seen} seen, {len(found.detections)} used{note}", file=sys.stderr)
    for reason, names in found.skipped.items():
        print(f"  skipped {len(names):4d}: {SkipReason[reason.upper()].value}", file=sys.stderr)


def _print_result(result, names: Sequence[str], progress: dict[str, float], suspects: Sequence[str]) -> None:
    intr = result.intrinsics
    print(f"\nmodel {intr.distortion_model}, {intr.width}x{intr.height}, {result.view_count} views")
    print(f"RMS reprojection error: {result.rms_px:.3f} px")
    print(f"fx {intr.fx:.2f}  fy {intr.fy:.2f}  cx {intr.cx:.2f}  cy {intr.cy:.2f}")
    print("distortion: " + " ".join(f"{v:.5f}" for v in intr.distortion))
    print("coverage:   " + "  ".join(f"{k} {100 * v:.0f}%" for k, v in progress.items()))
    print("| view | RMS (px) |\n|---|---|")
    for name, error in zip(names, result.per_view_rms_px, strict=True):
        print(f"| {name} | {error:.3f}{' (suspect)' if name in suspects else ''} |")


def _write_report(args, board, found: Collection, result, progress, problems, suspects) -> None:
    folder: Path = args.report_dir
    parameters = {
        "source": str(args.images or args.video or args.camera),
        "board": args.board,
        "size": list(args.size),
        "square_m": args.square,
        "model": result.intrinsics.distortion_model,
        "max_edge_width_px": args.max_edge_width,
        "min_views": args.min_views,
        "max_rms_px": args.max_rms,
    }
    data = summary(result, found.names, found.skipped, progress, problems, suspects, parameters)
    write_json(folder / "report.json", data)
    write_png(
        folder / "coverage.png",
        coverage_map(found.detections, board.outline(), found.image_size, result, progress),
    )
    if found.preview_image is not None:
        write_png(
            folder / "undistorted.png",
            undistorted_preview(found.preview_image, found.preview_detection, result),
        )
    print(f"report: {folder}/report.json, coverage.png, undistorted.png")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (CalibrationError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
