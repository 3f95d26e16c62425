"""Train, export, quantize and card the shipped detector (NOT part of CI; needs the train extra).

    python3.11 -m venv /work/venv-train
    /work/venv-train/bin/pip install -r requirements/train.txt -c requirements/constraints.txt
    export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR=/tmp/yolo_cfg
    nice -n 19 /work/venv-train/bin/python -m dev.train_detector --work /tmp/det_train \
        --render 2000 300 --hours 0.6

Stages (``--stages``, default all, in order):
  render    simulator dataset (python -m simulation render), 640×480 frames, YOLO labels
  train     fine-tune YOLOv8n from the COCO-derived checkpoint (../shared/data/models), imgsz 416
  export    ONNX at the rover's rectangular input (320×416 H×W: a 640×480 frame letterboxes into it
            with 4 px of padding instead of the 96 px of a square 416)
  quantize  static INT8 (perception.detection.quantize: calibration on training frames, gate on sim val)
  card      models/<name>.onnx + <name>.card.yaml (sha256, classes, input, data, seed, mAP)

``--domain real`` builds the real-world model instead (no render, no training): the COCO
checkpoint exported at ``--input-hw`` (default 480x640, the rover frame), calibrated on real photos
that are not the named test pictures, gated label-free against its own FP32 export on every real
image of ../shared/data and by mAP on coco8 val, carded ``domain: real``:

    /work/venv-train/bin/python -m dev.train_detector --domain real --work /tmp/real_model \
        --stages export quantize openvino card
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from edge_rover.perception.detection.preprocess import parse_input_hw

REPO = Path(__file__).resolve().parents[1]
INIT = REPO.parent / "shared" / "data" / "models" / "yolov8n_coco_derived.pt"
NAME = "edge_rover_yolov8n_int8"
REAL_INPUT_HW = (480, 640)  # --domain real: a 640x480 camera frame fills it (no resize, no padding)
INPUT_HW = (320, 416)  # default export input (H, W); --input-hw changes it
TRAIN_IMGSZ = 416  # default training size; --imgsz changes it
STAGES = ("render", "train", "export", "quantize", "openvino", "card")
OPENVINO_REPORT = "quantize_openvino_report.json"


def render(work: Path, train: int, val: int, seed: int) -> Path:
    subprocess.run(
        [sys.executable, "-m", "simulation", "render", "--out", str(work / "data"), "--train", str(train),
         "--val", str(val), "--imgsz", "640x480", "--seed", str(seed)],
        check=True, cwd=REPO,
    )  # fmt: skip
    return work / "data" / "data.yaml"


def train(data: Path, work: Path, args: argparse.Namespace) -> Path:
    """Fine-tune; ``--init`` continues from an earlier run's weights (then ``--lr0`` lower, no warm-up)."""
    from ultralytics import YOLO

    model = YOLO(str(args.init or INIT))
    extra = {"lr0": args.lr0, "warmup_epochs": 0} if args.init else {}
    if args.optimizer:  # 'auto' (ultralytics' default) ignores lr0 and picks its own AdamW rate
        extra["optimizer"] = args.optimizer
    if args.mosaic is not None:
        extra["mosaic"] = args.mosaic
    model.train(
        data=str(data), imgsz=args.imgsz, epochs=args.epochs, time=args.hours or None, batch=args.batch,
        device="cpu", workers=1, seed=args.seed, deterministic=True, project=str(work), name=args.run_name,
        exist_ok=True, plots=True, amp=False, patience=100, close_mosaic=2, cache="ram", verbose=False,
        **extra,
    )  # fmt: skip
    return work / args.run_name / "weights" / "best.pt"


def export(weights: Path, work: Path, input_hw: tuple[int, int], name: str = NAME) -> Path:
    from ultralytics import YOLO

    exported = Path(YOLO(str(weights)).export(format="onnx", imgsz=list(input_hw), simplify=True, opset=17))
    target = work / f"{name.replace('_int8', '')}_fp32.onnx"
    shutil.move(exported, target)
    return target


def quantize(fp32: Path, data: Path, work: Path, seed: int, max_drop: float) -> Path:
    from edge_rover.perception import quantize as q

    out = work / f"{NAME}.onnx"
    code = q.main(
        ["--model", str(fp32), "--calib", str(data.parent / "images" / "train"),
         "--num-calib", "200", "--method", "percentile", "--calib-stride", "20",
         "--val", str(data), "--out", str(out), "--max-drop", str(max_drop), "--seed", str(seed),
         "--report", str(work / "quantize_report.json")]
    )  # fmt: skip
    if code != 0:
        raise SystemExit(f"quantization refused (see {work / 'quantize_report.json'})")
    return out


