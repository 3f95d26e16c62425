"""diagnostic_msgs/DiagnosticArray (``diagnostics``, ``safety/status``) ↔ :class:`Status` records.

Every node reports one DiagnosticStatus per array: ``name`` = "<node>: <what>" (``"controller:
safety"``, ``"serial_bridge: link"``), ``level`` OK 0 / WARN 1 / ERROR 2 / STALE 3, ``message`` =
one line, ``hardware_id`` = the device or topic it is about, ``values`` = string key/value pairs
(numbers formatted, ``"inf"``, ``"none"`` for absent, booleans ``"true"``/``"false"``). The array's
stamp is the publishing node's clock.

``safety/status`` (the controller, every cycle) keys: ``state`` (short form, :data:`STAGE_KEYS`;
``tools/report.py`` and the demo match on it), ``state_name`` (the long form), ``reason``, ``ttc``,
``gap``, ``closing_speed``, ``stopping_distance`` (s, m, m/s, m), ``obstacle`` (the id of the worst
conflict), ``ego_speed``, ``clear_arc``, ``latency``, ``cmd_speed``, ``cmd_steering_angle``,
``cmd_yaw_rate``, ``brake``, ``decision_time`` and ``age_<input>`` (s since each input arrived).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK, WARN, ERROR, STALE = 0, 1, 2, 3

# safety/status ``state``: the controller's state name → its short key.
STAGE_KEYS = {
    "DRIVING": "drive",
    "WARN": "warn",
    "PARTIAL_BRAKE": "partial",
    "FULL_BRAKE": "full",
    "HOLD": "hold",
    "WATCHDOG_STOP": "stop",
}


@dataclass(frozen=True)
class Status:
    name: str
    level: int
    message: str = ""
    values: dict[str, str] = field(default_factory=dict)
    hardware_id: str = ""


def format_value(value: float | None) -> str:
    """A number as a diagnostics value: 3 decimals, ``"inf"``, ``"nan"``, or ``"none"`` when absent."""
    if value is None:
        return "none"
    if math.isnan(value):
        return "nan"
    return "inf" if math.isinf(value) else f"{value:.3f}"


def _level_int(level: int | bytes) -> int:
    return level[0] if isinstance(level, (bytes, bytearray)) else int(level)


def diagnostics_to_msg(status: Status, stamp: Time) -> DiagnosticArray:
    level = _level_int(status.level)
    if level not in (OK, WARN, ERROR, STALE):
        raise ValueError(f"diagnostic level {level} is not one of OK 0, WARN 1, ERROR 2, STALE 3")
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = [
        DiagnosticStatus(
            level=bytes([level]),
            name=status.name,
            message=status.message,
            hardware_id=status.hardware_id,
            values=[KeyValue(key=str(k), value=str(v)) for k, v in status.values.items()],
        )
    ]
    return msg


def diagnostics_from_msg(msg: DiagnosticArray) -> list[Status]:
    return [
        Status(
            name=s.name,
            level=_level_int(s.level),
            message=s.message,
            values={v.key: v.value for v in s.values},
            hardware_id=s.hardware_id,
        )
        for s in msg.status
    ]
