"""The real-world detector (``python -m dev.train_detector --domain real``): COCO weights, real frames.

No training: the COCO-derived YOLOv8n checkpoint of ../shared/data is exported at the rover's frame
shape, quantized (ONNX Runtime QDQ and OpenVINO NNCF IR) on real photos, and gated label-free
against its own FP32 export (quantize ``--agree``) on every real image of ../shared/data, plus mAP
on the labelled coco8 val images. Needs the train extra (requirements/train.txt).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import cv2
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CLASS_TABLE = REPO / "config" / "classes.yaml"
# The named test pictures (tests/perception/detection/test_real_model.py): never calibration frames.
TEST_PICTURES = ("bus.jpg", "zidane.jpg", "dog.jpg")
CALIB_FRAMES = 200
FRAME_WH = (640, 480)  # the rover's camera frame
SCORE_MARGIN = 0.05  # the quantize CLI's default --score-margin
MAX_MAP_DROP = 3.0  # points, on 4 labelled images (17 boxes): one box is worth several points there


def real_images() -> list[Path]:
    """Every real picture of ../shared/data: 5 photos, 13 chessboard views, 8 coco8 images (26)."""
    images = sorted((SHARED / "images").glob("*.jpg")) + sorted((SHARED / "images" / "calib").glob("*.jpg"))
    return images + sorted((SHARED / "coco8" / "images").glob("*/*.jpg"))


def held_out_images() -> list[Path]:
    """Real pictures no calibration frame comes from: the named test pictures and coco8 val."""
    return [SHARED / "images" / n for n in TEST_PICTURES] + sorted(
        (SHARED / "coco8" / "images" / "val").glob("*.jpg")
    )


def calibration_sources() -> list[Path]:
    """Real pictures the calibration frames are cut from: every real image but the held-out ones."""
    held = set(held_out_images())
    return [p for p in real_images() if p not in held]


def random_view(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """A random 4:3 window (50-100 % of the largest one), maybe mirrored, as a 640x480 frame: what
    a rover camera sees of the same scene from nearer or aside."""
    height, width = image.shape[:2]
    base_w = min(width, height * 4 // 3)
    crop_w = max(32, int(base_w * rng.uniform(0.5, 1.0)))
    crop_h = crop_w * 3 // 4
    x, y = rng.randint(0, width - crop_w), rng.randint(0, height - crop_h)
    frame = cv2.resize(image[y : y + crop_h, x : x + crop_w], FRAME_WH, interpolation=cv2.INTER_AREA)
    return frame[:, ::-1].copy() if rng.random() < 0.5 else frame


def prepare_frames(work: Path, seed: int) -> tuple[Path, Path]:
    """(calibration folder, agreement folder) under ``work``.

    Calibration: CALIB_FRAMES frames from the 19 real pictures that are not held out (coco8 train,
    person.jpg, horses.jpg, the 13 chessboard views): the 6 photos whole, then 640x480 crops, three
    photo crops for every chessboard one. Agreement: all 26 real pictures as they are.
    """
    rng = random.Random(seed)
    calib, agree = work / "real_calib", work / "real_agree"
    for folder in (calib, agree):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    sources = calibration_sources()
    photos = [p for p in sources if "calib" not in p.parts]
    boards = [p for p in sources if "calib" in p.parts]
    loaded = {p: cv2.imread(str(p)) for p in sources}
    for i, source in enumerate(photos):  # each photo whole too: letterbox padding, objects at full size
        cv2.imwrite(str(calib / f"{i:03d}_{source.stem}.jpg"), loaded[source])
    for i in range(len(photos), CALIB_FRAMES):
        pool = boards if i % 4 == 3 else photos
        source = pool[(i // 4) % len(pool)] if pool is boards else pool[i % len(pool)]
        cv2.imwrite(str(calib / f"{i:03d}_{source.stem}.jpg"), random_view(loaded[source], rng))
    for path in real_images():
        prefix = "coco8_" if "coco8" in path.parts else ""
        (agree / f"{prefix}{path.name}").symlink_to(path)
    return calib, agree


def quantize(fp32: Path, work: Path, name: str, seed: int, engine: str = "onnxruntime") -> Path | None:
    """One INT8 model through the quantize CLI (label-free gate + coco8 mAP); None if refused."""
    from edge_rover.perception.detection import quantize as q

    calib, agree = work / "real_calib", work / "real_agree"
    out = work / (f"{name}.onnx" if engine == "onnxruntime" else f"{name}_openvino.xml")
    report = work / f"quantize_{engine}_report.json"
    code = q.main(
        ["--engine", engine, "--model", str(fp32), "--calib", str(calib), "--num-calib", str(CALIB_FRAMES),
         "--calib-stride", "20", "--agree", str(agree), "--class-table", str(CLASS_TABLE),
         "--val", str(SHARED / "coco8" / "images" / "val"), "--max-drop", str(MAX_MAP_DROP),
         "--out", str(out), "--seed", str(seed), "--report", str(report)]
        + (["--method", "nncf"] if engine == "onnxruntime" else [])
    )  # fmt: skip
    return out if code == 0 else None


def held_out_agreement(fp32: Path, int8: Path, backend: str) -> dict:
    """INT8 vs FP32 on the 7 held-out real pictures only (no calibration frame came from them):
    with the gate's score margin and strict."""
    from edge_rover.perception.detection.agreement import agreement_by_class
    from edge_rover.perception.detection.quantize import AGREE_CONF, detect_frames

    frames = [cv2.imread(str(p)) for p in held_out_images()]
    out: dict = {"images": [p.name for p in held_out_images()]}
    for key, table in (("all_classes", None), ("table_classes", str(CLASS_TABLE))):
        reference = detect_frames(fp32, frames, 2, "onnxruntime", table, AGREE_CONF - SCORE_MARGIN)
        candidate = detect_frames(int8, frames, 2, backend, table, AGREE_CONF - SCORE_MARGIN)
        out[key] = agreement_by_class(reference, candidate, 0.5, AGREE_CONF, SCORE_MARGIN)[0].as_dict()
        out[f"{key}_strict"] = agreement_by_class(reference, candidate, 0.5, AGREE_CONF)[0].as_dict()
    return out