def quantize_openvino(fp32: Path, data: Path, work: Path, seed: int, max_drop: float) -> Path | None:
    """The OpenVINO INT8 IR (NNCF) of the same FP32 model, same frames and gate; None if refused."""
    from edge_rover.perception import quantize as q

    out = work / f"{NAME}_openvino.xml"
    code = q.main(
        ["--engine", "openvino", "--model", str(fp32), "--calib", str(data.parent / "images" / "train"),
         "--num-calib", "200", "--val", str(data), "--out", str(out), "--max-drop", str(max_drop),
         "--seed", str(seed), "--report", str(work / OPENVINO_REPORT)]
    )  # fmt: skip
    return out if code == 0 else None


def openvino_card(card_data: dict, report: dict) -> dict:
    """The IR's card: the ONNX card with the IR's files, hashes, quantization and accuracy."""
    xml = Path(report["int8_model"])
    ir = {
        **card_data,
        "name": f"{NAME}_openvino",
        "file": xml.name,
        "weights_file": xml.with_suffix(".bin").name,
        "sha256": report["int8_sha256"],
        "bin_sha256": report["int8_bin_sha256"],
        "bytes": report["int8_bytes"],
        "quantization": "OpenVINO IR, NNCF post-training INT8 (mixed preset: symmetric per-channel "
        "weights, asymmetric activations), 200 training frames; SiLU rewritten as Swish first (fused "
        "into the INT8 convolutions); final box/class decode left in FP32; "
        "run by backend 'openvino' (or 'auto' when openvino is installed)",
        "evaluation": {**card_data["evaluation"], "int8": report["int8"], "verdict": report["verdict"]},
    }
    ir.pop("latency", None)
    latency = bench_latency(xml.name, "OpenVINO CPU")
    if latency:
        ir["latency"] = latency
    return ir


def input_description(input_hw: tuple[int, int], frame_wh: tuple[int, int] = (640, 480)) -> str:
    """The card's input line, with where a camera frame lands inside the letterbox."""
    import numpy as np

    from edge_rover.perception.detection.preprocess import letterbox_bgr

    height, width = input_hw
    _, placement = letterbox_bgr(np.zeros((frame_wh[1], frame_wh[0], 3), np.uint8), input_hw)
    inner_w, inner_h = round(frame_wh[0] * placement.scale), round(frame_wh[1] * placement.scale)
    return (
        f"1x3x{height}x{width} float32 RGB 0..1, letterbox pad 114 (a {frame_wh[0]}x{frame_wh[1]} frame "
        f"→ {inner_w}x{inner_h} + {placement.pad_x:g} px left/right, {placement.pad_y:g} px top/bottom)"
    )


def bench_latency(file_name: str, runtime: str) -> dict | None:
    """Latency of this model file from the last benchmark run (benchmarks/detector.json), if it had it."""
    bench = REPO / "benchmarks" / "results" / "detector.json"
    if not bench.is_file():
        return None
    rows = [
        r for r in json.loads(bench.read_text())["rows"] if r.get("model", "").endswith("/" + file_name)
        and r["config"].startswith("shipped") and "p50_ms" in r
    ]  # fmt: skip
    if not rows:
        return None
    keys = ("p50_ms", "p99_ms", "fps", "pre_post_p50_ms", "peak_rss_mb")
    return {
        "command": f"python benchmarks/detector.py (2 threads, 640x480 frames, {runtime})",
        **{k: round(rows[0][k], 2) for k in keys},
    }


