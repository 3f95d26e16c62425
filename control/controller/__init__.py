"""The controller core: staged emergency braking, steering around obstacles, limits, watchdog.

Pure: ``step(params, state, inputs, now) -> (state, Command, SafetyReport)``. No clocks, no
rclpy: the node passes ``now`` and the arrival times of its inputs, so live runs, replay at any
speed and tests execute the same decisions.

One cycle (``cycle.step``), one module per concern:
1. ``inputs``: watchdog (stale / invalid inputs, clock jumps) → latched controlled stop;
2. ``arcs``: score candidate arcs on the grid and the tracked obstacles, pick the best clear one;
   ``speed`` limits the steering rate and the lateral acceleration;
3. ``stages``: find conflicts in the corridor of the arc actually commanded (tracked obstacles,
   extrapolated over ``prediction_horizon``, and occupied grid cells), compute gap, closing speed,
   time-to-collision and stopping distance (measured perception latency + actuator lag + one
   period), update the stage machine NONE → WARN → PARTIAL → FULL → HOLD with hysteresis;
4. ``speed``: follow the desired speed under a stopping-distance cap, acceleration and jerk limits,
   or the stage's deceleration;
5. ``report``: the SafetyReport. The records are in ``types``.

Import from here (``edge_rover.control.controller``); the modules are the layout, not the API.
"""

from edge_rover.control.controller.arcs import (
    STOPPED_SPEED,
    ArcChoice,
    Course,
    arc_clearance,
    choose_arc,
    free_length,
)
from edge_rover.control.controller.cycle import step
from edge_rover.control.controller.inputs import (
    MAX_PLAUSIBLE_RANGE,
    MAX_PLAUSIBLE_SIZE,
    MAX_PLAUSIBLE_SPEED,
    invalid_input,
)
from edge_rover.control.controller.stages import (
    PREDICTION_STEP,
    grid_conflict,
    next_stage,
    obstacle_conflicts,
    stage_needed,
)
from edge_rover.control.controller.types import (
    STATE_NAMES,
    Command,
    Conflict,
    ControlInputs,
    ControllerState,
    Obstacle,
    SafetyReport,
    Stage,
    obstacle_discs,
)

__all__ = [
    "MAX_PLAUSIBLE_RANGE",
    "MAX_PLAUSIBLE_SIZE",
    "MAX_PLAUSIBLE_SPEED",
    "PREDICTION_STEP",
    "STATE_NAMES",
    "STOPPED_SPEED",
    "ArcChoice",
    "Command",
    "Conflict",
    "ControlInputs",
    "ControllerState",
    "Course",
    "Obstacle",
    "SafetyReport",
    "Stage",
    "arc_clearance",
    "choose_arc",
    "free_length",
    "grid_conflict",
    "invalid_input",
    "next_stage",
    "obstacle_conflicts",
    "obstacle_discs",
    "stage_needed",
    "step",
]
