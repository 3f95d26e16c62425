"""Wheel odometry from MCU telemetry (pure): wheel speeds (+ steering angle) → integrated pose."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class OdometryEstimate:
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    speed: float = 0.0
    yaw_rate: float = 0.0
    stamp: float | None = None


def body_twist(
    left: float, right: float, steering_angle: float, mode: str, track_width: float, wheelbase: float
) -> tuple[float, float]:
    """(forward speed, yaw rate) from rear wheel speeds (m/s) and the measured steering angle.

    differential: yaw rate from the wheel speed difference; ackermann: from v·tan(δ)/L.
    """
    speed = 0.5 * (left + right)
    if mode == "differential":
        return speed, (right - left) / track_width
    return speed, speed * math.tan(steering_angle) / wheelbase


def integrate(estimate: OdometryEstimate, stamp: float, speed: float, yaw_rate: float) -> OdometryEstimate:
    """Advance the pose to ``stamp`` with the new twist (midpoint rule).

    A first, backward or > 1 s stamp step only records the twist: no pose jump from a gap.
    """
    if estimate.stamp is None or not (0.0 < stamp - estimate.stamp < 1.0):
        return OdometryEstimate(estimate.x, estimate.y, estimate.yaw, speed, yaw_rate, stamp)
    dt = stamp - estimate.stamp
    mid_yaw = estimate.yaw + 0.5 * yaw_rate * dt
    yaw = math.atan2(math.sin(estimate.yaw + yaw_rate * dt), math.cos(estimate.yaw + yaw_rate * dt))
    return OdometryEstimate(
        estimate.x + speed * math.cos(mid_yaw) * dt,
        estimate.y + speed * math.sin(mid_yaw) * dt,
        yaw,
        speed,
        yaw_rate,
        stamp,
    )
