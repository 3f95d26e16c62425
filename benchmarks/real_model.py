"""Real-world model vs simulator model vs ultralytics predict: latency, CPU at 30 FPS, input shape.

Same frames (the real photos of ../shared/data/images resized to a 640x480 rover frame), same
thread count, one process, the configurations **interleaved** frame by frame (so a load change on
this shared machine hits all of them alike):

- ``real_ov``: models/edge_rover_yolov8n_coco_int8_openvino.xml (OpenVINO INT8, the rover's model)
- ``sim_ov``: models/edge_rover_yolov8n_int8_openvino.xml (OpenVINO INT8, the simulator's model)
- ``real_ort``: models/edge_rover_yolov8n_coco_int8.onnx (ONNX Runtime INT8, where OpenVINO is absent)
- ``ultralytics``: ``YOLO(yolov8n_coco_derived.pt).predict`` on the same weights, imgsz 480x640

Each ``detect`` is the whole frame (letterbox, model, decode, NMS). Then each OpenVINO model runs
paced at 30 FPS for ``--cpu-seconds`` and its process CPU time over wall time is the detector's
CPU share (100 % = one core). ``--sim-val`` adds each model in the other's world (sim val mAP50,
share of the COCO FP32 people/bicycles/cars found on the real pictures). ``--shapes WORK`` adds
the input-shape study of the real model (FP32
exports at 480x640 and 384x640 in WORK: coco8 val mAP50, agreement of 384 with 480, latency).

    /work/venv-train/bin/python benchmarks/real_model.py [--iterations 60] [--shapes /tmp/real_model] \
        [--sim-val /tmp/simval/images/val]   # python -m simulation render --train 0 --val 150 --seed 5

Writes benchmarks/results/real_model.json and prints a table. Needs the train extra (ultralytics).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.detector import FRAME_WH, IMAGES, PT_MODEL, SHARED, _frames  # noqa: E402  (same pictures)
from benchmarks.machine import load_average, versions  # noqa: E402  (after the sys.path line)

MODELS = {
    "real_ov": ("models/edge_rover_yolov8n_coco_int8_openvino.xml", "openvino"),
    "sim_ov": ("models/edge_rover_yolov8n_int8_openvino.xml", "openvino"),
    "real_ort": ("models/edge_rover_yolov8n_coco_int8.onnx", "onnxruntime"),
}


def _stats(values: list[float]) -> dict:
    import numpy as np

    p50, p99 = (round(float(np.percentile(values, q)), 2) for q in (50, 99))
    return {"p50_ms": p50, "p99_ms": p99}


def latency(threads: int, iterations: int) -> dict:
    """Interleaved per-frame latency of every configuration (round-robin, rotating the order)."""
    from edge_rover.perception.detection.detector import Detector, DetectorConfig

    runners = {}
    for key, (path, backend) in MODELS.items():
        detector = Detector(DetectorConfig(model_path=str(REPO / path), backend=backend, threads=threads))
        runners[key] = detector.detect
    import torch
    from ultralytics import YOLO

    torch.set_num_threads(threads)
    yolo = YOLO(str(PT_MODEL), task="detect")

    def predict(frame):
        return yolo.predict(frame, imgsz=[480, 640], conf=0.25, iou=0.45, verbose=False, device="cpu")

    runners["ultralytics"] = predict
    frames = _frames()
    for run in runners.values():  # warm-up
        for frame in frames:
            run(frame)
    times: dict[str, list[float]] = {k: [] for k in runners}
    keys = list(runners)
    for i in range(iterations):
        frame = frames[i % len(frames)]
        for key in keys[i % len(keys) :] + keys[: i % len(keys)]:
            t0 = time.perf_counter()
            runners[key](frame)
            times[key].append((time.perf_counter() - t0) * 1e3)
    return {k: _stats(v) for k, v in times.items()}


def cpu_at_fps(threads: int, seconds: float, fps: float = 30.0) -> dict:
    """Process CPU time / wall time while detecting at a fixed frame rate (100 % = one core)."""
    from edge_rover.perception.detection.detector import Detector, DetectorConfig

    frames = _frames()
    out = {}
    for key in ("real_ov", "sim_ov", "real_ort"):
        path, backend = MODELS[key]
        detector = Detector(DetectorConfig(model_path=str(REPO / path), backend=backend, threads=threads))
        for frame in frames:
            detector.detect(frame)
        period, late = 1.0 / fps, 0
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        n = int(seconds * fps)
        for i in range(n):
            detector.detect(frames[i % len(frames)])
            wait = start_wall + (i + 1) * period - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                late += 1
        wall = time.perf_counter() - start_wall
        out[key] = {
            "cpu_percent": round(100 * (time.process_time() - start_cpu) / wall, 1),
            "frames": n,
            "late_frames": late,
            "achieved_fps": round(n / wall, 1),
        }
    return out


def shapes(work: Path, threads: int) -> dict:
    """FP32 480x640 vs 384x640 of the real model: coco8 mAP50, 384's agreement with 480, latency."""
    import cv2
    import numpy as np

    from edge_rover.perception.detection.agreement import agreement_by_class
    from edge_rover.perception.detection.detector import Detector, DetectorConfig
    from edge_rover.perception.detection.evaluation import evaluate, list_images

    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    real = sorted((SHARED / "images").glob("*.jpg")) + sorted((SHARED / "images" / "calib").glob("*.jpg"))
    real += sorted((SHARED / "coco8" / "images").glob("*/*.jpg"))
    rover_frames = [cv2.resize(cv2.imread(str(p)), FRAME_WH, interpolation=cv2.INTER_AREA) for p in real]
    out: dict = {"frames": len(rover_frames), "note": "real pictures resized to the 640x480 rover frame"}
    dets = {}
    for hw in ((480, 640), (384, 640)):
        path = work / f"shape_fp32_{hw[0]}x{hw[1]}.onnx"
        if not path.is_file():
            weights = work / PT_MODEL.name
            if not weights.is_file():
                weights.write_bytes(PT_MODEL.read_bytes())
            exported = YOLO(str(weights)).export(format="onnx", imgsz=list(hw), simplify=True, opset=17)
            Path(exported).rename(path)
        detector = Detector(DetectorConfig(model_path=str(path), backend="onnxruntime", threads=threads))
        dets[hw] = [detector.detect(f).detections for f in rover_frames]
        evaluator = Detector(
            DetectorConfig(model_path=str(path), backend="onnxruntime", threads=threads,
                           conf_threshold=0.001, iou_threshold=0.7, max_detections=300)
        )  # fmt: skip

        def predict(image, ev=evaluator):
            d = ev.detect(image).detections
            return d.boxes, d.scores, d.class_ids

        mean_ap = evaluate(predict, list_images(SHARED / "coco8" / "images" / "val"))
        run_ms = []
        for i in range(30):
            x, _ = detector.prepare(rover_frames[i % len(rover_frames)])
            t0 = time.perf_counter()
            detector.backend.run(x)
            run_ms.append((time.perf_counter() - t0) * 1e3)
        out[f"{hw[0]}x{hw[1]}"] = {
            "coco8_val_map50": round(mean_ap.map50, 4),
            "boxes": sum(len(d) for d in dets[hw]),
            "ort_fp32_run_p50_ms": round(float(np.median(run_ms)), 2),
        }
    total, _ = agreement_by_class(dets[(480, 640)], dets[(384, 640)], 0.5)
    out["384x640_vs_480x640"] = total.as_dict()
    return out


