"""vision_msgs/Detection2DArray (``detections``) ↔ pixel boxes.

The detector publishes, per frame, one Detection2D per box:

* ``header``: the camera frame's stamp and frame id (both copied from the image).
* ``bbox.center.position`` (x, y) and ``bbox.size_x`` / ``size_y``: the box in pixels of the
  original (distorted) image; (x1, y1, x2, y2) = centre ∓ size / 2.
* ``results``: one hypothesis, ``hypothesis.class_id`` = the class *name* (``"person"``) and
  ``hypothesis.score`` in [0, 1]. ``id`` is empty (the detector does not track).

Decoding (chosen once for every consumer):

* the **best-scoring** hypothesis names the class (another publisher may send several);
* a numeric ``class_id`` (a detector that publishes indices) is looked up by index in
  ``class_names`` when it is in range, and otherwise kept as the string it is;
* a detection with no hypothesis is kept, as class ``"unknown"`` with score NaN, so that the
  consumer's validity check counts and rejects it instead of the codec dropping it unseen;
* NaN and infinite values are passed through (the consumer rejects them, and says so).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from builtin_interfaces.msg import Time
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

UNKNOWN_CLASS = "unknown"


class Boxes2D(NamedTuple):
    """Decoded detections of one frame: ``boxes`` (N, 4) x1 y1 x2 y2 px, ``scores`` (N,), ``names``."""

    boxes: np.ndarray
    scores: np.ndarray
    names: list[str]


def detections_to_msg(
    boxes: np.ndarray | Sequence[Sequence[float]],
    scores: Sequence[float] | np.ndarray,
    names: Sequence[str],
    stamp: Time,
    frame_id: str,
) -> Detection2DArray:
    """Boxes (x1, y1, x2, y2 px), scores and class names → Detection2DArray."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes) == len(scores) == len(names):
        raise ValueError(f"{len(boxes)} boxes, {len(scores)} scores and {len(names)} names do not match")
    out = Detection2DArray()
    out.header.stamp = stamp
    out.header.frame_id = frame_id
    for (x1, y1, x2, y2), score, name in zip(boxes.tolist(), scores, names, strict=True):
        det = Detection2D()
        det.header = out.header
        det.bbox.center.position.x, det.bbox.center.position.y = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        det.bbox.size_x, det.bbox.size_y = x2 - x1, y2 - y1
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = str(name)
        hypothesis.hypothesis.score = float(score)
        det.results = [hypothesis]
        out.detections.append(det)
    return out


def _class_name(class_id: str, class_names: Sequence[str]) -> str:
    if class_id.isdigit() and int(class_id) < len(class_names):
        return class_names[int(class_id)]
    return class_id


def detections_from_msg(msg: Detection2DArray, class_names: Sequence[str] = ()) -> Boxes2D:
    """Detection2DArray → :class:`Boxes2D` (the decoding rules above)."""
    boxes, scores, names = [], [], []
    for det in msg.detections:
        if det.results:
            best = max(det.results, key=lambda r: r.hypothesis.score)
            name = _class_name(str(best.hypothesis.class_id), class_names)
            score = float(best.hypothesis.score)
        else:
            name, score = UNKNOWN_CLASS, math.nan
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        half_w, half_h = det.bbox.size_x / 2.0, det.bbox.size_y / 2.0
        boxes.append([cx - half_w, cy - half_h, cx + half_w, cy + half_h])
        scores.append(score)
        names.append(name)
    return Boxes2D(np.array(boxes, np.float64).reshape(-1, 4), np.array(scores, np.float64), names)
