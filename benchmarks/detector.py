"""Detector benchmark: our ORT INT8 path vs ORT FP32, OpenVINO INT8 and ultralytics predict.

Same frames (the real photos of ../shared/data/images resized to a 640×480 rover frame), same
thread count, one run; each configuration in its own subprocess so peak RSS is its own.

    # once, with the train extra (exports + quantizes the COCO YOLOv8n at 320 and 640):
    /work/venv-train/bin/python benchmarks/detector.py --prepare
    # the benchmark (rows whose runtime is missing are skipped and listed):
    /work/venv-train/bin/python benchmarks/detector.py

Writes benchmarks/results/detector.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import RUNTIME_MODULES, versions  # noqa: E402  (after the sys.path line)

SHARED = REPO.parent / "shared" / "data"
IMAGES = ["bus.jpg", "zidane.jpg", "person.jpg", "dog.jpg", "horses.jpg"]
FRAME_WH = (640, 480)
PT_MODEL = SHARED / "models" / "yolov8n_coco_derived.pt"


def _frames():
    import cv2

    frames = []
    for name in IMAGES:
        image = cv2.imread(str(SHARED / "images" / name))
        frames.append(cv2.resize(image, FRAME_WH, interpolation=cv2.INTER_AREA))
    return frames


def _coco8_yaml(work: Path) -> Path:
    """coco8 copied out of ../shared (ultralytics writes caches beside a dataset)."""
    import shutil

    target = work / "coco8"
    if not target.is_dir():
        shutil.copytree(SHARED / "coco8", target)
        for path in [target, *target.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    yaml_path = work / "coco8.yaml"
    yaml_path.write_text(f"path: {target}\ntrain: images/train\nval: images/val\n")
    return yaml_path


# -- preparation (train extra) ----------------------------------------------------------------


def prepare(work: Path, sizes: list[int]) -> None:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(work / "yolo_cfg"))
    from ultralytics import YOLO

    from edge_rover.perception import quantize

    work.mkdir(parents=True, exist_ok=True)
    data = _coco8_yaml(work)
    # calibration frames: real photos that are NOT in the val split (coco8 train + the 5 photos)
    calib = work / "calib"
    calib.mkdir(exist_ok=True)
    for image in [
        *(work / "coco8" / "images" / "train").glob("*.jpg"),
        *(SHARED / "images" / n for n in IMAGES),
    ]:
        (calib / image.name).write_bytes(image.read_bytes())
    for size in sizes:
        fp32 = work / f"coco_yolov8n_{size}_fp32.onnx"
        if not fp32.is_file():
            exported = Path(YOLO(str(PT_MODEL)).export(format="onnx", imgsz=size, simplify=True, opset=17))
            exported.replace(fp32)
        int8 = work / f"coco_yolov8n_{size}_int8.onnx"
        code = quantize.main(
            [
                "--model", str(fp32), "--calib", str(calib), "--val", str(data),
                "--out", str(int8), "--max-drop", "100", "--report", str(work / f"quant_{size}.json"),
            ]
        )  # fmt: skip
        print(f"prepared {fp32.name}, {int8.name} (quantize exit {code})")
        try:
            _prepare_openvino(fp32, work / f"coco_yolov8n_{size}_ov_int8.xml", work)
        except ImportError as err:
            print(f"skipping the OpenVINO NNCF model: {err}")


def _prepare_openvino(fp32: Path, out_xml: Path, work: Path) -> None:
    """OpenVINO INT8 IR with NNCF: the same code (and frames) as the quantize CLI's ``--engine openvino``."""
    from edge_rover.perception.detection.quantize import load_calibration_frames, quantize_openvino_int8

    quantize_openvino_int8(fp32, out_xml, load_calibration_frames(work / "calib", None, 200, 0))


# -- one configuration, in its own process ------------------------------------------------------


def worker(spec: dict) -> dict:
    import numpy as np

    from edge_rover.perception.detection.detector import Detector, DetectorConfig
    from edge_rover.perception.detection.evaluation import evaluate, list_images

    if spec["backend"] == "ultralytics":
        import torch

        torch.set_num_threads(spec["threads"])
    hw = (spec["size"], spec["size"]) if spec.get("square") else None
    hw = tuple(spec["input_hw"]) if spec.get("input_hw") else hw
    detector = Detector(
        DetectorConfig(
            model_path=spec["model"], backend=spec["backend"], threads=spec["threads"], input_hw=hw
        )
    )
    frames = _frames()
    for frame in frames * 2:  # warm-up
        detector.detect(frame)
    total, stages = [], []
    for i in range(spec["iterations"]):
        t0 = time.perf_counter()
        result = detector.detect(frames[i % len(frames)])
        total.append((time.perf_counter() - t0) * 1e3)
        stages.append(result.timings.preprocess_ms + result.timings.postprocess_ms)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "p50_ms": float(np.percentile(total, 50)),
        "p99_ms": float(np.percentile(total, 99)),
        "fps": 1000.0 / float(np.mean(total)),
        "pre_post_p50_ms": float(np.percentile(stages, 50)),
        "peak_rss_mb": peak_rss_mb,
        "input_hw": list(detector.input_hw),
    }
    if spec.get("val"):
        evaluator = Detector(
            DetectorConfig(
                model_path=spec["model"], backend=spec["backend"], threads=spec["threads"], input_hw=hw,
                conf_threshold=0.001, iou_threshold=0.7, max_detections=300,
            )
        )  # fmt: skip

        def predict(image):
            d = evaluator.detect(image).detections
            return d.boxes, d.scores, d.class_ids

        figures["coco8_val_map50"] = evaluate(predict, list_images(Path(spec["val"]))).map50
    return figures


