"""builtin_interfaces/Time ↔ float seconds.

A stamp is the capture time of the camera frame a message came from (every node passes it on);
``sec_to_stamp`` rounds to the nanosecond and refuses negative or non-finite seconds.
"""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time


def stamp_to_sec(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(seconds: float) -> Time:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot make a ROS stamp from {seconds!r} s")
    total_ns = round(seconds * 1e9)
    return Time(sec=total_ns // 1_000_000_000, nanosec=total_ns % 1_000_000_000)
