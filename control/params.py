"""Controller parameters: one table (name, default, meaning, range) shared by the node, the
YAML file and the README, plus the cross-parameter rules that keep a configuration safe."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from edge_rover.common.conventions import (
    ANGULAR_Z_CHOICES,
    ANGULAR_Z_DEFAULT,
    ANGULAR_Z_HELP,
    ANGULAR_Z_PARAM,
)
from edge_rover.common.params import ParameterValueError, ParamSpec


@dataclass(frozen=True)
class ControllerParams:
    # Timing. 30 Hz: one cycle per camera frame (decide_on_obstacles runs it the moment /obstacles
    # arrive); the timer then only fires when frames are late or stop. At 50 Hz it also ran a cycle
    # 20 ms after each frame's, inside the next frame's inference: +6 % of a core and +4 ms on the
    # end-to-end median (benchmarks/results/e2e_rate_ab). The serial bridge sends its own 50 Hz
    # frames to the motors whatever this rate.
    rate_hz: float = 30.0
    # Vehicle.
    cmd_vel_angular_z: str = ANGULAR_Z_DEFAULT
    wheelbase: float = 0.5
    rover_width: float = 0.6
    front_overhang: float = 0.7
    corridor_margin: float = 0.15
    # Speed and comfort limits.
    max_speed: float = 2.0
    min_speed: float = 0.0
    cruise_speed: float = 1.0
    max_accel: float = 1.0
    comfort_decel: float = 1.5
    max_jerk: float = 4.0
    max_steering_angle: float = 0.5
    max_steering_rate: float = 1.5
    max_lateral_accel: float = 1.5
    # Braking.
    partial_decel: float = 2.5
    full_decel: float = 4.0
    stop_decel: float = 2.5
    ttc_warn: float = 3.0
    ttc_partial: float = 1.8
    ttc_full: float = 1.0
    standoff: float = 0.5
    hysteresis: float = 0.25
    release_time: float = 0.5
    release_gap: float = 1.0
    hold_gap: float = 0.3
    actuator_lag: float = 0.15
    max_latency: float = 0.5
    # Perception of the path.
    lookahead: float = 6.0
    prediction_horizon: float = 2.0
    grid_occupied_threshold: int = 50
    grid_braking: bool = True
    grid_inflation: float = 0.35
    # Steering around obstacles.
    num_arcs: int = 21
    min_clear_length: float = 2.0
    weight_progress: float = 2.0
    weight_clearance: float = 1.0
    weight_heading: float = 1.0
    weight_comfort: float = 0.3
    clearance_comfort: float = 0.4
    max_heading_change: float = 0.6
    weight_lateral: float = 0.5
    brake_for_classes: str = "person,bicycle"
    vulnerable_margin: float = 0.35
    # Watchdog.
    frame_period: float = 1.0 / 30.0
    stale_periods: float = 3.0
    recovery_time: float = 0.5
    clock_jump: float = 0.5
    map_timeout: float = 1.0
    odom_timeout: float = 0.2

    @property
    def half_corridor(self) -> float:
        """Lateral half-width of the corridor the rover sweeps (body + margin)."""
        return 0.5 * self.rover_width + self.corridor_margin

    @property
    def protected_classes(self) -> frozenset[str]:
        """brake_for_classes as a set: people and cyclists, never slalom poles."""
        return frozenset(filter(None, (c.strip() for c in self.brake_for_classes.split(","))))

    @property
    def stale_after(self) -> float:
        return self.frame_period * self.stale_periods

    @property
    def period(self) -> float:
        return 1.0 / self.rate_hz

    @property
    def max_curvature(self) -> float:
        return math.tan(self.max_steering_angle) / self.wheelbase


_D = ControllerParams()

PARAM_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("rate_hz", _D.rate_hz, "control loop rate (Hz); runs whatever the inputs do", 5.0, 200.0),
    ParamSpec(ANGULAR_Z_PARAM, _D.cmd_vel_angular_z, ANGULAR_Z_HELP, choices=ANGULAR_Z_CHOICES),
    ParamSpec(
        "wheelbase",
        _D.wheelbase,
        "rear axle to front axle (m); also maps steering angle ↔ curvature",
        0.1,
        5.0,
    ),
    ParamSpec("rover_width", _D.rover_width, "rover body width (m)", 0.1, 3.0),
    ParamSpec("front_overhang", _D.front_overhang, "base_link (rear axle) to front bumper (m)", 0.0, 5.0),
    ParamSpec(
        "corridor_margin", _D.corridor_margin, "extra lateral clearance each side of the body (m)", 0.0, 2.0
    ),
    ParamSpec("max_speed", _D.max_speed, "forward speed limit (m/s)", 0.0, 10.0),
    ParamSpec(
        "min_speed", _D.min_speed, "reverse limit (m/s, ≤ 0); reversing is blind, default 0", -2.0, 0.0
    ),
    ParamSpec(
        "cruise_speed", _D.cruise_speed, "speed used when no /cmd_vel_in was ever received (m/s)", 0.0, 10.0
    ),
    ParamSpec("max_accel", _D.max_accel, "acceleration limit (m/s²)", 0.05, 10.0),
    ParamSpec(
        "comfort_decel", _D.comfort_decel, "normal slowing, speed caps and 'no clear arc' (m/s²)", 0.1, 10.0
    ),
    ParamSpec("max_jerk", _D.max_jerk, "jerk limit outside emergency stages (m/s³)", 0.1, 100.0),
    ParamSpec("max_steering_angle", _D.max_steering_angle, "steering angle limit (rad)", 0.05, 1.2),
    ParamSpec("max_steering_rate", _D.max_steering_rate, "steering angle rate limit (rad/s)", 0.05, 20.0),
    ParamSpec("max_lateral_accel", _D.max_lateral_accel, "v²·curvature limit (m/s²)", 0.1, 20.0),
    ParamSpec("partial_decel", _D.partial_decel, "deceleration of the PARTIAL stage (m/s²)", 0.2, 15.0),
    ParamSpec(
        "full_decel",
        _D.full_decel,
        "deceleration of the FULL stage, the rover's best braking (m/s²)",
        0.5,
        15.0,
    ),
    ParamSpec(
        "stop_decel", _D.stop_decel, "deceleration of the watchdog's controlled stop (m/s²)", 0.5, 15.0
    ),
    ParamSpec(
        "ttc_warn", _D.ttc_warn, "time-to-collision below which WARN (no acceleration) starts (s)", 0.1, 20.0
    ),
    ParamSpec(
        "ttc_partial", _D.ttc_partial, "time-to-collision below which PARTIAL braking starts (s)", 0.1, 20.0
    ),
    ParamSpec("ttc_full", _D.ttc_full, "time-to-collision below which FULL braking starts (s)", 0.05, 20.0),
    ParamSpec("standoff", _D.standoff, "gap to keep to an obstacle when stopped (m)", 0.05, 5.0),
    ParamSpec(
        "hysteresis",
        _D.hysteresis,
        "relative margin a stage's thresholds must clear before it ends",
        0.0,
        2.0,
    ),
    ParamSpec(
        "release_time",
        _D.release_time,
        "how long a stage's cause must stay gone before release (s)",
        0.0,
        10.0,
    ),
    ParamSpec(
        "release_gap",
        _D.release_gap,
        "HOLD ends only once the path is clear beyond standoff + this (m)",
        0.1,
        10.0,
    ),
    ParamSpec("hold_gap", _D.hold_gap, "stopped within standoff + this of an obstacle → HOLD (m)", 0.0, 5.0),
    ParamSpec("actuator_lag", _D.actuator_lag, "command-to-deceleration delay of the drive (s)", 0.0, 2.0),
    ParamSpec(
        "max_latency",
        _D.max_latency,
        "cap on the measured perception latency used in stopping distance (s)",
        0.0,
        2.0,
    ),
    ParamSpec("lookahead", _D.lookahead, "how far along an arc obstacles are considered (m)", 1.0, 50.0),
    ParamSpec(
        "prediction_horizon",
        _D.prediction_horizon,
        "how far ahead moving obstacles are extrapolated (s)",
        0.0,
        10.0,
    ),
    ParamSpec(
        "grid_occupied_threshold", _D.grid_occupied_threshold, "grid cell value counted as occupied", 1, 100
    ),
    ParamSpec(
        "grid_inflation",
        _D.grid_inflation,
        "how far the obstacle map already inflated obstacles (the mapper's rover_half_width, m)",
        0.0,
        3.0,
    ),
    ParamSpec(
        "grid_braking",
        _D.grid_braking,
        "brake for occupied grid cells on the arc (not only tracked obstacles)",
    ),
    ParamSpec(
        "num_arcs", _D.num_arcs, "candidate steering arcs scored each cycle (odd keeps straight)", 1, 101
    ),
    ParamSpec(
        "min_clear_length", _D.min_clear_length, "an arc is clear if free for at least this (m)", 0.2, 20.0
    ),
    ParamSpec("weight_progress", _D.weight_progress, "arc score weight: free length", 0.0, 100.0),
    ParamSpec("weight_clearance", _D.weight_clearance, "arc score weight: lateral clearance", 0.0, 100.0),
    ParamSpec(
        "weight_heading",
        _D.weight_heading,
        "arc score weight: deviation from the desired steering",
        0.0,
        100.0,
    ),
    ParamSpec(
        "weight_comfort", _D.weight_comfort, "arc score weight: change from the last steering", 0.0, 100.0
    ),
    ParamSpec(
        "clearance_comfort",
        _D.clearance_comfort,
        "clearance beyond the corridor that stops counting (m)",
        0.01,
        5.0,
    ),
    ParamSpec(
        "max_heading_change",
        _D.max_heading_change,
        "avoidance may turn the rover at most this far off its course (rad); beyond: brake, no U-turn",
        0.05,
        3.2,
    ),
    ParamSpec(
        "weight_lateral",
        _D.weight_lateral,
        "arc score weight: distance (m) from the course line at the arc's end (return to the path)",
        0.0,
        100.0,
    ),
    ParamSpec(
        "brake_for_classes",
        _D.brake_for_classes,
        "comma-separated classes never steered around: blocking the desired path they mean stop",
    ),
    ParamSpec(
        "vulnerable_margin",
        _D.vulnerable_margin,
        "extra lateral clearance (m) kept from brake_for_classes obstacles, on top of corridor_margin: "
        "the rover never passes a person closer than the sum",
        0.0,
        2.0,
    ),
    ParamSpec("frame_period", _D.frame_period, "expected camera frame period (s)", 0.005, 1.0),
    ParamSpec(
        "stale_periods",
        _D.stale_periods,
        "watchdog: inputs older than this many frame periods are stale",
        1.0,
        30.0,
    ),
    ParamSpec(
        "recovery_time",
        _D.recovery_time,
        "watchdog: inputs must be fresh this long to unlatch (s)",
        0.0,
        30.0,
    ),
    ParamSpec(
        "clock_jump",
        _D.clock_jump,
        "watchdog: a clock step larger than this (or backwards) trips it (s)",
        0.05,
        60.0,
    ),
    ParamSpec("map_timeout", _D.map_timeout, "an occupancy grid older than this is ignored (s)", 0.05, 30.0),
    ParamSpec(
        "odom_timeout", _D.odom_timeout, "odometry older than this → ego speed = last command (s)", 0.02, 10.0
    ),
)


def cross_check(values: dict[str, Any]) -> list[str]:
    """Rules between parameters; each violation is a reason to refuse the whole set."""
    v = values
    problems = []
    if not v["ttc_full"] < v["ttc_partial"] < v["ttc_warn"]:
        problems.append(
            "need ttc_full < ttc_partial < ttc_warn, got "
            f"{v['ttc_full']} / {v['ttc_partial']} / {v['ttc_warn']}"
        )
    if not v["comfort_decel"] <= v["partial_decel"] <= v["full_decel"]:
        problems.append(
            "need comfort_decel ≤ partial_decel ≤ full_decel, got "
            f"{v['comfort_decel']} / {v['partial_decel']} / {v['full_decel']}"
        )
    if v["stop_decel"] > v["full_decel"]:
        problems.append(f"stop_decel {v['stop_decel']} exceeds full_decel {v['full_decel']}")
    if v["cruise_speed"] > v["max_speed"]:
        problems.append(f"cruise_speed {v['cruise_speed']} exceeds max_speed {v['max_speed']}")
    stop_at_max = v["max_speed"] * (v["actuator_lag"] + 1.0 / v["rate_hz"]) + v["max_speed"] ** 2 / (
        2.0 * v["full_decel"]
    )
    if stop_at_max + v["standoff"] + v["front_overhang"] > v["lookahead"]:
        problems.append(
            f"lookahead {v['lookahead']} m is shorter than stopping from max_speed at full_decel "
            f"({stop_at_max:.2f} m) + standoff + front_overhang: obstacles would be seen too late"
        )
    if 1.0 / v["rate_hz"] > v["frame_period"] * v["stale_periods"]:
        problems.append(
            "the control period is longer than the watchdog threshold (frame_period × stale_periods)"
        )
    return problems


def params_from_values(values: dict[str, Any]) -> ControllerParams:
    """Validate every value and the cross rules; raise ParameterValueError with all reasons."""
    merged = {**dataclasses.asdict(ControllerParams()), **values}
    problems = [p for spec in PARAM_SPECS if (p := spec.check(merged[spec.name])) is not None]
    if not problems:
        problems = cross_check(merged)
    if problems:
        raise ParameterValueError("; ".join(problems))
    kinds = {f.name: type(getattr(_D, f.name)) for f in dataclasses.fields(ControllerParams)}
    return ControllerParams(**{k: kinds[k](val) for k, val in merged.items() if k in kinds})
