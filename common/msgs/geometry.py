"""geometry_msgs/Quaternion ↔ yaw; the pitch of an orientation.

REP-103 axes (x forward, y left, z up); angles in radians. A planar pose (odometry, the sim's
boxes, a grid origin) is a rotation about z only: ``quaternion_from_yaw`` writes
(0, 0, sin(yaw/2), cos(yaw/2)). ``yaw_from_quaternion`` reads the heading of any orientation (ZYX
Euler yaw), ``pitch_from_quaternion`` its pitch (positive: nose down, the mapper adds it to the
camera pitch). The decoders take anything with x, y, z, w attributes; a non-finite component gives
NaN (the consumer's input check rejects it), the encoder refuses a non-finite yaw.
"""

from __future__ import annotations

import math
from typing import Protocol

from geometry_msgs.msg import Quaternion


class QuaternionLike(Protocol):
    x: float
    y: float
    z: float
    w: float


def quaternion_from_yaw(yaw: float) -> Quaternion:
    if not math.isfinite(yaw):
        raise ValueError(f"cannot make an orientation from yaw {yaw!r} rad")
    return Quaternion(x=0.0, y=0.0, z=math.sin(0.5 * yaw), w=math.cos(0.5 * yaw))


def yaw_from_quaternion(q: QuaternionLike) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def pitch_from_quaternion(q: QuaternionLike) -> float:
    sin_pitch = 2.0 * (q.w * q.y - q.z * q.x)
    if not math.isfinite(sin_pitch):
        return math.nan
    return math.asin(max(-1.0, min(1.0, sin_pitch)))
