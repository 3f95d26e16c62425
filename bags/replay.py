"""Replay timing, as a pure function of (bag time, wall time): rate factor, start offset, loop."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplayClock:
    """Maps bag timestamps to wall-clock deadlines.

    ``rate`` 2.0 plays twice as fast; ``start_offset_s`` skips the first seconds of the bag.
    """

    bag_start_ns: int
    wall_start_s: float
    rate: float = 1.0
    start_offset_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.rate > 0.0:
            raise ValueError(f"rate must be > 0, got {self.rate}")
        if self.start_offset_s < 0.0:
            raise ValueError(f"start_offset_s must be >= 0, got {self.start_offset_s}")

    @property
    def first_stamp_ns(self) -> int:
        return self.bag_start_ns + round(self.start_offset_s * 1e9)

    def skips(self, stamp_ns: int) -> bool:
        return stamp_ns < self.first_stamp_ns

    def wall_deadline(self, stamp_ns: int) -> float:
        """Wall time (same clock as wall_start_s) at which a message should be published."""
        return self.wall_start_s + (stamp_ns - self.first_stamp_ns) / 1e9 / self.rate

    def bag_time_ns(self, wall_now_s: float) -> int:
        """The bag time that corresponds to ``wall_now_s`` (for /clock)."""
        return self.first_stamp_ns + round((wall_now_s - self.wall_start_s) * self.rate * 1e9)
