"""INT8 vs FP32 agreement on perturbed views of the real pictures: a wider, label-free check of the
real-world model than the 26 pictures (29 published boxes) its card is gated on.

Each real photo of ../shared/data gives ``--views`` camera frames (640x480): a random 4:3 window
of 50-100 % of the picture, mirrored half the time (``dev.real_model.random_view``, the cut the
calibration frames are made with), then one of: as is, dusk (gamma 1.6-2.4),
glare (gamma 0.5-0.7), blur (sigma 1-2), JPEG quality 30, sensor noise (sigma 8). Fixed seed, so
every run sees the same frames. The FP32 parent (ONNX Runtime) is the reference; each INT8 model
is matched to it one to one with the quantize gate's rule (same published class, IoU >= 0.5,
boxes >= 0.25, score margin 0.05, and strict: margin 0), split into the held-out pictures
(bus, zidane, dog, coco8 val: never used for calibration) and the other photos (person, horses,
coco8 train: calibration sources). "people and vehicles,
vehicles pooled" counts objects: ``car`` and ``large_vehicle`` are one class, and the boxes one
object got under both names are merged first, so a vehicle FP32 calls car and truck at once and
INT8 calls car is one vehicle found (the rover brakes for both).

Two FP32-against-itself rows give the scale: the FP32 parent on the same view moved by one pixel
(``fp32_shifted_1px``) and re-encoded as JPEG 95 (``fp32_jpeg95``). A box the strict rule loses
there is not lost to quantization: its score sits so near 0.25 that any change of the frame moves it
across. INT8 is judged against that floor, not against 100 %.

    python -m benchmarks.int8_robustness --fp32 /tmp/real_model/edge_rover_yolov8n_coco_fp32.onnx [--views 48]

The FP32 parent is built by ``dev.train_detector --domain real --stages export`` (train extra;
its card's ``reproduce`` line). Writes benchmarks/results/int8_robustness.json, prints a table.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.machine import versions
from dev.real_model import CLASS_TABLE, SCORE_MARGIN, calibration_sources, held_out_images, random_view
from edge_rover.perception.detection.agreement import agreement_by_class
from edge_rover.perception.detection.detector import Detector, DetectorConfig
from edge_rover.perception.detection.postprocess import class_aware_nms
from edge_rover.perception.detection.types import Detections

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "int8_robustness.json"
CANDIDATES = {
    "openvino_ir": ("models/edge_rover_yolov8n_coco_int8_openvino.xml", "openvino"),
    "ort_qdq": ("models/edge_rover_yolov8n_coco_int8.onnx", "onnxruntime"),
}


def shifted_1px(frame: np.ndarray) -> np.ndarray:
    """The frame moved one pixel right, the new column a copy of its neighbour (camera jitter)."""
    shift = np.float32([[1, 0, 1], [0, 1, 0]])
    return cv2.warpAffine(frame, shift, frame.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """The frame after a JPEG round trip at ``quality``."""
    return cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def jpeg95(frame: np.ndarray) -> np.ndarray:
    return jpeg(frame, 95)


# the FP32 parent against itself on a barely changed frame: the floor of the strict rule
FLOORS = {"fp32_shifted_1px": shifted_1px, "fp32_jpeg95": jpeg95}
PEOPLE_AND_VEHICLES = ("person", "bicycle", "car", "motorcycle", "large_vehicle")
POOLED = {"large_vehicle": "car"}  # one vehicle class for the pooled count
CONF, MARGIN, IOU = 0.25, SCORE_MARGIN, 0.5


def pictures() -> dict[str, list[Path]]:
    """The held-out pictures, and the other photos (the calibration sources but the chessboards)."""
    held_out = held_out_images()
    rest = [p for p in calibration_sources() if "calib" not in p.parts]
    missing = [p for p in held_out if not p.is_file()]
    if missing or not rest:
        raise SystemExit(
            f"missing real pictures: {', '.join(map(str, missing)) or 'the photos'} "
            "(see ../shared/data/README.md)"
        )
    return {"held_out": held_out, "rest": rest}


def views(image: np.ndarray, count: int, rng: random.Random) -> Iterator[np.ndarray]:
    """``count`` camera frames from one picture (see the module docstring)."""
    for k in range(count):
        yield _perturb(random_view(image, rng), k % 6, rng)


def _perturb(frame: np.ndarray, kind: int, rng: random.Random) -> np.ndarray:
    if kind in (1, 2):  # dusk / glare
        gamma = rng.uniform(1.6, 2.4) if kind == 1 else rng.uniform(0.5, 0.7)
        return np.clip(255.0 * (frame / 255.0) ** gamma, 0, 255).astype(np.uint8)
    if kind == 3:
        return cv2.GaussianBlur(frame, (0, 0), rng.uniform(1.0, 2.0))
    if kind == 4:
        return jpeg(frame, 30)
    if kind == 5:
        noise = np.random.default_rng(rng.getrandbits(32)).normal(0.0, 8.0, frame.shape)
        return np.clip(frame + noise, 0, 255).astype(np.uint8)
    return frame


def detector(path: str, backend: str) -> Detector:
    # 0.20: the boxes the 0.05 score margin forgives must be there to be found
    config = DetectorConfig(str(REPO / path) if not Path(path).is_absolute() else path, backend=backend,
                            conf_threshold=CONF - MARGIN, class_table=str(CLASS_TABLE))  # fmt: skip
    return Detector(config, log=lambda _m: None)


def pooled(detections: Detections) -> Detections:
    """One box per object for the pooled count. Classes are renamed by POOLED, then the boxes one
    object got under both names are merged by NMS within the pooled class (the higher score kept,
    at the detector's own NMS overlap): FP32 often calls one pickup both car 0.58 and truck 0.51,
    and without the merge its truck box counts as a vehicle INT8 missed when INT8 says car only."""
    names = tuple(POOLED.get(n, n) for n in detections.class_names)
    if len(detections) == 0:
        return Detections(detections.boxes, detections.scores, detections.class_ids, names)
    first_id = np.asarray([names.index(n) for n in names], dtype=np.int32)  # one id per pooled name
    ids = first_id[detections.class_ids]
    keep = class_aware_nms(detections.boxes, detections.scores, ids, DetectorConfig.iou_threshold)
    return Detections(detections.boxes[keep], detections.scores[keep], ids[keep], names)


def figures(reference: list[Detections], candidate: list[Detections]) -> dict:
    out = {}
    for label, margin in (("margin", MARGIN), ("strict", 0.0)):
        total, per_class = agreement_by_class(reference, candidate, IOU, conf=CONF, margin=margin)
        _, pooled_classes = agreement_by_class(
            [pooled(d) for d in reference], [pooled(d) for d in candidate], IOU, conf=CONF, margin=margin
        )
        road = [per_class[c] for c in PEOPLE_AND_VEHICLES if c in per_class]
        road_pooled = [
            pooled_classes[c] for c in ("person", "bicycle", "car", "motorcycle") if c in pooled_classes
        ]
        out[label] = {
            "all_published": _row(total.reference_boxes, total.matched),
            "people_and_vehicles": _row(sum(r.reference_boxes for r in road), sum(r.matched for r in road)),
            "people_and_vehicles_pooled": _row(
                sum(r.reference_boxes for r in road_pooled), sum(r.matched for r in road_pooled)
            ),
            "per_class": {n: _row(r.reference_boxes, r.matched) for n, r in per_class.items()},
        }
    return out


def _row(reference: int, matched: int) -> dict:
    return {
        "fp32_boxes": reference,
        "found": matched,
        "recall": round(matched / reference, 4) if reference else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--fp32", type=Path, required=True, help="the FP32 parent ONNX of the real-world model"
    )
    parser.add_argument("--views", type=int, default=48, help="frames per picture (default 48)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not args.fp32.is_file():
        raise SystemExit(f"--fp32 {args.fp32}: not found (build it: see this script's docstring)")
    rng = random.Random(args.seed)
    sets = {name: [v for p in paths for v in views(cv2.imread(str(p)), args.views, rng)]
            for name, paths in pictures().items()}  # fmt: skip
    reference_model = detector(str(args.fp32), "onnxruntime")
    # each row: a model and what it is shown of each view (the INT8 files the view itself, the
    # floors the FP32 parent on the view barely changed)
    rows = {name: (detector(path, backend), None) for name, (path, backend) in CANDIDATES.items()}
    rows.update({name: (reference_model, change) for name, change in FLOORS.items()})
    command = f"python -m benchmarks.int8_robustness --fp32 <parent> --views {args.views} --seed {args.seed}"
    report: dict = {"benchmark": "int8_robustness", "command": command, "versions": versions(), "sets": {}}
    for set_name, frames in sets.items():
        reference = [reference_model.detect(f).detections for f in tqdm(frames, desc=f"{set_name} fp32")]
        entry = {"frames": len(frames)}
        for name, (model, change) in rows.items():
            shown = frames if change is None else [change(f) for f in frames]
            candidate = [model.detect(f).detections for f in tqdm(shown, desc=f"{set_name} {name}")]
            entry[name] = figures(reference, candidate)
        report["sets"][set_name] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"\nwrote {args.out}")
    return 0


def print_table(report: dict) -> None:
    print("| set | frames | model | all published (margin / strict) | people+vehicles (margin / strict) | "
          "people+vehicles, vehicles pooled (margin / strict) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for set_name, entry in report["sets"].items():
        for name in (*CANDIDATES, *FLOORS):
            cells = [
                " / ".join(_cell(entry[name][mode][key]) for mode in ("margin", "strict"))
                for key in ("all_published", "people_and_vehicles", "people_and_vehicles_pooled")
            ]
            print(f"| {set_name} | {entry['frames']} | {name} | " + " | ".join(cells) + " |")


def _cell(row: dict) -> str:
    return f"{row['found']}/{row['fp32_boxes']} ({row['recall'] * 100:.1f} %)" if row["fp32_boxes"] else "-"


if __name__ == "__main__":
    raise SystemExit(main())
