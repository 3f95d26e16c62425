"""Serial bridge decisions (pure): /cmd_vel → command frame, heartbeat → brake frames."""

from __future__ import annotations

import math

from edge_rover.control.mcu_link.serial_protocol import (
    FLAG_BRAKE,
    FLAG_ESTOP,
    FLAG_HEARTBEAT_LOST,
    FLAG_YAW_RATE,
    CommandFrame,
)

STANDSTILL = 0.001  # m/s; a commanded speed below this asks the MCU to hold the wheels
MIN_TURN_SPEED = 0.05  # m/s; below it a yaw rate cannot be turned into a steering angle


def steering_field(
    speed: float, angular_z: float, cmd_vel_angular_z: str, drive: str, wheelbase: float, max_steering: float
) -> float:
    """The frame's steering value (rad or rad/s) for the MCU's ``drive`` from Twist.angular.z.

    cmd_vel_angular_z: what angular.z holds (``yaw_rate`` — the Twist convention — or
    ``steering_angle``); drive: ``ackermann`` takes an angle, ``differential`` a yaw rate.
    """
    if drive == "differential":
        if cmd_vel_angular_z == "yaw_rate":
            return angular_z
        return speed * math.tan(angular_z) / wheelbase
    if cmd_vel_angular_z == "steering_angle":
        return max(-max_steering, min(max_steering, angular_z))
    if abs(speed) < MIN_TURN_SPEED:
        return 0.0  # a bicycle cannot turn on the spot: keep the wheels straight
    return max(-max_steering, min(max_steering, math.atan(wheelbase * angular_z / speed)))


def command_frame(
    seq: int,
    twist: tuple[float, float] | None,
    twist_age: float | None,
    cmd_timeout: float,
    mcu_timeout_ms: int,
    cmd_vel_angular_z: str = "yaw_rate",
    drive: str = "ackermann",
    wheelbase: float = 0.5,
    max_steering: float = 0.6,
    estop: bool = False,
    max_speed: float = 5.0,
) -> CommandFrame:
    """The frame to send now. No /cmd_vel for ``cmd_timeout`` (or a non-finite one) → brake frame."""
    flags = FLAG_YAW_RATE if drive == "differential" else 0
    if estop:
        flags |= FLAG_ESTOP
    fresh = twist is not None and twist_age is not None and 0.0 <= twist_age <= cmd_timeout
    if not fresh or not all(math.isfinite(v) for v in twist):
        return CommandFrame(seq & 0xFFFF, 0, 0, 100, flags | FLAG_BRAKE | FLAG_HEARTBEAT_LOST, mcu_timeout_ms)
    speed = max(-max_speed, min(max_speed, twist[0]))
    steer = steering_field(speed, twist[1], cmd_vel_angular_z, drive, wheelbase, max_steering)
    steer_milli = round(steer * 1000.0)
    if abs(speed) < STANDSTILL:
        return CommandFrame(seq & 0xFFFF, 0, steer_milli, 100, flags | FLAG_BRAKE, mcu_timeout_ms)
    return CommandFrame(seq & 0xFFFF, round(speed * 1000.0), steer_milli, 0, flags, mcu_timeout_ms)