REFERENCE_JSON = REPO / "tests" / "perception" / "detection" / "data" / "real_fp32_reference.json"


def write_fp32_reference(fp32: Path, target: Path = REFERENCE_JSON) -> Path:
    """The FP32 parent's detections on every real picture (conf 0.25, NMS 0.45, all 80 classes):
    the reference the tests hold the shipped INT8 model to (the 12.8 MB FP32 export is not shipped)."""
    from edge_rover.perception.detection.model_card import file_sha256
    from edge_rover.perception.detection.quantize import detect_frames

    images = real_images()
    # at 0.20: the agreement tests count boxes >= 0.25 and forgive a score margin of 0.05
    detections = detect_frames(fp32, [cv2.imread(str(p)) for p in images], 2, "onnxruntime", None, 0.2)
    data = {
        "what": "detections of the FP32 parent of models/edge_rover_yolov8n_coco_int8 (ONNX Runtime CPU, "
        "conf 0.20, class-aware NMS 0.45, boxes x1 y1 x2 y2 in image pixels); written by "
        "dev/real_model.py (train_detector --domain real, card stage)",
        "fp32_model": fp32.name,
        "fp32_sha256": file_sha256(fp32),
        "images": {
            str(p.relative_to(SHARED)): [
                {"class": name, "score": round(float(score), 4), "box": [round(float(v), 1) for v in box]}
                for name, score, box in zip(d.names(), d.scores, d.boxes, strict=True)
            ]
            for p, d in zip(images, detections, strict=True)
        },
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=1) + "\n")
    return target


def _bench_latency(key: str) -> dict | None:
    """This model's row of the last benchmarks/real_model.py run (real_ov / real_ort), if any."""
    bench = REPO / "benchmarks" / "results" / "real_model.json"
    if not bench.is_file():
        return None
    result = json.loads(bench.read_text())
    row = result["latency"].get(key)
    if row is None:
        return None
    return {
        "command": result["command"] + f" ({result['threads']} threads, 640x480 frames, whole detect())",
        **row,
        "cpu_percent_at_30fps": result.get("cpu_at_30fps", {}).get(key, {}).get("cpu_percent"),
    }


