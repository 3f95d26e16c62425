"""Build the detector's TensorRT engine ahead of time, so the first drive is not the first build.

  python -m edge_rover.tools.build_engine --model models/edge_rover_yolov8n_int8.onnx \
      [--cache-dir DIR] [--precision auto|int8|fp16] [--check-images DIR ...]

Builds (or finds) the engine in the same cache the detector node uses (its ``engine_cache_dir``
parameter; default ``$XDG_CACHE_HOME/edge_rover/engines``), keyed by model sha256, TensorRT
version, GPU and precision. With ``--check-images`` the engine's detections are compared with
CPU ONNX Runtime on those real frames (edge_rover.perception.detection.agreement: same class, IoU >= 0.9 on
>= 98 % of the boxes); exit 1 when they disagree. Exit 1 with one line where TensorRT cannot run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from edge_rover.calibration.calibration_io import resolve_url
from edge_rover.perception.detection.tensorrt_engine import PRECISIONS, default_cache_dir
from edge_rover.perception.detection.types import DetectorError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="ONNX model: path or package://edge_rover/models/...")
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"default: {default_cache_dir()}")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check-images", type=Path, nargs="*", default=[], help="real frames to compare on")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> dict:
    from edge_rover.perception.detection.detector import Detector, DetectorConfig

    model = str(resolve_url(args.model))
    cache = args.cache_dir or default_cache_dir()
    config = DetectorConfig(
        model_path=model, backend="tensorrt", threads=args.threads,
        engine_cache_dir=str(cache), trt_precision=args.precision,
    )  # fmt: skip
    started = time.monotonic()
    detector = Detector(config, log=lambda line: print(line, file=sys.stderr))
    backend = detector.backend
    report = {
        "model": model,
        "engine_folder": str(backend.engine_folder),
        "state": backend.engine_state,
        "key": asdict(backend.key),
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.check_images:
        from edge_rover.perception.detection.agreement import compare_detections, load_frames
        from edge_rover.perception.detection.evaluation import list_images

        frames, _ = load_frames([p for source in args.check_images for p in list_images(source)])
        reference = Detector(DetectorConfig(model_path=model, backend="onnxruntime", threads=args.threads))
        agreement = compare_detections(
            [reference.detect(f).detections for f in frames], [detector.detect(f).detections for f in frames]
        )
        report["agreement"] = agreement.summary()
        report["agreement_passed"] = agreement.passes()
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = build(args)
    except (DetectorError, OSError, ValueError) as err:
        print(f"build_engine: {err}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0 if report.get("agreement_passed", True) else 1


if __name__ == "__main__":
    sys.exit(main())
