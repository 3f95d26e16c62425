"""vision_msgs/Detection3DArray (``obstacles``, ``sim/ground_truth``) ↔ :class:`Obstacle3D` boxes.

Both topics use one convention, frame ``base_link`` (REP-103), one Detection3D per object:

* ``id``: the object's id as a string — the mapper's track id (decimal, stable for the life of the
  track, never reused) or the simulator's object index.
* ``bbox.center.position``: footprint centre (x, y) and z = height / 2 (objects stand on the
  ground); ``bbox.center.orientation``: the box's heading (yaw about z; the mapper's boxes are
  axis-aligned, yaw 0); ``bbox.size`` = (depth, width, height) in m, depth along the box's x side.
* a class result: ``hypothesis.class_id`` = class name, ``hypothesis.score`` = the mapper's track
  score, or for ground truth the fraction of the object the camera sees (1 − occlusion; 0 out of
  view); ``pose.pose`` = the footprint centre on the ground (x, y, 0) with the box's orientation;
  ``pose.covariance`` 6×6 row-major, x/y block = position covariance (m²), the unobserved
  diagonal entries (z, roll, pitch, yaw) large.
* a velocity result (only when the velocity is known): ``hypothesis.class_id == "velocity"``
  (:data:`VELOCITY_RESULT_ID`, vision_msgs has no velocity field), ``hypothesis.score == 0.0`` (a
  generic "take the best-scoring result" never picks it); ``pose.pose.position`` = (vx, vy, 0) in
  m/s in base_link axes, over the ground when the publisher knew the ego motion (the mapper with
  /odom, the simulator always); ``pose.covariance`` x/y block = velocity covariance.

Decoding (chosen once for every consumer): the **best-scoring** non-velocity result names the
class; an object without one is class ``"unknown"`` with score 1.0 (a box we know nothing about
still counts fully: the controller brakes for it); an empty ``id`` becomes ``"#<index>"``;
``velocity`` is None when there is no velocity result; NaN values pass through for the consumer's
input check to reject.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose

from edge_rover.common.msgs.geometry import quaternion_from_yaw, yaw_from_quaternion

VELOCITY_RESULT_ID = "velocity"
UNKNOWN_CLASS = "unknown"
_UNOBSERVED_VARIANCE = 1e6


@dataclass(frozen=True)
class Obstacle3D:
    """One box of an ``obstacles`` / ``sim/ground_truth`` message (base_link, m, rad, m/s)."""

    id: str
    class_name: str
    score: float
    position: tuple[float, float]  # footprint centre x, y
    size: tuple[float, float, float]  # depth, width, height
    yaw: float = 0.0
    velocity: tuple[float, float] | None = None  # vx, vy; None: not known
    covariance: np.ndarray | None = None  # (4, 4) over x, y, vx, vy; None: not given

    @property
    def numeric_id(self) -> int:
        """The id as an int (the mapper's track ids), -1 where it is not a number."""
        return int(self.id) if self.id.isdigit() else -1


def _covariance6(block: np.ndarray | None) -> list[float]:
    cov = np.zeros((6, 6))
    if block is not None:
        cov[:2, :2] = block
    for i in range(2, 6):
        cov[i, i] = _UNOBSERVED_VARIANCE
    return [float(v) for v in cov.ravel()]


def _result(class_id: str, score: float, x: float, y: float, yaw: float, cov: np.ndarray | None):
    result = ObjectHypothesisWithPose()
    result.hypothesis.class_id = class_id
    result.hypothesis.score = float(score)
    result.pose.pose.position.x, result.pose.pose.position.y = float(x), float(y)
    result.pose.pose.orientation = quaternion_from_yaw(yaw)
    result.pose.covariance = _covariance6(cov)
    return result


def obstacles_to_msg(obstacles: Sequence[Obstacle3D], stamp: Time, frame_id: str) -> Detection3DArray:
    out = Detection3DArray()
    out.header.stamp = stamp
    out.header.frame_id = frame_id
    for ob in obstacles:
        det = Detection3D()
        det.header = out.header
        det.id = str(ob.id)
        depth, width, height = (float(v) for v in ob.size)
        x, y = (float(v) for v in ob.position)
        det.bbox.center.position.x, det.bbox.center.position.y = x, y
        det.bbox.center.position.z = height / 2.0
        det.bbox.center.orientation = quaternion_from_yaw(ob.yaw)
        det.bbox.size.x, det.bbox.size.y, det.bbox.size.z = depth, width, height
        cov = None if ob.covariance is None else np.asarray(ob.covariance, dtype=np.float64)
        det.results = [_result(ob.class_name, ob.score, x, y, ob.yaw, None if cov is None else cov[:2, :2])]
        if ob.velocity is not None:
            vx, vy = ob.velocity
            det.results.append(
                _result(VELOCITY_RESULT_ID, 0.0, vx, vy, 0.0, None if cov is None else cov[2:, 2:])
            )
        out.detections.append(det)
    return out


def _block(result: ObjectHypothesisWithPose) -> np.ndarray:
    return np.asarray(result.pose.covariance, dtype=np.float64).reshape(6, 6)[:2, :2]


def obstacles_from_msg(msg: Detection3DArray) -> list[Obstacle3D]:
    """Detection3DArray → :class:`Obstacle3D` list (the decoding rules above)."""
    out = []
    for index, det in enumerate(msg.detections):
        classes = [r for r in det.results if r.hypothesis.class_id != VELOCITY_RESULT_ID]
        moving = [r for r in det.results if r.hypothesis.class_id == VELOCITY_RESULT_ID]
        best = max(classes, key=lambda r: r.hypothesis.score, default=None)
        covariance = np.zeros((4, 4))
        velocity = None
        if best is not None:
            covariance[:2, :2] = _block(best)
        if moving:
            position = moving[0].pose.pose.position
            velocity = (float(position.x), float(position.y))
            covariance[2:, 2:] = _block(moving[0])
        box = det.bbox
        out.append(
            Obstacle3D(
                id=det.id or f"#{index}",
                class_name=str(best.hypothesis.class_id) if best is not None else UNKNOWN_CLASS,
                score=float(best.hypothesis.score) if best is not None else 1.0,
                position=(float(box.center.position.x), float(box.center.position.y)),
                size=(float(box.size.x), float(box.size.y), float(box.size.z)),
                yaw=yaw_from_quaternion(box.center.orientation),
                velocity=velocity,
                covariance=covariance,
            )
        )
    return out
