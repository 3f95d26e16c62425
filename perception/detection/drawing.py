"""Annotated debug image: boxes + class + score drawn on a copy of the frame."""

from __future__ import annotations

import cv2
import numpy as np

from edge_rover.perception.detection.types import Detections

_PALETTE = [(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72)]


def draw_detections(image_bgr: np.ndarray, detections: Detections) -> np.ndarray:
    canvas = image_bgr.copy()
    for box, score, class_id in zip(detections.boxes, detections.scores, detections.class_ids, strict=True):
        color = _PALETTE[int(class_id) % len(_PALETTE)]
        x1, y1, x2, y2 = (round(v) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2)
        label = f"{detections.class_names[class_id]} {score:.2f}"
        cv2.putText(
            canvas, label, (x1, max(y1 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1, cv2.LINE_AA
        )
    return canvas
