"""Detection3DArray (obstacles, sim/ground_truth): round trip, the decoding rules, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("vision_msgs")

from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose

from edge_rover.common.msgs.obstacles import (
    UNKNOWN_CLASS,
    VELOCITY_RESULT_ID,
    Obstacle3D,
    obstacles_from_msg,
    obstacles_to_msg,
)
from edge_rover.common.msgs.stamps import sec_to_stamp

TRACK = Obstacle3D(
    id="12",
    class_name="person",
    score=0.8,
    position=(4.0, -0.5),
    size=(0.6, 0.8, 1.7),
    yaw=0.0,
    velocity=(-0.2, 1.1),
    covariance=np.diag([0.04, 0.01, 0.09, 0.16]),
)
CAR = Obstacle3D(id="3", class_name="car", score=0.0, position=(12.0, 2.0), size=(4.4, 1.8, 1.5), yaw=0.7)


def _same(a: Obstacle3D, b: Obstacle3D) -> None:
    assert (a.id, a.class_name) == (b.id, b.class_name)
    assert b.score == pytest.approx(a.score) and b.yaw == pytest.approx(a.yaw)
    np.testing.assert_allclose(b.position, a.position)
    np.testing.assert_allclose(b.size, a.size)
    assert (a.velocity is None) == (b.velocity is None)
    if a.velocity is not None:
        np.testing.assert_allclose(b.velocity, a.velocity)


def test_round_trip() -> None:
    msg = obstacles_to_msg([TRACK, CAR], sec_to_stamp(12.5), "base_link")
    assert msg.header.frame_id == "base_link"
    det = msg.detections[0]
    assert det.bbox.center.position.z == pytest.approx(0.85)  # height / 2
    assert [r.hypothesis.class_id for r in det.results] == ["person", VELOCITY_RESULT_ID]
    assert det.results[1].hypothesis.score == 0.0
    assert len(msg.detections[1].results) == 1  # no velocity known, none sent
    back = obstacles_from_msg(msg)
    for a, b in zip([TRACK, CAR], back, strict=True):
        _same(a, b)
    np.testing.assert_allclose(back[0].covariance, TRACK.covariance)
    assert back[0].numeric_id == 12


def test_empty() -> None:
    assert obstacles_from_msg(obstacles_to_msg([], sec_to_stamp(0.0), "base_link")) == []


def _result(class_id: str, score: float, x: float = 0.0, y: float = 0.0) -> ObjectHypothesisWithPose:
    r = ObjectHypothesisWithPose()
    r.hypothesis.class_id, r.hypothesis.score = class_id, score
    r.pose.pose.position.x, r.pose.pose.position.y = x, y
    return r


def test_decoding_rules() -> None:
    # a ground-truth box out of view: class score 0, so "best-scoring" must skip the velocity
    hidden = Detection3D(id="4")
    hidden.results = [_result(VELOCITY_RESULT_ID, 0.0, 0.5, 0.0), _result("car", 0.0)]
    several = Detection3D()
    several.results = [_result("bicycle", 0.2), _result("person", 0.6)]
    bare = Detection3D(id="x")
    decoded = obstacles_from_msg(Detection3DArray(detections=[hidden, several, bare]))
    assert decoded[0].class_name == "car" and decoded[0].velocity == (0.5, 0.0)
    assert decoded[1].class_name == "person" and decoded[1].id == "#1" and decoded[1].velocity is None
    assert decoded[2].class_name == UNKNOWN_CLASS and decoded[2].score == 1.0  # counts fully
    assert decoded[2].numeric_id == -1


def test_nan_passes_through_for_the_consumer_and_nan_yaw_is_refused() -> None:
    bad = Obstacle3D(id="1", class_name="box", score=0.5, position=(math.nan, 0.0), size=(1.0, 1.0, 1.0))
    (back,) = obstacles_from_msg(obstacles_to_msg([bad], sec_to_stamp(0.0), "base_link"))
    assert math.isnan(back.position[0])
    with pytest.raises(ValueError, match="yaw"):
        obstacles_to_msg([Obstacle3D("1", "box", 0.5, (0.0, 0.0), (1.0, 1.0, 1.0), yaw=math.nan)],
                         sec_to_stamp(0.0), "base_link")  # fmt: skip
