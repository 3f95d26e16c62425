"""GPU check: the TensorRT engine against CPU ONNX Runtime on real images (run by gpu_check.sh).

  python -m benchmarks.gpu_check [--model M.onnx] [--images DIR ...] [--candidate tensorrt]

Steps: build the engine from the shipped QDQ model into a fresh cache (timed: the first-start
cost), load it again from the cache (timed), run both backends on the same real frames and
compare their detections (same class, IoU >= 0.9 on >= 98 % of the boxes of either side:
edge_rover.perception.detection.agreement), then time both interleaved (p50/p99 of the backend's inference
and of the whole detect()). Writes one JSON, prints it and a Markdown table; exit 1 when the
agreement gate fails. ``--candidate onnxruntime`` runs the same plumbing CPU against CPU (the
test does that on machines without a GPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import load_average, versions
from edge_rover.perception.detection.agreement import IOU_MIN, MIN_FRACTION, compare_detections, load_frames
from edge_rover.perception.detection.detector import Detector, DetectorConfig
from edge_rover.perception.detection.evaluation import list_images

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "models" / "edge_rover_yolov8n_int8.onnx"
DEFAULT_IMAGES = [REPO.parent / "shared" / "data" / "images", REPO.parent / "shared" / "data" / "coco8"]


def find_images(sources: list[Path]) -> list[Path]:
    """Every image under the given folders or files (evaluation.list_images), calibration boards
    skipped, sorted."""
    found: set[Path] = set()
    for source in sources:
        if source.exists():
            found.update(p for p in list_images(source) if "calib" not in p.parts)
    return sorted(found)


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, float)
    p50, p99 = np.percentile(array, [50, 99])
    return {
        "p50_ms": round(float(p50), 3),
        "p99_ms": round(float(p99), 3),
        "max_ms": round(float(array.max()), 3),
    }


def interleaved_latency(detectors: dict[str, Detector], frames: list[np.ndarray], repeats: int) -> dict:
    """Each round runs every frame on every detector in turn, so drift hits all alike."""
    inference: dict[str, list[float]] = {name: [] for name in detectors}
    total: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(repeats):
        for frame in frames:
            for name, detector in detectors.items():
                timings = detector.detect(frame).timings
                inference[name].append(timings.inference_ms)
                total[name].append(timings.total_ms)
    return {
        name: {"inference": percentiles(inference[name]), "detect": percentiles(total[name])}
        for name in detectors
    }


def run(args: argparse.Namespace) -> dict:
    paths = find_images(args.images)
    if not paths:
        raise SystemExit(f"gpu_check: no images under {[str(p) for p in args.images]} (give --images)")
    frames, data_sha = load_frames(paths)
    cache = Path(args.cache_dir or tempfile.mkdtemp(prefix="edge_rover_engines_"))
    common = {"model_path": str(args.model), "threads": args.threads, "conf_threshold": args.conf}
    reference = Detector(DetectorConfig(backend="onnxruntime", **common))
    candidate_config = DetectorConfig(backend=args.candidate, engine_cache_dir=str(cache), **common)
    started = time.monotonic()
    candidate = Detector(candidate_config)  # fresh cache: the engine build (TensorRT)
    build_s = time.monotonic() - started
    del candidate
    started = time.monotonic()
    candidate = Detector(candidate_config)  # the same key again: loaded from the cache
    load_s = time.monotonic() - started
    engine_state = getattr(candidate.backend, "engine_state", None)
    ref_dets = [reference.detect(f).detections for f in frames]
    cand_dets = [candidate.detect(f).detections for f in frames]
    agreement = compare_detections(ref_dets, cand_dets, args.iou_min)
    latency = interleaved_latency(
        {"onnxruntime_cpu": reference, args.candidate: candidate}, frames, args.repeats
    )
    return {
        "benchmark": "gpu_check",
        "machine": {"gpu": _gpu_name(), "load_average": load_average()},
        "versions": versions(("numpy", "cv2", "onnxruntime", "tensorrt")),
        "parameters": {
            "model": str(args.model),
            "candidate": args.candidate,
            "threads": args.threads,
            "conf_threshold": args.conf,
            "repeats": args.repeats,
            "images": [str(p) for p in paths],
            "images_sha256": data_sha,
        },
        "engine": {
            "build_s": round(build_s, 2),
            "cached_load_s": round(load_s, 2),
            "state_on_reload": engine_state,
            "folder": str(getattr(candidate.backend, "engine_folder", "")) or None,
            "precision": getattr(getattr(candidate.backend, "key", None), "precision", None),
        },
        "agreement": {
            "reference_boxes": agreement.reference_boxes,
            "candidate_boxes": agreement.candidate_boxes,
            "matched": agreement.matched,
            "class_mismatches": agreement.class_mismatches,
            "fraction": round(agreement.fraction, 4),
            "iou_min": args.iou_min,
            "min_fraction": args.min_fraction,
            "passed": agreement.passes(args.min_fraction),
            "summary": agreement.summary(args.min_fraction),
        },
        "latency": latency,
    }


def _gpu_name() -> str | None:
    from edge_rover.perception.detection.tensorrt_engine import gpu_name

    return gpu_name()


def markdown_table(result: dict) -> str:
    lines = [
        "| backend | inference p50 / p99 (ms) | detect() p50 / p99 (ms) |",
        "|---|---|---|",
    ]
    for name, figures in result["latency"].items():
        inf, det = figures["inference"], figures["detect"]
        lines.append(
            f"| {name} | {inf['p50_ms']:.2f} / {inf['p99_ms']:.2f} "
            f"| {det['p50_ms']:.2f} / {det['p99_ms']:.2f} |"
        )
    engine = result["engine"]
    lines.append("")
    lines.append(
        f"engine build {engine['build_s']} s, cached load {engine['cached_load_s']} s; "
        f"agreement {result['agreement']['summary']}"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--images", type=Path, nargs="+", default=DEFAULT_IMAGES)
    parser.add_argument(
        "--candidate", default="tensorrt", choices=("tensorrt", "cuda", "onnxruntime", "openvino")
    )
    parser.add_argument("--cache-dir", type=Path, help="engine cache (default: a fresh temporary folder)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=20, help="rounds over all frames for the latency")
    parser.add_argument("--iou-min", type=float, default=IOU_MIN)
    parser.add_argument("--min-fraction", type=float, default=MIN_FRACTION)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "gpu_check.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(markdown_table(result))
    return 0 if result["agreement"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