def card(int8: Path, work: Path, data: Path, args: argparse.Namespace) -> Path:
    report = json.loads((work / "quantize_report.json").read_text())
    stats_path = data.parent / "stats.json"
    names = yaml.safe_load(data.read_text())["names"]
    models = REPO / "models"
    models.mkdir(exist_ok=True)
    shutil.copyfile(int8, models / int8.name)
    card_data = {
        "name": NAME,
        "file": int8.name,
        "sha256": report["int8_sha256"],
        "bytes": report["int8_bytes"],
        "architecture": "YOLOv8n (ultralytics 8.4.190), detect head, 5 classes",
        "domain": "sim",
        "classes": [names[k] for k in sorted(names)],
        "input_hw": list(args.input_hw),
        "input": input_description(args.input_hw),
        "output": "1x9x(N) = cx, cy, w, h (input pixels) + 5 class scores (sigmoid), no NMS",
        "quantization": "ONNX Runtime static QDQ, per-channel int8 weights, uint8 activations, "
        "percentile-99.999 calibration on 200 training frames; final box/class decode left in FP32",
        "initialisation": "../shared/data/models/yolov8n_coco_derived.pt (COCO-80, AGPL-3.0)",
        "training": {
            "data": args.training_data
            or f"simulator render (python -m simulation render --train {args.render[0]} --val "
            f"{args.render[1]} --imgsz 640x480 --seed {args.seed})",
            "imgsz": args.imgsz,
            "seed": args.seed,
            "time_budget_h": args.hours,
            "epochs_cap": args.epochs,
            "device": "cpu (2 shared cores)",
            "note": args.training_note,
            "command": args.training_command
            or f"python -m dev.train_detector --render {args.render[0]} {args.render[1]} "
            f"--seed {args.seed} --hours {args.hours} --epochs {args.epochs} --batch {args.batch}",
        },
        "evaluation": {
            "set": f"simulator val split ({report['fp32']['images']} images, "
            f"{report['fp32']['gt_boxes']} boxes), held out from training, conf 0.001, NMS IoU 0.7, "
            "our numpy COCO-style mAP",
            "fp32": report["fp32"],
            "int8": report["int8"],
            "verdict": report["verdict"],
        },
        "license": "AGPL-3.0 (derived from Ultralytics YOLOv8n weights)",
    }
    latency = bench_latency(int8.name, "ONNX Runtime CPU")
    if latency:
        card_data["latency"] = latency
    if stats_path.is_file():
        card_data["training"]["dataset_stats"] = json.loads(stats_path.read_text()).get("splits")
    path = models / f"{NAME}.card.yaml"
    header = "# Model card of the shipped detector (written by dev/train_detector.py; see models/README.md)\n"
    path.write_text(header + yaml.safe_dump(card_data, sort_keys=False, width=100, allow_unicode=True))
    markdown = card_markdown(card_data)
    ov_report = work / OPENVINO_REPORT
    report = json.loads(ov_report.read_text()) if ov_report.is_file() else {}
    if report.get("accepted") and report.get("fp32_sha256") == card_fp32_sha(work):
        xml = Path(report["int8_model"])
        shutil.copyfile(xml, models / xml.name)
        shutil.copyfile(xml.with_suffix(".bin"), models / xml.with_suffix(".bin").name)
        ir = openvino_card(card_data, report)
        ir_header = header.replace("shipped detector", "shipped detector's OpenVINO INT8 IR")
        (models / f"{ir['name']}.card.yaml").write_text(
            ir_header + yaml.safe_dump(ir, sort_keys=False, width=100, allow_unicode=True)
        )
        markdown += openvino_markdown(ir)
    (models / f"{NAME}.md").write_text(markdown)
    return path


def card_fp32_sha(work: Path) -> str | None:
    """sha256 of the FP32 model the ONNX Runtime INT8 came from (the IR must come from the same)."""
    report = work / "quantize_report.json"
    return json.loads(report.read_text()).get("fp32_sha256") if report.is_file() else None


def openvino_markdown(ir: dict) -> str:
    ev = ir["evaluation"]
    return "\n".join(
        [
            "",
            f"## OpenVINO INT8 IR: `{ir['file']}` + `{ir['weights_file']}`",
            "",
            f"{ir['bytes'] / 1e6:.2f} MB, sha256 `{ir['sha256']}` (.xml), `{ir['bin_sha256']}` (.bin), "
            f"card `{ir['name']}.card.yaml`. Same FP32 model, same calibration frames, same gate.",
            f"{ir['quantization']}.",
            "",
            "| model | mAP50 | mAP50-95 |",
            "|---|---|---|",
            f"| OpenVINO INT8 IR | {ev['int8']['mAP50']:.4f} | {ev['int8']['mAP50-95']:.4f} |",
            "",
            f"Gate: {ev['verdict']}.",
            "",
        ]
        + (_latency_lines(ir["latency"]) if "latency" in ir else [])
    )


def _latency_lines(lat: dict) -> list[str]:
    keys = ("p50_ms", "p99_ms", "fps", "pre_post_p50_ms", "peak_rss_mb")
    return [
        f"Latency (`{lat['command']}`):",
        "",
        "| p50 ms | p99 ms | FPS | pre+post p50 ms | peak RSS MB |",
        "|---|---|---|---|---|",
        "| " + " | ".join(str(lat[k]) for k in keys) + " |",
        "",
    ]


