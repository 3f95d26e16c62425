"""The detector's message conversions (the one place for them): Detections ↔ Detection2DArray.

Class names go into ``results[].hypothesis.class_id`` as strings (``"person"``), score into
``hypothesis.score``; the bbox centre/size are in original-image pixels. The obstacle mapper
reads them back with :func:`detections_from_msg`.
"""

from __future__ import annotations

import numpy as np
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

from edge_rover.perception.detection.types import Detections


def detections_to_msg(detections: Detections, header: Header) -> Detection2DArray:
    msg = Detection2DArray()
    msg.header = header
    names = detections.class_names
    for box, score, class_id in zip(detections.boxes, detections.scores, detections.class_ids, strict=True):
        det = Detection2D()
        det.header = header
        x1, y1, x2, y2 = (float(v) for v in box)
        det.bbox.center.position.x = (x1 + x2) / 2
        det.bbox.center.position.y = (y1 + y2) / 2
        det.bbox.size_x = x2 - x1
        det.bbox.size_y = y2 - y1
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = names[int(class_id)]
        hypothesis.hypothesis.score = float(score)
        det.results.append(hypothesis)
        msg.detections.append(det)
    return msg


def detections_from_msg(msg: Detection2DArray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Detection2DArray → (boxes (N, 4) x1y1x2y2 pixels, scores (N,), class names) using each
    detection's best hypothesis."""
    boxes, scores, names = [], [], []
    for det in msg.detections:
        if not det.results:
            continue
        best = max(det.results, key=lambda r: r.hypothesis.score)
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        half_w, half_h = det.bbox.size_x / 2, det.bbox.size_y / 2
        boxes.append([cx - half_w, cy - half_h, cx + half_w, cy + half_h])
        scores.append(best.hypothesis.score)
        names.append(best.hypothesis.class_id)
    return np.array(boxes, np.float64).reshape(-1, 4), np.array(scores, np.float64), names
