"""Detection2DArray: encode → decode gives the boxes back; best hypothesis, index fallback, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("vision_msgs")

from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

from edge_rover.common.msgs.detections import UNKNOWN_CLASS, detections_from_msg, detections_to_msg
from edge_rover.common.msgs.stamps import sec_to_stamp

BOXES = np.array([[10.0, 20.0, 110.0, 220.0], [300.5, 40.25, 340.0, 90.0]])


def test_round_trip() -> None:
    msg = detections_to_msg(BOXES, [0.9, 0.4], ["person", "traffic_cone"], sec_to_stamp(3.25), "cam")
    assert msg.header.frame_id == "cam" and msg.detections[0].header.stamp.sec == 3
    back = detections_from_msg(msg)
    np.testing.assert_allclose(back.boxes, BOXES)
    np.testing.assert_allclose(back.scores, [0.9, 0.4])
    assert back.names == ["person", "traffic_cone"]


def test_empty_frame() -> None:
    back = detections_from_msg(detections_to_msg(np.zeros((0, 4)), [], [], sec_to_stamp(1.0), "cam"))
    assert back.boxes.shape == (0, 4) and back.scores.shape == (0,) and back.names == []


def _hypothesis(class_id: str, score: float) -> ObjectHypothesisWithPose:
    h = ObjectHypothesisWithPose()
    h.hypothesis.class_id, h.hypothesis.score = class_id, score
    return h


def test_best_hypothesis_index_fallback_and_unknown_class() -> None:
    several, numeric, out_of_range, bare = Detection2D(), Detection2D(), Detection2D(), Detection2D()
    several.results = [_hypothesis("car", 0.3), _hypothesis("person", 0.7)]
    numeric.results = [_hypothesis("1", 0.5)]
    out_of_range.results = [_hypothesis("7", 0.5)]
    msg = Detection2DArray(detections=[several, numeric, out_of_range, bare])
    back = detections_from_msg(msg, ["person", "car"])
    assert back.names == ["person", "car", "7", UNKNOWN_CLASS]
    assert back.scores[0] == pytest.approx(0.7)
    assert math.isnan(back.scores[3])  # kept, for the consumer's check to count and reject
    assert detections_from_msg(msg).names[1] == "1"  # no class table: the id as it is
    assert detections_from_msg(msg, ["person", "car"]).names[2] == "7"


def test_nan_passes_through_and_mismatched_lengths_are_refused() -> None:
    boxes = BOXES.copy()
    boxes[0, 0] = math.nan
    back = detections_from_msg(detections_to_msg(boxes, [math.nan, 0.4], ["a", "b"], sec_to_stamp(0.0), "c"))
    assert math.isnan(back.boxes[0, 0]) and math.isnan(back.scores[0])
    with pytest.raises(ValueError, match="do not match"):
        detections_to_msg(BOXES, [0.9], ["person", "car"], sec_to_stamp(0.0), "cam")