SHARED_CLASSES = ("person", "bicycle", "car")  # the classes both models have


def cross_domain(sim_val: Path, threads: int) -> dict:
    """Each OpenVINO model in the other's world: mAP50 on simulator val frames (all 5 sim classes,
    and person/bicycle/car only), and on the 26 real pictures the share of the COCO FP32 parent's
    person/bicycle/car boxes (conf 0.25, tests/.../real_fp32_reference.json) found at IoU >= 0.5."""
    import cv2
    import numpy as np

    from edge_rover.perception.detection.agreement import agreement_by_class
    from edge_rover.perception.detection.detector import Detector, DetectorConfig
    from edge_rover.perception.detection.evaluation import collect_frames, list_images, mean_average_precision
    from edge_rover.perception.detection.types import Detections

    reference = json.loads((REPO / "tests/perception/detection/data/real_fp32_reference.json").read_text())
    table = str(REPO / "config" / "classes.yaml")
    out: dict = {"sim_val": str(sim_val), "real_pictures": len(reference["images"])}
    for key in ("real_ov", "sim_ov"):
        path, backend = MODELS[key]
        keep = SHARED_CLASSES if key == "real_ov" else ()
        common = {"model_path": str(REPO / path), "backend": backend, "threads": threads}
        common.update(class_table=table, keep_classes=keep)
        evaluator = Detector(
            DetectorConfig(**common, conf_threshold=0.001, iou_threshold=0.7, max_detections=300)
        )
        assert evaluator.class_names[:3] == SHARED_CLASSES  # = the sim ids 0, 1, 2

        def predict(image, ev=evaluator):
            d = ev.detect(image).detections
            return d.boxes, d.scores, d.class_ids

        result = mean_average_precision(collect_frames(predict, list_images(sim_val)))
        shared_ap = [result.per_class_ap50.get(i, 0.0) for i in range(3)]
        detector = Detector(DetectorConfig(**common, conf_threshold=0.25))
        ours, theirs = [], []
        for relative, rows in sorted(reference["images"].items()):
            found = detector.detect(cv2.imread(str(SHARED / relative))).detections
            keep = np.array([n in SHARED_CLASSES for n in found.names()], bool)
            ours.append(
                Detections(found.boxes[keep], found.scores[keep], found.class_ids[keep], found.class_names)
            )
            rows = [r for r in rows if r["class"] in SHARED_CLASSES and r["score"] >= 0.25]
            index = {n: i for i, n in enumerate(found.class_names)}
            theirs.append(Detections(
                np.array([r["box"] for r in rows], np.float32).reshape(-1, 4),
                np.array([r["score"] for r in rows], np.float32),
                np.array([index[r["class"]] for r in rows], np.int32), found.class_names,
            ))  # fmt: skip
        total, per_class = agreement_by_class(theirs, ours, 0.5)
        out[key] = {
            "sim_val_map50_5_classes": round(result.map50, 4)
            if key == "sim_ov"
            else round(sum(shared_ap) / 5, 4),
            "sim_val_map50_person_bicycle_car": round(sum(shared_ap) / 3, 4),
            "sim_val_ap50": dict(zip(SHARED_CLASSES, (round(a, 4) for a in shared_ap), strict=True)),
            "real_fp32_boxes_found": total.as_dict(),
            "real_people_found": per_class["person"].as_dict() if "person" in per_class else None,
        }
    return out