def card_markdown(card: dict) -> str:
    """The human-readable card (models/<name>.md) from the same data as the YAML card."""
    ev, tr = card["evaluation"], card["training"]
    lines = [
        f"# {card['name']} — model card (domain: {card['domain']})",
        "",
        f"`{card['file']}` ({card['bytes'] / 1e6:.2f} MB), sha256 `{card['sha256']}` (checked by the",
        f"detector before use; machine-readable card: `{card['name']}.card.yaml`).",
        "",
        f"- **Architecture**: {card['architecture']}; initialised from {card['initialisation']}",
        f"- **Classes** (output order): {', '.join(card['classes'])}",
        f"- **Input**: {card['input']}",
        f"- **Output**: {card['output']}",
        f"- **Quantization**: {card['quantization']}",
        f"- **Training data**: {tr['data']}; seed {tr['seed']}; imgsz {tr['imgsz']}; {tr['device']}",
        f"- **Reproduce**: `{tr['command']}`" + (f" — {tr['note']}" if tr.get("note") else ""),
        f"- **License**: {card['license']}",
        "",
        f"## Accuracy ({ev['set']})",
        "",
        "| model | mAP50 | mAP50-95 |",
        "|---|---|---|",
        f"| FP32 ONNX | {ev['fp32']['mAP50']:.4f} | {ev['fp32']['mAP50-95']:.4f} |",
        f"| INT8 (shipped) | {ev['int8']['mAP50']:.4f} | {ev['int8']['mAP50-95']:.4f} |",
        "",
        f"Gate: {ev['verdict']}.",
    ]
    if "latency" in card:
        lat = card["latency"]
        lines += [
            "",
            f"## Latency (`{lat['command']}`)",
            "",
            "| p50 ms | p99 ms | FPS | pre+post p50 ms | peak RSS MB |",
            "|---|---|---|---|---|",
            "| "
            + " | ".join(str(lat[k]) for k in ("p50_ms", "p99_ms", "fps", "pre_post_p50_ms", "peak_rss_mb"))
            + " |",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/edge_rover_det_train"))
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--render", type=int, nargs=2, default=[2000, 300], metavar=("TRAIN", "VAL"))
    parser.add_argument("--data", type=Path, help="use this data.yaml instead of rendering")
    parser.add_argument("--hours", type=float, default=0.6, help="training time budget (ultralytics 'time')")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--imgsz", type=int, default=TRAIN_IMGSZ, help="training image size (square, px)")
    parser.add_argument(
        "--input-hw",
        type=parse_input_hw,
        help="exported model input HxW (default 320x416; --domain real 480x640)",
    )
    parser.add_argument(
        "--domain", choices=("sim", "real"), default="sim",
        help="sim: train on simulator renders; real: the COCO weights on real frames (dev/real_model.py)",
    )  # fmt: skip
    parser.add_argument("--name", help="model name (default edge_rover_yolov8n_int8 / _coco_int8)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--init", type=Path, help="continue from these weights (default: COCO checkpoint)")
    parser.add_argument("--lr0", type=float, default=0.002, help="initial learning rate with --init")
    parser.add_argument("--optimizer", help="e.g. AdamW (default: ultralytics 'auto', which ignores --lr0)")
    parser.add_argument("--mosaic", type=float, help="mosaic probability (0: off, for a last fine-tune)")
    parser.add_argument("--run-name", default="train", help="ultralytics run folder under --work")
    parser.add_argument(
        "--training-note", default="", help="free text for the card (e.g. how it was trained)"
    )
    parser.add_argument("--training-data", help="card text for the training data (default: the render)")
    parser.add_argument("--training-command", help="card text for the command(s) that trained it")
    parser.add_argument("--max-drop", type=float, default=1.0)
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(args.work / "yolo_cfg"))
    args.work.mkdir(parents=True, exist_ok=True)
    if args.domain == "real":
        from dev import real_model

        args.input_hw = args.input_hw or REAL_INPUT_HW
        real_model.run(args)
        return
    args.input_hw = args.input_hw or INPUT_HW
    data = args.data or args.work / "data" / "data.yaml"
    weights = args.work / args.run_name / "weights" / "best.pt"
    fp32 = args.work / f"{NAME.replace('_int8', '')}_fp32.onnx"
    int8 = args.work / f"{NAME}.onnx"
    if "render" in args.stages and not args.data:
        data = render(args.work, *args.render, args.seed)
    if "train" in args.stages:
        weights = train(data, args.work, args)
    if "export" in args.stages:
        fp32 = export(weights, args.work, args.input_hw)
    if "quantize" in args.stages:
        int8 = quantize(fp32, data, args.work, args.seed, args.max_drop)
    if "openvino" in args.stages:
        quantize_openvino(fp32, data, args.work, args.seed, args.max_drop)
    if "card" in args.stages:
        print(f"model card: {card(int8, args.work, data, args)}")


if __name__ == "__main__":
    main()
