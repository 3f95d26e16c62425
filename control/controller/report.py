"""The safety report of one cycle: state name, diagnostic level, reason, the conflict that matters."""

from __future__ import annotations

import math

from edge_rover.control.controller.stages import Braking
from edge_rover.control.controller.types import STATE_NAMES, WATCHDOG_STOP, Cycle, SafetyReport, Stage
from edge_rover.control.geometry import stopping_distance
from edge_rover.control.params import ControllerParams

OK, WARN, ERROR = 0, 1, 2  # diagnostic_msgs/DiagnosticStatus levels


def watchdog_report(params: ControllerParams, cycle: Cycle) -> SafetyReport:
    """The watchdog stopped the rover: nothing is known about obstacles, so no conflict is named."""
    return SafetyReport(
        state=WATCHDOG_STOP,
        level=ERROR,
        reason=cycle.watchdog.reason,
        ttc=math.inf,
        gap=math.inf,
        closing_speed=0.0,
        stopping_distance=stopping_distance(cycle.ego_forward, params.stop_decel, cycle.delay),
        obstacle="",
        ego_speed=cycle.ego,
        clear_arc=False,
        latency=cycle.latency,
        input_ages=cycle.ages,
    )


def drive_report(params: ControllerParams, cycle: Cycle, braking: Braking, arc_clear: bool) -> SafetyReport:
    """The stage and the worst conflict; no clear arc is a reason of its own (the rover stops)."""
    worst, stage = braking.worst, braking.stage
    reason = ""
    if worst is not None and stage > Stage.NONE:
        reason = f"{worst.source}: gap {worst.gap:.2f} m, TTC {worst.ttc:.2f} s"
    if not arc_clear:
        reason = (reason + "; " if reason else "") + "no clear arc"
    level = OK if stage == Stage.NONE and arc_clear else (WARN if stage <= Stage.WARN else ERROR)
    return SafetyReport(
        state=STATE_NAMES[stage],
        level=level,
        reason=reason,
        ttc=worst.ttc if worst else math.inf,
        gap=worst.gap if worst else math.inf,
        closing_speed=worst.closing_speed if worst else 0.0,
        stopping_distance=stopping_distance(cycle.ego_forward, params.full_decel, cycle.delay),
        obstacle=worst.source if worst else "",
        ego_speed=cycle.ego,
        clear_arc=arc_clear,
        latency=cycle.latency,
        input_ages=cycle.ages,
    )