def card(work: Path, name: str, input_hw: tuple[int, int], seed: int) -> list[Path]:
    """models/<name>.onnx (+ IR) with their cards and models/<name>.md, from the gate reports."""
    from dev.train_detector import input_description
    from edge_rover.perception.detection.class_profiles import map_model_classes

    models = REPO / "models"
    written = []
    fp32 = work / f"{name.replace('_int8', '')}_fp32.onnx"
    sections = []
    for engine in ("onnxruntime", "openvino"):
        report_path = work / f"quantize_{engine}_report.json"
        if not report_path.is_file():
            shipped = models / f"{name}{'' if engine == 'onnxruntime' else '_openvino'}.card.yaml"
            if shipped.is_file():  # not rebuilt this run (its stage not given): its card as shipped
                print(f"{engine}: not quantized in this run; {shipped.name} kept as it is")
                sections.append(_markdown(yaml.safe_load(shipped.read_text())))
            continue
        report = json.loads(report_path.read_text())
        if not report.get("accepted"):
            print(f"{engine}: refused ({report['verdict']}); not shipped")
            continue
        model = Path(report["int8_model"])
        shutil.copyfile(model, models / model.name)
        if engine == "openvino":
            shutil.copyfile(model.with_suffix(".bin"), models / model.with_suffix(".bin").name)
        names = _model_names(fp32)
        table = map_model_classes(names, CLASS_TABLE)
        agreement = report["agreement"]
        data = {
            "name": model.stem,
            "file": model.name,
            "sha256": report["int8_sha256"],
            "bytes": report["int8_bytes"],
            **(_ir_files(model, report) if engine == "openvino" else {}),
            "architecture": "YOLOv8n (ultralytics 8.4.190), detect head, COCO-80 classes",
            "domain": "real",
            "classes": names,
            "published_classes": {
                "class_table": "config/classes.yaml (detector parameter class_table)",
                "kept": list(table.keep),
                "renamed": table.remap,
                "dropped": len(table.dropped),
            },
            "input_hw": list(input_hw),
            "input": input_description(input_hw),
            "output": "1x84x(N) = cx, cy, w, h (input pixels) + 80 class scores (sigmoid), no NMS",
            "quantization": QUANTIZATION[engine]
            + f"calibration on {CALIB_FRAMES} real frames; final box/class decode left in FP32",
            "calibration_frames": (
                f"{CALIB_FRAMES} 640x480 frames cut (random 4:3 windows of 50-100 %, half mirrored, seed "
                f"{seed}) from the 19 real pictures of ../shared/data that are not held out: coco8 train "
                "(4), person.jpg, horses.jpg, the 13 chessboard views (one frame in four); never from "
                f"{', '.join(TEST_PICTURES)} or coco8 val"
            ),
            "initialisation": "../shared/data/models/yolov8n_coco_derived.pt (COCO-80, AGPL-3.0); "
            "not trained further",
            "evaluation": {
                "agreement": {
                    "what": "INT8 boxes vs its FP32 parent's (same export) at conf 0.25, NMS 0.45: "
                    "one to one, same class, IoU >= 0.5; no labels",
                    "set": f"all {agreement['frames']} real pictures of ../shared/data (5 photos, "
                    "13 chessboard views, 8 coco8)",
                    "published_classes": agreement["table_classes"]["total"],
                    "published_classes_strict": agreement["table_classes"]["strict_total"],
                    "all_coco_classes": agreement["all_classes"]["total"],
                    "all_coco_classes_strict": agreement["all_classes"]["strict_total"],
                    "per_class": agreement["table_classes"]["per_class"],
                    "held_out_only": held_out_agreement(fp32, model, engine),  # work copy: no stale card
                    "gate": agreement["verdict"],
                },
                "coco8_val": {
                    "set": "coco8 val (4 images, 17 boxes), conf 0.001, NMS IoU 0.7, our numpy "
                    "COCO-style mAP",
                    "fp32": report["fp32"],
                    "int8": report["int8"],
                    "gate": report["verdict"].split("; INT8 vs FP32")[0],
                },
            },
            "license": "AGPL-3.0 (Ultralytics YOLOv8n weights)",
            "reproduce": "/work/venv-train/bin/python -m dev.train_detector --domain real --work "
            f"/tmp/real_model --input-hw {input_hw[0]}x{input_hw[1]} --seed {seed} "
            "--stages export quantize openvino card",
        }
        latency = _bench_latency("real_ort" if engine == "onnxruntime" else "real_ov")
        if latency:
            data["latency"] = latency
        path = models / f"{model.stem}.card.yaml"
        header = (
            f"# Model card of the real-world detector ({engine}; written by dev/train_detector.py "
            "--domain real)\n"
        )
        path.write_text(header + yaml.safe_dump(data, sort_keys=False, width=100, allow_unicode=True))
        written.append(path)
        sections.append(_markdown(data))
    if sections:
        (models / f"{name}.md").write_text("\n".join(sections))
    return written


QUANTIZATION = {
    "onnxruntime": "static QDQ ONNX written by NNCF's ONNX backend (quantize --method nncf: mixed preset, "
    "per-channel int8 weights, uint8 activations, bias correction), run by ONNX Runtime, ",
    "openvino": "OpenVINO IR, NNCF post-training INT8 (mixed preset), SiLU as Swish, the detect head's 3 "
    "last class convolutions (1x1, 64 -> 80 logits) left in FP32 (quantize.class_conv_names), ",
}


def _ir_files(model: Path, report: dict) -> dict:
    return {"weights_file": model.with_suffix(".bin").name, "bin_sha256": report["int8_bin_sha256"]}


