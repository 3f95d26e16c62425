"""Multi-object tracker in ``base_link`` (pure core, no rclpy, no clock of its own).

* State per track: [x, y, vx, vy, h] with a constant-velocity Kalman filter (white-acceleration
  process noise). h is the obstacle's height as its box's top edge sees it: for obstacles taller
  than the camera the top edge is a second, sharper range cue (extended-Kalman update of
  ``GroundObservation.top_tan``), which is what makes the radial velocity of a pedestrian
  observable within half a second. h is learned per track, so a tall or short person is no bias.
  Positions are in base_link; velocities are over the ground expressed in base_link axes when
  odometry is given (each step first moves every track by the rover's own motion), and
  relative to the rover otherwise.
* Assignment: Hungarian (``scipy.optimize.linear_sum_assignment``) on the squared Mahalanobis
  distance of each detection to each predicted track, gated by a chi-square threshold and a hard
  distance (an ellipse: ``gate_distance`` across the line of sight, longer along it at long
  range), and never across classes (unless ``class_consistent`` is off).
* Life cycle: a track is born tentative, confirmed after ``birth_hits`` hits, deleted after
  ``death_misses`` consecutive misses (a tentative track after its first miss). Ids are never
  reused, resets included, so an id always means one object.
* Time: every decision is a function of (state, observations, ``now``). ``now`` earlier than the
  last update (bag loop, simulator reset), or a gap longer than ``max_gap``, resets the tracker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge_rover.perception.mapping.obstacle_types import GroundObservation, ObstacleProfile, TrackedObstacle

_H = np.array([[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0]])
_DIM = 5
_INFEASIBLE = 1e9


@dataclass(frozen=True)
class TrackerConfig:
    birth_hits: int = 3  # hits before a track is published
    death_misses: int = 5  # consecutive misses before a confirmed track is deleted
    gate_chi2: float = 13.8  # squared Mahalanobis gate (2 dof; 13.8 ≈ 99.9 %)
    gate_distance: float = 3.0  # m; hard gate whatever the covariance says
    # ...except along the line of sight, where one pixel of box bottom is d² / (f · camera height)
    # of range (~2.5 m at 22 m, ~13 % of it): there the hard gate is this fraction of the range
    # when that is larger (~2.7 px of row).
    gate_range_fraction: float = 0.35
    accel_sigma: float = 2.0  # m/s²; white-acceleration process noise
    initial_velocity_sigma: float = 3.0  # m/s; velocity uncertainty at birth (upper bound)
    min_velocity_sigma: float = 0.3  # m/s; prior floor, even for classes that never move
    max_speed: float = 20.0  # m/s; estimates are clipped to this (a physical bound, not a tuning)
    class_consistent: bool = True  # never assign a detection to a track of another class
    max_gap: float = 2.0  # s; a longer silence resets the tracker
    backwards_tolerance: float = 1e-3  # s; "now" earlier than this before the last update → reset
    size_smoothing: float = 0.3  # EMA weight of a new size / score measurement
    # Once a track has had this many boxes not cut by the image's side, boxes cut by it no longer
    # move its velocity (see Tracker._correct).
    whole_hits_for_velocity: int = 10
    # Over-ground speed (m/s) from which a track's heading sets its contact depth (_contact_corrected).
    heading_min_speed: float = 0.5
    use_top_edge: bool = True  # EKF update from the box's top edge (GroundObservation.top_tan)
    height_sigma: float = 0.25  # m; uncertainty of the first height measurement of a track
    height_drift: float = 0.05  # m/√s; random walk of the apparent height (gait, posture)
    top_gate_chi2: float = 6.6  # 1 dof, 99 %: a top edge that disagrees more (occluded) is ignored

    def __post_init__(self) -> None:
        if self.birth_hits < 1 or self.death_misses < 1:
            raise ValueError("birth_hits and death_misses must be >= 1")
        if not (self.gate_chi2 > 0 and self.gate_distance > 0 and self.accel_sigma >= 0 and self.max_gap > 0):
            raise ValueError(f"invalid TrackerConfig {self}")


@dataclass(frozen=True)
class EgoMotion:
    """The rover's own motion between two frames, from odometry."""

    speed: float  # m/s, forward (base_link x)
    yaw_rate: float  # rad/s

    def transform(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """(R, t) such that a static point p_old in the old base_link is R @ (p_old − t) now."""
        dtheta = self.yaw_rate * dt
        if abs(dtheta) < 1e-9:
            t = np.array([self.speed * dt, 0.0])
        else:
            radius = self.speed / self.yaw_rate
            t = np.array([radius * np.sin(dtheta), radius * (1.0 - np.cos(dtheta))])
        c, s = np.cos(-dtheta), np.sin(-dtheta)
        return np.array([[c, -s], [s, c]]), t


@dataclass
class Track:
    track_id: int
    class_name: str
    state: np.ndarray  # [x, y, vx, vy, h]
    covariance: np.ndarray  # 5×5
    size: np.ndarray  # depth, width, height
    score: float
    born: float
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    whole_hits: int = 0  # observations of boxes not cut by the image's left / right side


@dataclass
class StepReport:
    """What one update did (for counters and logs)."""

    reset: str | None = None  # why the tracker was reset before this step, if it was
    matched: int = 0
    born: int = 0
    deleted: int = 0


@dataclass
class Tracker:
    config: TrackerConfig = field(default_factory=TrackerConfig)
    tracks: list[Track] = field(default_factory=list)
    last_time: float | None = None
    next_id: int = 1
    resets: int = 0
    # Class → plausible top speed (m/s), from the class table: the velocity prior at birth is
    # zero-mean with sigma = top speed / 2, so a pedestrian's range jitter is not read as a
    # 1 m/s approach in its first half second.
    class_max_speed: dict[str, float] = field(default_factory=dict)
    # Class → profile (contact depth, moving contact footprint): a moving track's heading sets
    # how far behind its nearest ground contact its centre lies (see _contact_corrected).
    class_profiles: dict[str, ObstacleProfile] = field(default_factory=dict)
    _ego_known: bool = field(default=False, repr=False)  # this update had odometry

    # -- public API ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every track (ids keep counting up: an id is never given to two objects)."""
        self.tracks = []
        self.last_time = None
        self.resets += 1

    def update(
        self, observations: Sequence[GroundObservation], now: float, ego: EgoMotion | None = None
    ) -> StepReport:
        """Advance to ``now`` (s), compensate ``ego`` motion, then assign and update."""
        report = StepReport()
        if not np.isfinite(now):
            raise ValueError(f"tracker time must be finite, got {now}")
        if self.last_time is not None:
            if now < self.last_time - self.config.backwards_tolerance:
                report.reset = f"time went backwards by {self.last_time - now:.3f} s"
            elif now - self.last_time > self.config.max_gap:
                report.reset = f"gap of {now - self.last_time:.3f} s > max_gap {self.config.max_gap} s"
        if report.reset is not None:
            self.reset()
        self._ego_known = ego is not None  # velocities over the ground: a moving track has a heading
        dt = 0.0 if self.last_time is None else max(now - self.last_time, 0.0)
        self.last_time = now
        self._predict(dt, ego)
        matches, unmatched_tracks, unmatched_obs = self._associate(observations)
        for ti, oi in matches:
            self._correct(self.tracks[ti], observations[oi])
        report.matched = len(matches)
        for ti in unmatched_tracks:
            self.tracks[ti].misses += 1
        before = len(self.tracks)
        self.tracks = [t for t in self.tracks if not self._dead(t)]
        report.deleted = before - len(self.tracks)
        for oi in unmatched_obs:
            self.tracks.append(self._birth(observations[oi], now, ego_known=ego is not None))
        report.born = len(unmatched_obs)
        return report

    def confirmed(self, now: float | None = None) -> list[TrackedObstacle]:
        """Published tracks: confirmed ones, coasting ones included until they die."""
        now = self.last_time if now is None else now
        return [self._export(t, now) for t in self.tracks if t.confirmed]

    # -- steps -----------------------------------------------------------------------------------

    def _predict(self, dt: float, ego: EgoMotion | None) -> None:
        if dt <= 0.0 and ego is None:
            return
        F = np.eye(_DIM)
        F[0, 2] = F[1, 3] = dt
        q = self.config.accel_sigma**2
        # Discrete white-acceleration noise for one axis, laid out for [x, y, vx, vy]; h drifts.
        Q = np.zeros((_DIM, _DIM))
        Q[:4, :4] = q * np.array(
            [
                [dt**4 / 4, 0, dt**3 / 2, 0],
                [0, dt**4 / 4, 0, dt**3 / 2],
                [dt**3 / 2, 0, dt**2, 0],
                [0, dt**3 / 2, 0, dt**2],
            ]
        )
        Q[4, 4] = self.config.height_drift**2 * dt
        if ego is not None and dt > 0.0:
            R2, t = ego.transform(dt)
            R4 = np.eye(_DIM)
            R4[:4, :4] = np.kron(np.eye(2), R2)  # rotates position and velocity alike
        for track in self.tracks:
            track.state = F @ track.state
            track.covariance = F @ track.covariance @ F.T + Q
            if ego is not None and dt > 0.0:
                shifted = track.state.copy()
                shifted[:2] -= t
                track.state = R4 @ shifted
                track.covariance = R4 @ track.covariance @ R4.T

    def _associate(
        self, observations: Sequence[GroundObservation]
    ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        n_tracks, n_obs = len(self.tracks), len(observations)
        if n_tracks == 0 or n_obs == 0:
            return [], list(range(n_tracks)), list(range(n_obs))
        cost = np.full((n_tracks, n_obs), _INFEASIBLE)
        for i, track in enumerate(self.tracks):
            predicted = track.state[:2]
            projected_cov = _H @ track.covariance @ _H.T
            for j, obs in enumerate(observations):
                if self.config.class_consistent and obs.class_name != track.class_name:
                    continue
                innovation = obs.position - predicted
                if not self._within_hard_gate(predicted, innovation):
                    continue
                d2 = float(innovation @ np.linalg.solve(projected_cov + obs.covariance, innovation))
                if d2 <= self.config.gate_chi2:
                    cost[i, j] = d2
        rows, cols = linear_sum_assignment(cost)
        matches = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] < _INFEASIBLE]
        matched_tracks = {r for r, _ in matches}
        matched_obs = {c for _, c in matches}
        return (
            matches,
            [i for i in range(n_tracks) if i not in matched_tracks],
            [j for j in range(n_obs) if j not in matched_obs],
        )

    def _within_hard_gate(self, predicted: np.ndarray, innovation: np.ndarray) -> bool:
        gate = self.config.gate_distance
        distance = float(np.hypot(*predicted))
        if distance < 1e-6:
            return bool(np.hypot(*innovation) <= gate)
        sight = predicted / distance
        along = float(innovation @ sight)
        across = float(innovation[0] * sight[1] - innovation[1] * sight[0])
        along_gate = max(gate, self.config.gate_range_fraction * distance)
        return bool((along / along_gate) ** 2 + (across / gate) ** 2 <= 1.0)

    def _correct(self, track: Track, obs: GroundObservation) -> None:
        # A box cut by the image's side grows or shrinks as the obstacle enters or leaves the view:
        # its position (loosely known: see its covariance) moves with the cut as much as with the
        # obstacle. Once the track has seen the obstacle whole for a while, such boxes correct its
        # position only and its velocity keeps what the whole obstacle showed (a parked car the
        # rover passes otherwise acquired a velocity into the path). A track only ever seen cut (a
        # car overtaking into view) has nothing better: there they move it.
        hold = obs.cut_side and track.whole_hits >= self.config.whole_hits_for_velocity
        position = self._contact_corrected(track, obs)
        self._kalman_update(track, _H, position, obs.covariance, hold_velocity=hold)
        track.whole_hits += 0 if obs.cut_side else 1
        if self.config.use_top_edge:
            self._correct_top_edge(track, obs)
        speed = float(np.hypot(*track.state[2:4]))
        if speed > self.config.max_speed:
            track.state[2:4] *= self.config.max_speed / speed
        alpha = self.config.size_smoothing
        if not obs.cut_side:  # a side-cut box shows part of the obstacle: its size is a lower bound
            track.size = (1 - alpha) * track.size + alpha * np.asarray(obs.size)
        track.score = (1 - alpha) * track.score + alpha * obs.score
        track.hits += 1
        track.misses = 0
        if track.hits >= self.config.birth_hits:
            track.confirmed = True

    def _contact_corrected(self, track: Track, obs: GroundObservation) -> np.ndarray:
        """The observed centre, corrected for the track's heading where it is moving.

        The projector places the centre half the class's heading-averaged contact depth behind
        the nearest ground contact. A track moving over the ground (odometry known) has a heading;
        its footprint is elongated along it (a walker's feet spread along the stride, a car's
        tyres along its wheelbase), so the extent along the line of sight is
        along·|cos φ| + across·|sin φ|. A pedestrian crossing shows ~0.20 m of feet along the line
        of sight where the average says 0.40: it was placed 0.1 m too far (3 % at 3 m)."""
        profile = self.class_profiles.get(obs.class_name)
        if profile is None or profile.moving_contact is None or obs.camera_xyz is None or not self._ego_known:
            return obs.position
        velocity = track.state[2:4]
        speed = float(np.hypot(*velocity))
        if speed < self.config.heading_min_speed:
            return obs.position
        sight = obs.position - np.asarray(obs.camera_xyz[:2])
        distance = float(np.hypot(*sight))
        if distance < 1e-6:
            return obs.position
        sight = sight / distance
        cos_angle = float(np.clip(sight @ velocity / speed, -1.0, 1.0))
        depth = profile.contact_depth(float(np.arccos(cos_angle)))
        return obs.position + sight * (depth - profile.depth) / 2.0

    @staticmethod
    def _kalman_update(
        track: Track, H: np.ndarray, z: np.ndarray, R: np.ndarray, hold_velocity: bool
    ) -> None:
        """Linear update of ``track`` with z = H x + noise(R); ``hold_velocity`` leaves the velocity
        out of it (any gain keeps the Joseph form valid)."""
        S = H @ track.covariance @ H.T + R
        K = track.covariance @ H.T @ np.linalg.inv(S)
        if hold_velocity:
            K[2:4, :] = 0.0
        track.state = track.state + K @ (z - H @ track.state)
        # Joseph form: stays symmetric positive definite whatever the rounding.
        I_KH = np.eye(_DIM) - K @ H
        track.covariance = I_KH @ track.covariance @ I_KH.T + K @ R @ K.T

    def _correct_top_edge(self, track: Track, obs: GroundObservation) -> None:
        """Extended-Kalman update from the top edge: tan(elevation) = (h - camera_z) / d(x, y)."""
        if obs.top_tan is None or obs.camera_xyz is None or not obs.top_tan_sigma > 0.0:
            return
        cx, cy, cz = obs.camera_xyz
        offset = track.state[:2] - np.array([cx, cy])
        d = float(np.hypot(*offset))
        if d < 0.5:
            return
        rise = track.state[4] - cz
        predicted = rise / d
        H = np.zeros((1, _DIM))
        H[0, :2] = -rise / d**3 * offset
        H[0, 4] = 1.0 / d
        S = float((H @ track.covariance @ H.T)[0, 0]) + obs.top_tan_sigma**2
        innovation = obs.top_tan - predicted
        if innovation**2 / S > self.config.top_gate_chi2:
            return  # top edge hidden or cut by something in front: not this obstacle's top
        K = (track.covariance @ H.T) / S
        track.state = track.state + K[:, 0] * innovation
        I_KH = np.eye(_DIM) - K @ H
        track.covariance = I_KH @ track.covariance @ I_KH.T + (K @ K.T) * obs.top_tan_sigma**2

    def _birth(self, obs: GroundObservation, now: float, ego_known: bool) -> Track:
        covariance = np.zeros((_DIM, _DIM))
        covariance[:2, :2] = obs.covariance
        # The class prior bounds speed over the ground; without odometry, velocities are relative
        # to a rover of unknown speed, so only the wide prior is honest.
        sigma = (
            self._velocity_prior_sigma(obs.class_name) if ego_known else self.config.initial_velocity_sigma
        )
        covariance[2:4, 2:4] = np.eye(2) * sigma**2
        covariance[4, 4] = self.config.height_sigma**2
        height = float(obs.size[2])
        if self.config.use_top_edge and obs.top_tan is not None and obs.camera_xyz is not None:
            # The height that puts the top on the observed ray: correlated with the range.
            offset = obs.position - np.asarray(obs.camera_xyz[:2])
            d = float(np.hypot(*offset))
            if d >= 0.5:
                height = obs.camera_xyz[2] + obs.top_tan * d
                J = obs.top_tan * offset / d
                covariance[4, :2] = covariance[:2, 4] = J @ obs.covariance
                covariance[4, 4] = float(J @ obs.covariance @ J) + (d * obs.top_tan_sigma) ** 2
        track = Track(
            track_id=self.next_id,
            class_name=obs.class_name,
            state=np.array([obs.position[0], obs.position[1], 0.0, 0.0, height]),
            covariance=covariance,
            size=np.asarray(obs.size, dtype=np.float64),
            score=float(obs.score),
            born=now,
            confirmed=self.config.birth_hits <= 1,
            whole_hits=0 if obs.cut_side else 1,
        )
        self.next_id += 1
        return track

    def _velocity_prior_sigma(self, class_name: str) -> float:
        cfg = self.config
        top_speed = self.class_max_speed.get(class_name)
        if top_speed is None:
            return cfg.initial_velocity_sigma
        return float(np.clip(top_speed / 2.0, cfg.min_velocity_sigma, cfg.initial_velocity_sigma))

    def _dead(self, track: Track) -> bool:
        if not track.confirmed:
            return track.misses >= 1
        return track.misses >= self.config.death_misses

    @staticmethod
    def _export(track: Track, now: float | None) -> TrackedObstacle:
        return TrackedObstacle(
            track_id=track.track_id,
            class_name=track.class_name,
            position=track.state[:2].copy(),
            velocity=track.state[2:4].copy(),
            covariance=track.covariance[:4, :4].copy(),
            size=(float(track.size[0]), float(track.size[1]), float(track.size[2])),
            score=float(track.score),
            age=0.0 if now is None else float(now - track.born),
            misses=track.misses,
        )
