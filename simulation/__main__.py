"""Simulator command line: ``python -m simulation {render,run,bag} ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _render(args: argparse.Namespace) -> int:
    from simulation.dataset import export, parse_imgsz

    stats = export(
        Path(args.out),
        train=args.train,
        val=args.val,
        imgsz=parse_imgsz(args.imgsz),
        seed=args.seed,
        camera_info=args.camera_info,
        extrinsics=args.extrinsics,
        sheet_count=args.sheet,
    )
    print(json.dumps(stats, indent=2))
    print(
        f"dataset: {Path(args.out) / 'data.yaml'}; check the labels in {Path(args.out) / 'contact_sheet.png'}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulation", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="render a labelled YOLO dataset with a contact sheet")
    render.add_argument("--out", required=True, help="output folder (created)")
    render.add_argument("--train", type=int, default=2000, help="training images")
    render.add_argument("--val", type=int, default=300, help="validation images")
    render.add_argument("--imgsz", default="640x480", help="WIDTHxHEIGHT of the images")
    render.add_argument("--seed", type=int, default=0)
    render.add_argument("--camera-info", default="config/camera_info.yaml", help="camera_info YAML or URL")
    render.add_argument("--extrinsics", default="config/extrinsics.yaml", help="extrinsics YAML or URL")
    render.add_argument("--sheet", type=int, default=24, help="samples on the contact sheet")
    render.set_defaults(func=_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
