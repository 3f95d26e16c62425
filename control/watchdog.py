"""Input watchdog: stale, invalid or time-warped inputs → a latched controlled stop.

Pure: ``watchdog_step(state, now, ages, invalid, limits)`` returns the next state. A fault trips
it at once; it unlatches only after every watched input has been fresh and valid for
``recovery_time`` without interruption, so a flickering input cannot release it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

CLOCK_TOLERANCE = 1e-3  # s; stamps this far in the future are jitter, not a clock jump


@dataclass(frozen=True)
class WatchdogState:
    tripped: bool = True  # a controller that has seen nothing yet must not drive
    reason: str = "no input received yet"
    fresh_since: float | None = None
    last_now: float | None = None
    started: bool = False  # False until the first time every input was fresh (start-up is no fault)


@dataclass(frozen=True)
class WatchdogLimits:
    stale_after: float  # s
    recovery_time: float  # s
    clock_jump: float  # s


def input_fault(ages: Mapping[str, float | None], stale_after: float) -> str | None:
    """Why the watched inputs are not usable now (None if all are fresh)."""
    for name, age in ages.items():
        if age is None:
            return f"{name}: never received"
        if not math.isfinite(age):
            return f"{name}: age is {age}"
        if age < -CLOCK_TOLERANCE:
            return f"{name}: stamped {-age:.3f} s in the future (clock jump?)"
        if age > stale_after:
            return f"{name}: stale ({age:.3f} s > {stale_after:.3f} s)"
    return None


def watchdog_step(
    state: WatchdogState,
    now: float,
    ages: Mapping[str, float | None],
    invalid: str | None,
    limits: WatchdogLimits,
) -> WatchdogState:
    fault = None
    if state.last_now is not None:
        step = now - state.last_now
        if step < -CLOCK_TOLERANCE:
            fault = f"clock jumped back {-step:.3f} s"
        elif step > limits.clock_jump:
            fault = f"clock jumped ahead {step:.3f} s (> {limits.clock_jump:.3f} s)"
    if fault is None and invalid is not None:
        fault = f"invalid input: {invalid}"
    if fault is None:
        fault = input_fault(ages, limits.stale_after)
    if fault is not None:
        return WatchdogState(
            tripped=True, reason=fault, fresh_since=None, last_now=now, started=state.started
        )
    if not state.tripped or not state.started:
        # Running, or starting up with everything fresh: a start is not a fault to recover from.
        return WatchdogState(tripped=False, reason="", fresh_since=None, last_now=now, started=True)
    fresh_since = state.fresh_since if state.fresh_since is not None else now
    if now - fresh_since >= limits.recovery_time:
        return WatchdogState(tripped=False, reason="", fresh_since=None, last_now=now, started=True)
    base = state.reason.split(" — latched", 1)[0]
    held = f"{base} — latched, inputs fresh for {now - fresh_since:.2f}/{limits.recovery_time:.2f} s"
    return WatchdogState(tripped=True, reason=held, fresh_since=fresh_since, last_now=now, started=True)