def _run_worker(spec: dict, python: str) -> dict:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(spec["threads"]),
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "0",
    }
    proc = subprocess.run(
        [python, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, env=env, timeout=900
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return json.loads(lines[-1])


def _card_input_hw(model: Path) -> tuple[int, int]:
    from edge_rover.perception.detection.model_card import card_path_for, load_model_card

    return load_model_card(card_path_for(model)).input_hw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/edge_rover_detector_bench"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--prepare", action="store_true", help="export + quantize the models (train extra)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "detector.json")
    parser.add_argument("--shipped-fp32", type=Path, help="FP32 ONNX of the shipped model (ORT FP32 row)")
    parser.add_argument("--shipped-pt", type=Path, help="ultralytics .pt of the shipped model (predict row)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.prepare:
        prepare(args.work_dir, args.sizes)
        return
    val = str(_coco8_yaml(args.work_dir))
    rows = []
    base = {"threads": args.threads, "iterations": args.iterations, "val": val}
    shipped = sorted((REPO / "models").glob("*_int8.onnx"))
    for size in args.sizes:
        work = args.work_dir
        configs = [
            ("ours: ORT INT8 (static QDQ)", "onnxruntime", work / f"coco_yolov8n_{size}_int8.onnx", False),
            ("ORT FP32", "onnxruntime", work / f"coco_yolov8n_{size}_fp32.onnx", False),
            ("OpenVINO INT8 (NNCF)", "openvino", work / f"coco_yolov8n_{size}_ov_int8.xml", False),
            ("OpenVINO INT8 (our QDQ)", "openvino", work / f"coco_yolov8n_{size}_int8.onnx", False),
            ("ultralytics YOLO(pt).predict", "ultralytics", PT_MODEL, True),
        ]
        for label, backend, model, square in configs:
            row = {"config": label, "backend": backend, "size": size, "model": str(model)}
            if not model.is_file():
                row["error"] = [f"missing {model} (run --prepare)"]
            else:
                spec = {**base, "backend": backend, "model": str(model), "size": size, "square": square}
                row.update(_run_worker(spec, sys.executable))
            rows.append(row)
            print(f"{label} @{size}: {row.get('p50_ms', row.get('error'))}", file=sys.stderr)
    for model in shipped:  # our shipped model at its own (rectangular) input, no COCO mAP
        ir = model.with_name(model.stem + "_openvino.xml")
        configs = [
            (f"shipped {model.name} (ORT INT8)", "onnxruntime", model),
            (f"shipped {ir.name} (OpenVINO INT8 IR)", "openvino", ir),
            (f"shipped {model.name} on OpenVINO (QDQ read by OV)", "openvino", model),
        ]
        if args.shipped_fp32:
            configs.append(
                (f"shipped weights, ORT FP32 ({args.shipped_fp32.name})", "onnxruntime", args.shipped_fp32)
            )
        if args.shipped_pt:
            configs.append((f"shipped weights, ultralytics YOLO(pt).predict ({args.shipped_pt.name})",
                            "ultralytics", args.shipped_pt))  # fmt: skip
        for label, backend, path in configs:
            row = {"config": label, "backend": backend, "size": 0, "model": str(path)}
            if not path.is_file():
                row["error"] = [f"missing {path}"]
            else:
                spec = {**base, "backend": backend, "model": str(path), "size": 0, "val": None}
                if backend == "ultralytics":  # the same 320x416 input as the exports
                    spec["input_hw"] = list(_card_input_hw(model))
                row.update(_run_worker(spec, sys.executable))
            rows.append(row)
            print(f"{label}: {row.get('p50_ms', row.get('error'))}", file=sys.stderr)
    result = {
        "benchmark": "detector",
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "processor": platform.processor(),
        },
        "versions": versions((*RUNTIME_MODULES, "torch", "ultralytics")),
        "parameters": {
            "threads": args.threads,
            "iterations": args.iterations,
            "frames": [f"{name} resized to {FRAME_WH[0]}x{FRAME_WH[1]}" for name in IMAGES],
            "weights": "yolov8n_coco_derived.pt and its ONNX exports (same weights)",
            "map": "coco8 val (4 images), conf 0.001, IoU 0.7, our numpy mAP",
        },
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown_table(rows))


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| config | input | p50 ms | p99 ms | FPS | pre+post p50 ms | peak RSS MB | coco8 mAP50 "
        "| vs ultralytics | vs ORT FP32 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    reference = {r["size"]: r["p50_ms"] for r in rows if r["backend"] == "ultralytics" and "p50_ms" in r}
    fp32 = {r["size"]: r["p50_ms"] for r in rows if "ORT FP32" in r["config"] and "p50_ms" in r}
    for r in rows:
        size = "x".join(str(v) for v in r.get("input_hw", [r["size"]] * 2))
        if "p50_ms" not in r:
            lines.append(f"| {r['config']} | {size} | skipped: {' '.join(r.get('error', []))[:80]} ||||||||")
            continue
        speedup = f"{reference[r['size']] / r['p50_ms']:.2f}×" if r["size"] in reference else "–"
        vs_fp32 = f"{fp32[r['size']] / r['p50_ms']:.2f}×" if r["size"] in fp32 else "–"
        map50 = f"{r['coco8_val_map50']:.3f}" if "coco8_val_map50" in r else "–"
        lines.append(
            f"| {r['config']} | {size} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['fps']:.1f} | "
            f"{r['pre_post_p50_ms']:.2f} | {r['peak_rss_mb']:.0f} | {map50} | {speedup} | {vs_fp32} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
