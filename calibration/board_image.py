"""A printable calibration board as a PNG at an exact physical scale.

    python -m edge_rover.calibration.board_image --size 9x6 --square 0.025 --dpi 300 --out board.png
    python -m edge_rover.calibration.board_image --board charuco --size 7x5 --square 0.04 \
        --marker 0.03 --out charuco.png

Print at 100 % ("actual size", no fit-to-page), glue it flat to something rigid, then measure a
square with a ruler: pass the MEASURED size to the calibration tools (printers scale a little).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from edge_rover.calibration.boards import CharucoTarget, Checkerboard

INCH = 0.0254


def checkerboard_image(board: Checkerboard, dpi: float, margin_squares: float = 1.0) -> np.ndarray:
    """(cols+1) × (rows+1) squares, a white margin of ``margin_squares`` around (detection needs it)."""
    square_px = round(board.square / INCH * dpi)
    if square_px < 8:
        raise ValueError(f"{board.square} m squares at {dpi} dpi are only {square_px} px: raise --dpi")
    margin = round(margin_squares * square_px)
    width = (board.cols + 1) * square_px + 2 * margin
    height = (board.rows + 1) * square_px + 2 * margin
    image = np.full((height, width), 255, np.uint8)
    for row in range(board.rows + 1):
        for col in range(board.cols + 1):
            if (row + col) % 2 == 0:
                top, left = margin + row * square_px, margin + col * square_px
                image[top : top + square_px, left : left + square_px] = 0
    return image


def charuco_image(board: CharucoTarget, dpi: float, margin_squares: float = 0.5) -> np.ndarray:
    square_px = round(board.square / INCH * dpi)
    margin = round(margin_squares * square_px)
    width, height = board.cols * square_px + 2 * margin, board.rows * square_px + 2 * margin
    return board.generate_image(width, height, margin)


def _size(text: str) -> tuple[int, int]:
    try:
        cols, rows = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must look like 9x6, got {text!r}") from exc
    return cols, rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge_rover.calibration.board_image", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--board", choices=("checkerboard", "charuco"), default="checkerboard")
    parser.add_argument(
        "--size", type=_size, required=True, help="checkerboard: INNER corners; charuco: squares"
    )
    parser.add_argument("--square", type=float, required=True, help="square side in metres")
    parser.add_argument("--marker", type=float, help="charuco: marker side in metres")
    parser.add_argument("--dictionary", default="DICT_4X4_50")
    parser.add_argument("--dpi", type=float, default=300.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.board == "charuco":
            if args.marker is None:
                raise ValueError("--board charuco needs --marker")
            target = CharucoTarget(*args.size, args.square, args.marker, args.dictionary)
            image = charuco_image(target, args.dpi)
        else:
            image = checkerboard_image(Checkerboard(*args.size, args.square), args.dpi)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), image)
    width_mm, height_mm = (image.shape[1] / args.dpi * 25.4, image.shape[0] / args.dpi * 25.4)
    size_px = f"{image.shape[1]}x{image.shape[0]} px"
    print(f"wrote {args.out}: {size_px} = {width_mm:.0f}x{height_mm:.0f} mm at {args.dpi:.0f} dpi")
    print("print at 100 % (actual size), then measure a square and pass that size as --square")
    return 0


if __name__ == "__main__":
    sys.exit(main())
