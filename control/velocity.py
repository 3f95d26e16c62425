"""Obstacle velocity from successive positions of the same track id (pure).

Used when ``/obstacles`` does not carry velocity. Positions are in base_link, which moves: the
rover's own motion is added back so the result is velocity over ground in base_link axes
(a parked car reads ≈ 0). Differences are low-pass filtered, and a track seen once reads 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class _Track:
    stamp: float
    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0


@dataclass
class VelocityEstimator:
    time_constant: float = 0.3  # s, low-pass on the differenced velocity
    forget_after: float = 1.0  # s, tracks not seen for this long are dropped
    tracks: dict[str, _Track] = field(default_factory=dict)

    def update(
        self, stamp: float, positions: dict[str, tuple[float, float]], ego_speed: float, ego_yaw_rate: float
    ) -> dict[str, tuple[float, float]]:
        """Feed one obstacle message; return {track id: (vx, vy)} over ground in base_link axes."""
        out: dict[str, tuple[float, float]] = {}
        for track_id, (x, y) in positions.items():
            old = self.tracks.get(track_id)
            dt = None if old is None else stamp - old.stamp
            if old is None or dt is None or not (1e-3 < dt <= self.forget_after):
                self.tracks[track_id] = _Track(stamp, x, y)
                out[track_id] = (0.0, 0.0)
                continue
            # A static point seen from a moving base: ṗ = −v_ego − ω × p. Undo that.
            vx = (x - old.x) / dt + ego_speed - ego_yaw_rate * y
            vy = (y - old.y) / dt + ego_yaw_rate * x
            alpha = 1.0 - math.exp(-dt / self.time_constant)
            track = _Track(stamp, x, y, old.vx + alpha * (vx - old.vx), old.vy + alpha * (vy - old.vy))
            self.tracks[track_id] = track
            out[track_id] = (track.vx, track.vy)
        self.tracks = {k: v for k, v in self.tracks.items() if stamp - v.stamp <= self.forget_after}
        return out