def _model_names(model: Path) -> list[str]:
    import onnx

    from edge_rover.perception.detection.backends import names_from_metadata

    meta = {p.key: p.value for p in onnx.load(str(model), load_external_data=False).metadata_props}
    return names_from_metadata(meta)


def _markdown(card: dict) -> str:
    ev = card["evaluation"]
    agree, coco = ev["agreement"], ev["coco8_val"]
    pub, allc, held = agree["published_classes"], agree["all_coco_classes"], agree["held_out_only"]
    lines = [
        f"# {card['name']} — model card (domain: real)",
        "",
        f"`{card['file']}` ({card['bytes'] / 1e6:.2f} MB), sha256 `{card['sha256']}`"
        + (f", `{card['weights_file']}` sha256 `{card['bin_sha256']}`" if "bin_sha256" in card else "")
        + f"; machine-readable card `{card['name']}.card.yaml`.",
        "",
        f"- **Architecture**: {card['architecture']}; {card['initialisation']}",
        "- **Published classes** (config/classes.yaml, by name): "
        f"{', '.join(card['published_classes']['kept'])}; renamed {card['published_classes']['renamed']}; "
        f"{card['published_classes']['dropped']} other COCO "
        "classes dropped",
        f"- **Input**: {card['input']}",
        f"- **Quantization**: {card['quantization']}",
        f"- **Calibration frames**: {card['calibration_frames']}",
        f"- **Reproduce**: `{card['reproduce']}`",
        f"- **License**: {card['license']}",
        "",
        f"## INT8 vs FP32 on real pictures ({agree['what']}; score margin {SCORE_MARGIN} unless strict)",
        "",
        "| set | FP32 boxes | INT8 boxes | matched | recall | precision |",
        "|---|---|---|---|---|---|",
    ]
    for label, row in (
        (f"{agree['set']}, published classes (gated)", pub),
        ("same, strict (no score margin)", agree["published_classes_strict"]),
        ("same, all 80 COCO classes", allc),
        ("same, all 80 COCO classes, strict", agree["all_coco_classes_strict"]),
        ("held out only (bus, zidane, dog, coco8 val), published", held["table_classes"]),
        ("held out only, published, strict", held["table_classes_strict"]),
    ):
        lines.append(
            f"| {label} | {row['reference_boxes']} | {row['candidate_boxes']} | {row['matched']} | "
            f"{row['recall']:.1%} | {row['precision']:.1%} |"
        )
    lines += [
        "",
        f"Gate: {agree['gate']}.",
        "",
        f"## coco8 val ({coco['set']})",
        "",
        "| model | mAP50 | mAP50-95 |",
        "|---|---|---|",
        f"| FP32 | {coco['fp32']['mAP50']:.4f} | {coco['fp32']['mAP50-95']:.4f} |",
        f"| INT8 | {coco['int8']['mAP50']:.4f} | {coco['int8']['mAP50-95']:.4f} |",
        "",
        f"Gate: {coco['gate']}.",
        "",
    ]
    if "latency" in card:
        lat = card["latency"]
        lines += [
            f"Latency (`{lat['command']}`):",
            "",
            "| p50 ms | p99 ms | CPU % of one core at 30 FPS |",
            "|---|---|---|",
            f"| {lat['p50_ms']} | {lat['p99_ms']} | {lat['cpu_percent_at_30fps']} |",
            "",
        ]
    return "\n".join(lines)


def run(args) -> None:
    """The ``--domain real`` stages: export, quantize (ORT), openvino (NNCF IR), card."""
    from dev.train_detector import INIT, export

    work, name = args.work, args.name or "edge_rover_yolov8n_coco_int8"
    fp32 = work / f"{name.replace('_int8', '')}_fp32.onnx"
    if {"render", "train"} & set(args.stages):
        print("--domain real: no render/train stage (the COCO weights are used as they are)")
    if "export" in args.stages:
        # ultralytics writes its export beside the weights: a copy in work, never ../shared
        weights = work / Path(args.init or INIT).name
        shutil.copyfile(args.init or INIT, weights)
        fp32 = export(weights, work, args.input_hw, name)
    if {"quantize", "openvino"} & set(args.stages):
        prepare_frames(work, args.seed)
    if "quantize" in args.stages and quantize(fp32, work, name, args.seed) is None:
        print(f"ONNX Runtime INT8 refused (see {work / 'quantize_onnxruntime_report.json'})")
    if "openvino" in args.stages:
        quantize(fp32, work, name, args.seed, "openvino")
    if "card" in args.stages:
        for path in card(work, name, args.input_hw, args.seed):
            print(f"model card: {path}")
        print(f"FP32 reference detections: {write_fp32_reference(fp32)}")