def _carry_over(result: dict, out: Path) -> None:
    """Keep the sections this run did not measure (``--shapes``, ``--sim-val``) from the file it
    replaces, with that run's command under ``carried_over``: a latency re-run does not drop them."""
    if not out.is_file():
        return
    earlier = json.loads(out.read_text())
    kept = [k for k in ("input_shape", "cross_domain") if k in earlier and k not in result]
    if kept:
        for key in kept:
            result[key] = earlier[key]
        carried = earlier.get("carried_over", {})
        source = {k: carried.get(k, earlier["command"]) for k in kept}
        result["carried_over"] = {**{k: v for k, v in carried.items() if k in kept}, **source}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    parser.add_argument("--shapes", type=Path, help="work folder for the input-shape study (FP32 exports)")
    parser.add_argument(
        "--sim-val",
        type=Path,
        help="simulator val frames (python -m simulation render --train 0 --val 150 --seed 5)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "real_model.json")
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    result: dict = {
        "command": "python benchmarks/real_model.py " + " ".join(sys.argv[1:]),
        "threads": args.threads,
        "frames": f"{', '.join(IMAGES)} resized to {FRAME_WH[0]}x{FRAME_WH[1]}",
        "load_average_before": load_average(),
        "versions": versions(("numpy", "cv2", "onnxruntime", "openvino", "torch", "ultralytics")),
        "latency": latency(args.threads, args.iterations),
    }
    lat = result["latency"]
    result["ratios"] = {
        "real_ov / sim_ov (p50)": round(lat["real_ov"]["p50_ms"] / lat["sim_ov"]["p50_ms"], 2),
        "ultralytics / real_ov (p50)": round(lat["ultralytics"]["p50_ms"] / lat["real_ov"]["p50_ms"], 2),
    }
    result["cpu_at_30fps"] = cpu_at_fps(args.threads, args.cpu_seconds)
    if args.shapes:
        result["input_shape"] = shapes(args.shapes, args.threads)
    if args.sim_val:
        result["cross_domain"] = cross_domain(args.sim_val, args.threads)
    result["load_average_after"] = load_average()
    _carry_over(result, args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| config | p50 ms | p99 ms | CPU % at 30 FPS |")
    print("|---|---|---|---|")
    for key, row in lat.items():
        cpu = result["cpu_at_30fps"].get(key, {}).get("cpu_percent", "–")
        print(f"| {key} | {row['p50_ms']} | {row['p99_ms']} | {cpu} |")
    for name, ratio in result["ratios"].items():
        print(f"{name}: {ratio}x")
    for key in ("input_shape", "cross_domain"):
        if key in result:
            print(json.dumps(result[key], indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
