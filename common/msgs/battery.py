"""sensor_msgs/BatteryState (``battery``) from the motor MCU's telemetry.

``voltage`` (V) and ``current`` (A, negative while discharging: the MCU reports the draw as a
positive number, the encoder flips it); everything the MCU does not measure (percentage, charge,
capacity, temperature) is NaN, as BatteryState asks; ``present`` is true; status DISCHARGING,
technology UNKNOWN.
"""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from sensor_msgs.msg import BatteryState


def battery_to_msg(voltage: float, draw: float, stamp: Time) -> BatteryState:
    """``draw`` = the current the MCU reports (A, positive while the battery discharges)."""
    msg = BatteryState()
    msg.header.stamp = stamp
    msg.voltage = float(voltage)
    msg.current = float(-draw)
    msg.percentage = math.nan
    msg.charge = math.nan
    msg.capacity = math.nan
    msg.design_capacity = math.nan
    msg.temperature = math.nan
    msg.present = True
    msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
    msg.power_supply_technology = BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN
    return msg


def battery_from_msg(msg: BatteryState) -> tuple[float, float]:
    """(voltage V, draw A positive while discharging) — the inverse of :func:`battery_to_msg`."""
    return float(msg.voltage), float(-msg.current)
