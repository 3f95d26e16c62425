"""mAP50 / mAP50-95 on a labelled YOLO-format set, in numpy (pure; no torch, no ultralytics).

Follows the COCO recipe (pycocotools-style) closely enough to compare FP32 with INT8 on the same
frames: per class, detections sorted by score are matched greedily to unmatched ground truth of
the same class at each IoU threshold, AP is the mean of the monotone precision envelope at 101
recall points, mAP averages over classes that have ground truth. (ultralytics integrates the same
envelope with the trapezoid rule and matches by IoU, not score: figures differ by about a point.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from edge_rover.perception.detection.postprocess import box_iou

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class FrameResult:
    """Predictions and ground truth of one image, boxes xyxy in pixels, integer class ids."""

    pred_boxes: np.ndarray
    pred_scores: np.ndarray
    pred_classes: np.ndarray
    gt_boxes: np.ndarray
    gt_classes: np.ndarray


@dataclass(frozen=True)
class MapResult:
    map50: float
    map50_95: float
    per_class_ap50: dict[int, float]
    num_images: int
    num_gt: int

    def as_dict(self) -> dict:
        return {
            "mAP50": round(self.map50, 4),
            "mAP50-95": round(self.map50_95, 4),
            "images": self.num_images,
            "gt_boxes": self.num_gt,
        }


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """COCO 101-point AP of one curve (recall ascending): the mean over r ∈ {0, .01, …, 1} of the
    best precision reached at recall ≥ r (0 where that recall is never reached)."""
    if len(recall) == 0:
        return 0.0
    envelope = np.flip(np.maximum.accumulate(np.flip(precision)))
    samples = np.linspace(0, 1, 101)
    index = np.searchsorted(recall, samples - 1e-12, side="left")
    reached = index < len(recall)
    return float(np.where(reached, envelope[np.minimum(index, len(recall) - 1)], 0.0).mean())


def _match_frame(frame: FrameResult, thresholds: np.ndarray) -> np.ndarray:
    """(num_pred, num_thresholds) bool: is each prediction a true positive at each IoU."""
    tp = np.zeros((len(frame.pred_scores), len(thresholds)), dtype=bool)
    if len(frame.pred_scores) == 0 or len(frame.gt_classes) == 0:
        return tp
    iou = box_iou(frame.pred_boxes.astype(np.float64), frame.gt_boxes.astype(np.float64))
    iou[frame.pred_classes[:, None] != frame.gt_classes[None, :]] = 0.0
    order = np.argsort(-frame.pred_scores, kind="stable")
    for t, threshold in enumerate(thresholds):
        taken = np.zeros(len(frame.gt_classes), dtype=bool)
        for p in order:
            candidates = np.where(~taken & (iou[p] >= threshold), iou[p], -1.0)
            best = int(candidates.argmax())
            if candidates[best] >= threshold:
                taken[best] = True
                tp[p, t] = True
    return tp


def mean_average_precision(frames: Sequence[FrameResult]) -> MapResult:
    thresholds = IOU_THRESHOLDS
    tps, scores, classes = [], [], []
    gt_classes = np.concatenate([f.gt_classes for f in frames]) if frames else np.zeros(0, int)
    for frame in frames:
        tps.append(_match_frame(frame, thresholds))
        scores.append(frame.pred_scores)
        classes.append(frame.pred_classes)
    tp = np.concatenate(tps) if tps else np.zeros((0, len(thresholds)), bool)
    score = np.concatenate(scores) if scores else np.zeros(0)
    pred_class = np.concatenate(classes) if classes else np.zeros(0, int)
    ap = {}
    for cls in np.unique(gt_classes):
        num_gt = int((gt_classes == cls).sum())
        mine = pred_class == cls
        order = np.argsort(-score[mine], kind="stable")
        hits = tp[mine][order]
        cum_tp = np.cumsum(hits, axis=0)
        cum_fp = np.cumsum(~hits, axis=0)
        ap_per_t = []
        for t in range(len(thresholds)):
            if len(hits) == 0:
                ap_per_t.append(0.0)
                continue
            recall = cum_tp[:, t] / num_gt
            precision = cum_tp[:, t] / np.maximum(cum_tp[:, t] + cum_fp[:, t], 1)
            ap_per_t.append(average_precision(recall, precision))
        ap[int(cls)] = np.array(ap_per_t)
    if not ap:
        return MapResult(0.0, 0.0, {}, len(frames), 0)
    stacked = np.stack(list(ap.values()))
    return MapResult(
        map50=float(stacked[:, 0].mean()),
        map50_95=float(stacked.mean()),
        per_class_ap50={c: float(v[0]) for c, v in ap.items()},
        num_images=len(frames),
        num_gt=len(gt_classes),
    )


# -- YOLO-format datasets ------------------------------------------------------------------------


def _label_path(image_path: Path) -> Path:
    parts = list(image_path.parts)
    for i in range(len(parts) - 1, -1, -1):  # ultralytics convention: last /images/ → /labels/
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image_path.with_suffix(".txt")


def list_images(source: Path) -> list[Path]:
    """Images of a folder (recursive), a .txt list, or the ``val`` split of a data.yaml."""
    if source.suffix in (".yaml", ".yml"):
        data = yaml.safe_load(source.read_text())
        root = Path(data.get("path", source.parent))
        if not root.is_absolute():
            root = source.parent / root
        split = data.get("val") or data.get("test")
        if split is None:
            raise ValueError(f"{source} has no 'val' split")
        return list_images(root / split)
    if source.is_file() and source.suffix == ".txt":
        return [Path(line.strip()) for line in source.read_text().splitlines() if line.strip()]
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    raise ValueError(f"no images at {source}")


def dataset_names(source: Path) -> list[str] | None:
    if source.suffix not in (".yaml", ".yml"):
        return None
    names = yaml.safe_load(source.read_text()).get("names")
    if isinstance(names, dict):
        return [str(names[k]) for k in sorted(names)]
    return [str(n) for n in names] if names else None


def load_yolo_labels(image_path: Path, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """YOLO label file (class cx cy w h, normalised) → (boxes xyxy pixels, class ids)."""
    label_file = _label_path(image_path)
    if not label_file.is_file():
        return np.zeros((0, 4)), np.zeros(0, int)
    rows = np.loadtxt(label_file, ndmin=2) if label_file.stat().st_size else np.zeros((0, 5))
    if rows.shape[1] < 5:
        raise ValueError(f"{label_file}: expected 'class cx cy w h' rows")
    cx, cy, w, h = rows[:, 1] * width, rows[:, 2] * height, rows[:, 3] * width, rows[:, 4] * height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes, rows[:, 0].astype(int)


def collect_frames(
    predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
    images: Iterable[Path],
    progress: Callable[[Iterable], Iterable] = lambda it: it,
) -> list[FrameResult]:
    """Run ``predict(bgr) -> (boxes, scores, class ids)`` on every image, with its ground truth."""
    frames = []
    for path in progress(list(images)):
        image = cv2.imread(str(path))
        if image is None:
            raise ValueError(f"cannot read image {path}")
        gt_boxes, gt_classes = load_yolo_labels(path, image.shape[1], image.shape[0])
        boxes, scores, classes = predict(image)
        frames.append(FrameResult(boxes, scores, np.asarray(classes, int), gt_boxes, gt_classes))
    return frames


def evaluate(
    predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
    images: Iterable[Path],
    progress: Callable[[Iterable], Iterable] = lambda it: it,
) -> MapResult:
    """Run ``predict(bgr) -> (boxes, scores, class ids)`` on every image and compute mAP."""
    return mean_average_precision(collect_frames(predict, images, progress))


# -- accuracy by object size ---------------------------------------------------------------------

SIZE_BINS_PX: tuple[tuple[float, float], ...] = ((0, 8), (8, 16), (16, 32), (32, float("inf")))
IGNORE_IOU = 0.5


def size_bin_label(low: float, high: float) -> str:
    return f"<{high:g}" if low <= 0 else (f">={low:g}" if np.isinf(high) else f"{low:g}-{high:g}")


def restrict_to_size(frame: FrameResult, low: float, high: float) -> FrameResult:
    """The frame with only the ground truth whose smaller side (pixels of the evaluated image) lies
    in [low, high). Predictions that overlap a dropped ground-truth box (IoU ≥ 0.5, any class) are
    dropped too — ignored, as COCO's area ranges ignore them, rather than counted as false
    positives of the remaining sizes."""
    gt = frame.gt_boxes.reshape(-1, 4)
    min_side = np.minimum(gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1])
    keep_gt = (min_side >= low) & (min_side < high)
    keep_pred = np.ones(len(frame.pred_scores), dtype=bool)
    if (~keep_gt).any() and len(frame.pred_scores):
        iou = box_iou(frame.pred_boxes.astype(np.float64), gt[~keep_gt].astype(np.float64))
        keep_pred = iou.max(axis=1) < IGNORE_IOU
    return FrameResult(
        frame.pred_boxes[keep_pred],
        frame.pred_scores[keep_pred],
        frame.pred_classes[keep_pred],
        gt[keep_gt],
        frame.gt_classes[keep_gt],
    )


def map_by_box_size(
    frames: Sequence[FrameResult], bins: Sequence[tuple[float, float]] = SIZE_BINS_PX
) -> dict[str, MapResult]:
    """mAP per ground-truth size bin (smaller box side in pixels), see ``restrict_to_size``."""
    return {
        size_bin_label(low, high): mean_average_precision([restrict_to_size(f, low, high) for f in frames])
        for low, high in bins
    }
