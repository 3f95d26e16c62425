"""Run-time statistics of the detector node (pure: the node feeds it, diagnostics read it)."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

# diagnostic_msgs/DiagnosticStatus levels, without importing ROS here
OK, WARN, ERROR = 0, 1, 2


@dataclass
class DetectorStats:
    """Counters since start plus a window of recent latencies (ms)."""

    window: int = 300
    frames_in: int = 0
    frames_done: int = 0
    dropped: int = 0
    errors: Counter = field(default_factory=Counter)
    _processing_ms: deque = field(default_factory=deque)
    _age_ms: deque = field(default_factory=deque)
    _stage_ms: deque = field(default_factory=deque)

    def record(self, processing_ms: float, age_ms: float, pre_post_ms: float) -> None:
        """One published frame: processing time, capture-stamp→publish age, pre+post-processing."""
        self.frames_done += 1
        for queue, value in (
            (self._processing_ms, processing_ms),
            (self._age_ms, age_ms),
            (self._stage_ms, pre_post_ms),
        ):
            queue.append(value)
            while len(queue) > self.window:
                queue.popleft()

    def summary(self, frames_done_last_period: int, period_s: float) -> tuple[int, str, dict[str, str]]:
        """(level, message, key/values) for a diagnostic status."""
        values = {
            "frames_in": str(self.frames_in),
            "frames_published": str(self.frames_done),
            "frames_dropped": str(self.dropped),
            "errors_total": str(sum(self.errors.values())),
            "rate_hz": f"{frames_done_last_period / period_s:.1f}" if period_s > 0 else "nan",
        }
        values.update({f"errors_{kind}": str(count) for kind, count in sorted(self.errors.items())})
        for name, queue in (
            ("processing_ms", self._processing_ms),
            ("age_ms", self._age_ms),
            ("pre_post_ms", self._stage_ms),
        ):
            if queue:
                window = np.fromiter(queue, float)
                p50, p99 = np.percentile(window, [50, 99])
                values[f"{name}_p50"] = f"{p50:.1f}"
                values[f"{name}_p99"] = f"{p99:.1f}"
                values[f"{name}_max"] = f"{window.max():.1f}"  # one stall hides below p99
        if self.frames_in == 0:
            return WARN, "no images received yet", values
        if frames_done_last_period == 0:
            return WARN, "no detections published in the last period", values
        if self.errors:
            return WARN, f"{sum(self.errors.values())} frame errors so far ({dict(self.errors)})", values
        return OK, "running", values


def not_ready_status(
    loaded: bool, load_error: BaseException | None, waited_s: float
) -> tuple[int, str] | None:
    """(level, message) while the detector is not running yet (a TensorRT engine loading or
    building on its thread) or failed to load; None once it runs."""
    if load_error is not None:
        return ERROR, f"not ready: the detector failed to load: {load_error}"
    if not loaded:
        return WARN, f"not ready: loading/building the TensorRT engine ({waited_s:.0f} s so far)"
    return None
