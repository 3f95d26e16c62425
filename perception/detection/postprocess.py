"""Decode the ultralytics detect-export layout and run class-aware NMS (numpy + OpenCV).

Output layout ``(1, 4 + nc, N)``: rows 0..3 are cx, cy, w, h in input pixels, rows 4.. are the
per-class scores (sigmoid already applied, no objectness). Which models have that layout is decided
once at load (model_layout.py: the anchor grid of the input size, warm-up value ranges); a
``(1, N, 4 + nc)`` view is still transposed here, but the load check refuses anchors-first outputs
(they are YOLOX/YOLOv5-style layouts with objectness far more often than a transposed export).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edge_rover.perception.detection.types import FrameError

MAX_CANDIDATES = 3000  # like ultralytics max_nms: cap the NMS input on pathological frames


@dataclass(frozen=True)
class ClassMapping:
    """Which model classes are kept and what output class each becomes.

    ``model_ids[k]`` is the model's class index feeding output class ``output_ids[k]``.
    """

    model_ids: np.ndarray  # (K,) int
    output_ids: np.ndarray  # (K,) int
    output_names: tuple[str, ...]
    num_model_classes: int

    @staticmethod
    def build(
        model_names: Sequence[str],
        keep: Sequence[str] = (),
        remap: dict[str, str] | None = None,
    ) -> ClassMapping:
        """``remap`` renames model classes (e.g. ``{"truck": "car"}``); ``keep`` filters the
        renamed classes (empty = keep all). Unknown names in either are an error, not a silent no-op."""
        remap = dict(remap or {})
        unknown = sorted(set(remap) - set(model_names))
        if unknown:
            raise ValueError(f"class remap names {unknown} are not model classes")
        renamed = [remap.get(name, name) for name in model_names]
        available = list(dict.fromkeys(renamed))
        missing = sorted(set(keep) - set(available))
        if missing:
            raise ValueError(f"classes {missing} are not produced by this model; it has {available}")
        output_names = tuple(name for name in available if not keep or name in keep)
        index = {name: i for i, name in enumerate(output_names)}
        pairs = [(m, index[name]) for m, name in enumerate(renamed) if name in index]
        return ClassMapping(
            model_ids=np.array([m for m, _ in pairs], dtype=np.intp),
            output_ids=np.array([o for _, o in pairs], dtype=np.int32),
            output_names=output_names,
            num_model_classes=len(model_names),
        )

    @property
    def is_identity(self) -> bool:
        return len(self.model_ids) == self.num_model_classes == len(self.output_names) and bool(
            np.all(self.model_ids == np.arange(len(self.model_ids)))
        )


def as_channels_first(output: np.ndarray, num_classes: int) -> np.ndarray:
    """Model output → a (4 + nc, N) view; raises ValueError for any other layout."""
    rows = 4 + num_classes
    if output.ndim == 3 and output.shape[0] == 1:
        output = output[0]
    if output.ndim != 2:
        raise ValueError(f"expected output (1, {rows}, N), got {output.shape}")
    if output.shape[0] == rows:
        return output
    if output.shape[1] == rows:
        return output.T
    raise ValueError(
        f"model output {output.shape} does not fit {num_classes} classes: expected (1, {rows}, N)"
    )


def decode(
    output: np.ndarray,
    mapping: ClassMapping,
    conf_threshold: float,
    iou_threshold: float,
    max_detections: int = 300,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(4 + nc, N) output → boxes xyxy in input pixels, scores, output class ids (after NMS)."""
    scores_all = output[4 + mapping.model_ids] if not mapping.is_identity else output[4:]
    best_scores = scores_all.max(axis=0)  # NaN propagates through max, +Inf wins it
    if not np.isfinite(best_scores).all():
        raise FrameError("nonfinite_output", "model output contains NaN or Inf class scores")
    candidates = np.flatnonzero(best_scores > conf_threshold)
    if candidates.size > MAX_CANDIDATES:
        candidates = candidates[np.argsort(-best_scores[candidates])[:MAX_CANDIDATES]]
    best = scores_all[:, candidates].argmax(axis=0)
    scores = best_scores[candidates].astype(np.float32)
    class_ids = mapping.output_ids[best]
    cx, cy, w, h = output[:4, candidates]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    if not np.isfinite(boxes).all():
        raise FrameError("nonfinite_output", "model output contains NaN or Inf box coordinates")
    if candidates.size == 0:
        return boxes, scores, class_ids
    keep = class_aware_nms(boxes, scores, class_ids, iou_threshold)[:max_detections]
    return boxes[keep], scores[keep], class_ids[keep]


def class_aware_nms(
    boxes_xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Indices kept by greedy NMS run separately per class, highest score first."""
    xywh = np.concatenate([boxes_xyxy[:, :2], boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxesBatched(
        xywh.astype(np.float32), scores.astype(np.float32), class_ids.astype(np.int32), 0.0, iou_threshold
    )
    keep = np.asarray(keep, dtype=np.intp).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes → (N, M)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
