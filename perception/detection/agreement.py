"""Do two backends find the same boxes? The gate for an engine against its reference run.

A TensorRT engine (or any other backend) is accepted when, on the same real frames, its
detections and the reference's (CPU ONNX Runtime on the same model) pair up one to one with the
same class and IoU >= ``iou_min`` for at least ``min_fraction`` of the boxes of *either* side
(a missing box and an extra box both count against it). Pure numpy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_rover.perception.detection.postprocess import box_iou
from edge_rover.perception.detection.types import Detections

IOU_MIN = 0.9
MIN_FRACTION = 0.98


@dataclass(frozen=True)
class Agreement:
    reference_boxes: int
    candidate_boxes: int
    matched: int  # same class, IoU >= iou_min, one to one
    class_mismatches: int  # a candidate box at IoU >= iou_min but of another class
    iou_min: float

    @property
    def fraction(self) -> float:
        """Matched share of the larger side (1.0 when both found nothing)."""
        most = max(self.reference_boxes, self.candidate_boxes)
        return 1.0 if most == 0 else self.matched / most

    def passes(self, min_fraction: float = MIN_FRACTION) -> bool:
        return self.fraction >= min_fraction

    def summary(self, min_fraction: float = MIN_FRACTION) -> str:
        verdict = "pass" if self.passes(min_fraction) else "FAIL"
        return (
            f"{verdict}: {self.matched} of {self.reference_boxes} reference / {self.candidate_boxes} "
            f"candidate boxes agree (same class, IoU >= {self.iou_min}): {self.fraction:.1%}, "
            f"need {min_fraction:.0%}; {self.class_mismatches} class mismatches"
        )


def _match_frame(reference: Detections, candidate: Detections, iou_min: float) -> tuple[int, int]:
    """(matched, class mismatches) of one frame, greedy by IoU (highest pairs first)."""
    if len(reference) == 0 or len(candidate) == 0:
        return 0, 0
    iou = box_iou(reference.boxes.astype(np.float64), candidate.boxes.astype(np.float64))
    ref_names = np.asarray(reference.names())
    cand_names = np.asarray(candidate.names())
    same_class = ref_names[:, None] == cand_names[None, :]
    matched = 0
    ref_used = np.zeros(len(reference), bool)
    cand_used = np.zeros(len(candidate), bool)
    for flat in np.argsort(-(iou * same_class), axis=None, kind="stable"):
        r, c = np.unravel_index(flat, iou.shape)
        if iou[r, c] < iou_min or not same_class[r, c]:
            break
        if not ref_used[r] and not cand_used[c]:
            ref_used[r] = cand_used[c] = True
            matched += 1
    mismatched = (iou >= iou_min) & ~same_class
    mismatches = int(np.count_nonzero(mismatched[~ref_used][:, ~cand_used].any(axis=1)))
    return matched, mismatches


def compare_detections(
    reference: Sequence[Detections], candidate: Sequence[Detections], iou_min: float = IOU_MIN
) -> Agreement:
    """Agreement over frames given in the same order for both backends."""
    if len(reference) != len(candidate):
        raise ValueError(f"{len(reference)} reference frames but {len(candidate)} candidate frames")
    matched = mismatches = 0
    for ref, cand in zip(reference, candidate, strict=True):
        m, x = _match_frame(ref, cand, iou_min)
        matched, mismatches = matched + m, mismatches + x
    return Agreement(
        reference_boxes=sum(len(r) for r in reference),
        candidate_boxes=sum(len(c) for c in candidate),
        matched=matched,
        class_mismatches=mismatches,
        iou_min=iou_min,
    )


def load_frames(paths: Sequence[Path]) -> tuple[list[np.ndarray], str]:
    """The frames (BGR) and one sha256 over their bytes, so a result names its input data."""
    digest = hashlib.sha256()
    frames = []
    for path in paths:
        data = Path(path).read_bytes()
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"unreadable image {path}")
        digest.update(data)
        frames.append(image)
    return frames, digest.hexdigest()


@dataclass(frozen=True)
class ClassAgreement:
    """One class: how many reference (FP32) boxes the candidate (INT8) finds, and the reverse.

    ``matched`` counts reference boxes the candidate found (recall); ``matched_candidate`` counts
    candidate boxes the reference has (precision); they differ only with a score margin.
    """

    reference_boxes: int
    candidate_boxes: int
    matched: int
    matched_candidate: int | None = None

    @property
    def recall(self) -> float:
        """Share of the reference boxes the candidate finds (1.0 when there were none)."""
        return 1.0 if self.reference_boxes == 0 else self.matched / self.reference_boxes

    @property
    def precision(self) -> float:
        """Share of the candidate boxes the reference has too (1.0 when there were none)."""
        matched = self.matched if self.matched_candidate is None else self.matched_candidate
        return 1.0 if self.candidate_boxes == 0 else matched / self.candidate_boxes

    def as_dict(self) -> dict:
        return {
            "reference_boxes": self.reference_boxes,
            "candidate_boxes": self.candidate_boxes,
            "matched": self.matched,
            **({} if self.matched_candidate is None else {"matched_candidate": self.matched_candidate}),
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
        }


def _only(detections: Detections, name: str, min_score: float = 0.0) -> Detections:
    keep = np.asarray([n == name for n in detections.names()], dtype=bool) & (detections.scores >= min_score)
    return Detections(
        detections.boxes[keep], detections.scores[keep], detections.class_ids[keep], detections.class_names
    )


def agreement_by_class(
    reference: Sequence[Detections],
    candidate: Sequence[Detections],
    iou_min: float = 0.5,
    conf: float = 0.0,
    margin: float = 0.0,
) -> tuple[ClassAgreement, dict[str, ClassAgreement]]:
    """(all classes, per class): candidate boxes matched one to one to same-class reference boxes
    at IoU >= ``iou_min``; no labels needed (the label-free INT8 gate: FP32 is the reference).

    ``conf``/``margin``: the boxes counted are those scoring >= ``conf``; with a margin, a counted
    box is also found when the other side has it at >= ``conf - margin`` (detections must then
    have been made at that lower threshold). A margin forgives only score jitter at the threshold
    (0.26 vs 0.24), never a box the other side lacks or gives another class.
    """
    if len(reference) != len(candidate):
        raise ValueError(f"{len(reference)} reference frames but {len(candidate)} candidate frames")
    counts: dict[str, list[int]] = {}
    low = conf - margin
    for ref, cand in zip(reference, candidate, strict=True):
        for name in sorted(set(ref.names()) | set(cand.names())):
            ref_counted, cand_counted = _only(ref, name, conf), _only(cand, name, conf)
            found, _ = _match_frame(ref_counted, _only(cand, name, low), iou_min)
            kept, _ = _match_frame(_only(ref, name, low), cand_counted, iou_min)
            row = counts.setdefault(name, [0, 0, 0, 0])
            for i, value in enumerate((len(ref_counted), len(cand_counted), found, kept)):
                row[i] += value
    per_class = {name: _agreement(row, margin) for name, row in sorted(counts.items())}
    total = _agreement([sum(row[i] for row in counts.values()) for i in range(4)], margin)
    return total, per_class


def _agreement(row: list[int], margin: float) -> ClassAgreement:
    return ClassAgreement(row[0], row[1], row[2], row[3] if margin else None)
