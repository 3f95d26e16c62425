"""Is this model one the detector can decode? Checked once at load, before any frame.

The decoder (postprocess.py) reads one layout only: the ultralytics detect export,
``1 × (4 + nc) × N`` — rows cx, cy, w, h in input pixels, then nc class scores after the sigmoid,
no objectness — with one column per anchor point of the stride-8/16/32 grids of the input, so
``N = Σ (H/s)·(W/s)``. Other YOLO families share sizes with it and decode to confident garbage:
YOLOX at 416 gives ``1 × 3549 × 85`` (3549 is the same anchor count; 85 = 4 + 1 objectness + 80),
which an 81-name class list would make "fit". So the check goes by the anchor grid of the input
size, not by the class list, and by value ranges of a warm-up run; a file that is no ONNX model
at all is named by its format instead of an ONNX parse error.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_rover.perception.detection.types import ModelLoadError

STRIDES = (8, 16, 32)
EXPECTED = "the ultralytics detect export 1×(4+nc)×N (YOLOv8/YOLO11: `yolo export format=onnx`)"
# Sigmoid scores of an INT8 model overshoot [0, 1] by a quantization step or so.
SCORE_SLACK = 0.02


@dataclass(frozen=True)
class OutputLayout:
    num_classes: int
    anchors: int


def anchor_count(input_hw: tuple[int, int]) -> int:
    """Anchor points of the stride 8/16/32 grids for an H×W input (640×640 → 8400)."""
    height, width = input_hw
    return sum((height // s) * (width // s) for s in STRIDES)


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def check_output_shape(shape: tuple[int, ...], input_hw: tuple[int, int]) -> OutputLayout:
    """The ultralytics layout's class count, or ModelLoadError naming what the shape looks like."""
    shape = tuple(int(d) for d in shape)
    n = anchor_count(input_hw)
    size = f"{input_hw[0]}×{input_hw[1]} input"
    found = f"output {_dims(shape)}"
    if len(shape) != 3 or shape[0] != 1:
        raise ModelLoadError(
            f"{found} is not one batch of a 3-D tensor; expected {EXPECTED}, here 1×(4+nc)×{n}"
        )
    _, rows, cols = shape
    if cols == n and rows >= 5:
        return OutputLayout(num_classes=rows - 4, anchors=n)
    if rows == n and cols >= 6:
        raise ModelLoadError(
            f"{found} looks like a YOLOX/YOLOv6-style layout with objectness (anchors first, "
            f"{cols} = 4 box + 1 objectness + {cols - 5} classes, for a {size}); this detector decodes "
            f"{EXPECTED}, here 1×(4+nc)×{n}: export the model with ultralytics, or convert its output"
        )
    if rows == 3 * n and cols >= 6:
        raise ModelLoadError(
            f"{found} looks like a YOLOv5/YOLOv7 anchor-based layout with objectness (3 anchors per "
            f"cell, {cols} = 5 + {cols - 5} classes); this detector decodes {EXPECTED}, here 1×(4+nc)×{n}"
        )
    if cols in (6, 7) and rows < n:
        raise ModelLoadError(
            f"{found} looks like an end-to-end export with NMS inside ({rows} rows of box, score, "
            f"class); this detector decodes {EXPECTED}, here 1×(4+nc)×{n}: export without NMS/end2end"
        )
    if rows >= 5 and cols != n:
        raise ModelLoadError(
            f"{found} has {cols} columns, but a {size} has {n} anchor points (strides 8/16/32): not "
            f"{EXPECTED} for this input size (another head, or the model takes another size)"
        )
    raise ModelLoadError(f"{found} is not {EXPECTED}, here 1×(4+nc)×{n}")


def check_task(metadata: dict[str, str]) -> None:
    """An ultralytics export names its task: a segmentation or pose head also has 1×(4+k)×N
    outputs, with mask coefficients or keypoints where class scores would be."""
    task = metadata.get("task")
    if task not in (None, "detect"):
        raise ModelLoadError(
            f"the model is an ultralytics '{task}' export; this detector needs a 'detect' model"
        )


def check_class_count(layout: OutputLayout, shape: tuple[int, ...], class_names: list[str]) -> None:
    if len(class_names) != layout.num_classes:
        raise ModelLoadError(
            f"output {_dims(shape)} is the ultralytics layout for {layout.num_classes} classes, but "
            f"the class list has {len(class_names)} names: it does not fit {len(class_names)} classes"
        )


def check_output_values(channels: np.ndarray, input_hw: tuple[int, int]) -> None:
    """Value ranges of a warm-up output (4 + nc, N) that only the ultralytics export has.

    Its boxes are already decoded onto the anchor grid, so the box centres of any image span the
    input (some cx beyond the middle, some cy too); its class scores are probabilities. Raw grid
    offsets (a head without the decode) or logits (no sigmoid) fail here.
    """
    height, width = input_hw
    if not np.isfinite(channels).all():
        raise ModelLoadError("the model produces NaN/Inf on a plain grey image")
    cx, cy = channels[0], channels[1]
    if cx.max() < width / 2 or cy.max() < height / 2:
        raise ModelLoadError(
            f"box centres of a warm-up run reach only x ≤ {cx.max():.1f}, y ≤ {cy.max():.1f} on a "
            f"{height}×{width} input: raw grid offsets, not boxes decoded in input pixels as in {EXPECTED}"
        )
    scores = channels[4:]
    low, high = float(scores.min()), float(scores.max())
    if low < -SCORE_SLACK or high > 1 + SCORE_SLACK:
        raise ModelLoadError(
            f"class scores of a warm-up run range {low:.2f}..{high:.2f}: logits, not the "
            f"probabilities (sigmoid inside the model) of {EXPECTED}"
        )


def _zip_format(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return "a damaged zip archive"
    if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
        return "a TorchScript archive (torch.jit.save)"
    if any(n.endswith("data.pkl") for n in names):
        return "a PyTorch checkpoint (torch.save, e.g. an ultralytics .pt)"
    return "a zip archive"


def sniff_model_format(path: Path) -> str | None:
    """What a model file is when it is not ONNX/OpenVINO IR ("a TensorFlow Lite flatbuffer", …).

    None: it may be an ONNX protobuf (which has no magic number; ONNX Runtime then judges it).
    """
    with path.open("rb") as handle:
        head = handle.read(64)
    if len(head) == 0:
        return "an empty file"
    if head[4:8] == b"TFL3":
        return "a TensorFlow Lite flatbuffer"
    if head.startswith(b"PK\x03\x04"):
        return _zip_format(path)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "a Keras/HDF5 model"
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return "a Python pickle (a legacy torch.save checkpoint?)"
    if head.lstrip().startswith(b"<"):
        return "an XML file (an OpenVINO IR?)" if path.suffix != ".xml" else None
    if path.suffix in (".engine", ".plan", ".trt"):
        return "a serialized TensorRT engine (tied to one GPU and TensorRT version)"
    return None


def check_model_file(path: Path) -> None:
    """Refuse, by name, a file the backends cannot run: another format, or an IR without weights."""
    if path.suffix == ".xml":
        weights = path.with_suffix(".bin")
        if not weights.is_file():
            raise ModelLoadError(
                f"{path} is an OpenVINO IR without its weights: {weights.name} is missing beside it"
            )
    found = sniff_model_format(path)
    if found is None:
        return
    raise ModelLoadError(
        f"{path} is {found}, not an ONNX model or OpenVINO IR: this detector runs {EXPECTED} "
        "(or its OpenVINO IR); export or convert the model to ONNX"
    )
