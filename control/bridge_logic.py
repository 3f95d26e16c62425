"""Serial bridge decisions (pure): /cmd_vel → command frame, heartbeat → brake frames."""

from __future__ import annotations

import math

from control.serial_protocol import FLAG_BRAKE, FLAG_ESTOP, FLAG_HEARTBEAT_LOST, FLAG_YAW_RATE, CommandFrame

STANDSTILL = 0.001  # m/s; a commanded speed below this asks the MCU to hold the wheels


def command_frame(
    seq: int,
    twist: tuple[float, float] | None,
    twist_age: float | None,
    cmd_timeout: float,
    steering_mode: str,
    mcu_timeout_ms: int,
    estop: bool = False,
    max_speed: float = 5.0,
) -> CommandFrame:
    """The frame to send now. No /cmd_vel for ``cmd_timeout`` (or a non-finite one) → brake frame.

    ``twist`` is (linear.x, angular.z): angular.z is the steering angle (rad) in ackermann mode,
    the yaw rate (rad/s) in differential mode — the controller's ``output_mode`` convention.
    """
    flags = FLAG_YAW_RATE if steering_mode == "differential" else 0
    if estop:
        flags |= FLAG_ESTOP
    fresh = twist is not None and twist_age is not None and 0.0 <= twist_age <= cmd_timeout
    if not fresh or not all(math.isfinite(v) for v in twist):
        return CommandFrame(seq & 0xFFFF, 0, 0, 100, flags | FLAG_BRAKE | FLAG_HEARTBEAT_LOST, mcu_timeout_ms)
    speed = max(-max_speed, min(max_speed, twist[0]))
    if abs(speed) < STANDSTILL:
        return CommandFrame(
            seq & 0xFFFF, 0, round(twist[1] * 1000.0), 100, flags | FLAG_BRAKE, mcu_timeout_ms
        )
    return CommandFrame(
        seq & 0xFFFF, round(speed * 1000.0), round(twist[1] * 1000.0), 0, flags, mcu_timeout_ms
    )
