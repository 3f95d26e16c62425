"""Tracker: life cycle, assignment, velocity estimation, ego motion and time handling."""

from __future__ import annotations

import numpy as np
import pytest

from perception.obstacle_types import GroundObservation
from perception.tracker import EgoMotion, Tracker, TrackerConfig

DT = 1.0 / 30.0


def _obs(x: float, y: float, klass: str = "person", sigma: float = 0.1) -> GroundObservation:
    return GroundObservation(np.array([x, y]), np.eye(2) * sigma**2, (0.35, 0.5, 1.7), klass, 0.9)


def test_birth_after_n_hits_and_stable_id() -> None:
    tracker = Tracker(TrackerConfig(birth_hits=3))
    for frame in range(2):
        tracker.update([_obs(5.0, 0.0)], frame * DT)
        assert tracker.confirmed() == []
    tracker.update([_obs(5.0, 0.0)], 2 * DT)
    (track,) = tracker.confirmed()
    first_id = track.track_id
    for frame in range(3, 60):
        tracker.update([_obs(5.0, 0.0)], frame * DT)
        (track,) = tracker.confirmed()
        assert track.track_id == first_id


def test_death_after_m_misses_and_tentative_dies_at_first_miss() -> None:
    tracker = Tracker(TrackerConfig(birth_hits=2, death_misses=4))
    tracker.update([_obs(5.0, 0.0)], 0.0)
    tracker.update([], DT)
    assert tracker.tracks == []  # a tentative track is dropped at its first miss
    for frame in range(3):
        tracker.update([_obs(5.0, 0.0)], (2 + frame) * DT)
    assert len(tracker.confirmed()) == 1
    for miss in range(1, 5):
        tracker.update([], (5 + miss) * DT)
        assert len(tracker.confirmed()) == (1 if miss < 4 else 0)


def test_crossing_pedestrian_velocity_converges() -> None:
    rng = np.random.default_rng(1)
    tracker = Tracker(TrackerConfig(birth_hits=3))
    velocity = np.array([0.0, -1.4])  # walking left → right across the rover's path
    for frame in range(31):  # 1 s
        t = frame * DT
        truth = np.array([6.0, 2.0]) + velocity * t
        noisy = truth + rng.normal(0.0, [0.15, 0.05])
        tracker.update([_obs(*noisy, sigma=0.1)], t)
    (track,) = tracker.confirmed()
    assert np.hypot(*(track.velocity - velocity)) < 0.3
    assert np.hypot(*(track.position - truth)) < 0.2
    assert track.covariance.shape == (4, 4)
    assert np.all(np.linalg.eigvalsh(track.covariance) > 0)


def test_two_pedestrians_passing_each_other_keep_their_ids() -> None:
    tracker = Tracker(TrackerConfig(birth_hits=2))
    ids_over_time = []
    for frame in range(90):
        t = frame * DT
        a = (5.0, 2.0 - 1.3 * t)  # crosses to the right
        b = (6.0, -2.0 + 1.3 * t)  # crosses to the left, 1 m behind
        tracker.update([_obs(*a), _obs(*b)], t)
        tracks = {round(tr.position[0]): tr.track_id for tr in tracker.confirmed()}
        if len(tracks) == 2:
            ids_over_time.append((tracks[5], tracks[6]))
    assert len(set(ids_over_time)) == 1


def test_classes_never_swap_tracks() -> None:
    tracker = Tracker(TrackerConfig(birth_hits=1))
    tracker.update([_obs(5.0, 0.0, "person")], 0.0)
    tracker.update([_obs(5.05, 0.0, "car")], DT)  # same place, another class: a new track
    classes = sorted((t.track_id, t.class_name) for t in tracker.confirmed())
    assert [c for _, c in classes] == ["person", "car"]  # the person coasts, the car is new
    tracker = Tracker(TrackerConfig(birth_hits=1, class_consistent=False))
    tracker.update([_obs(5.0, 0.0, "person")], 0.0)
    tracker.update([_obs(5.05, 0.0, "car")], DT)
    assert len(tracker.tracks) == 1  # with class consistency off, the same track takes it


def test_gating_rejects_far_detections() -> None:
    tracker = Tracker(TrackerConfig(birth_hits=1, gate_distance=1.0))
    tracker.update([_obs(5.0, 0.0)], 0.0)
    (first,) = tracker.confirmed()
    tracker.update([_obs(7.0, 0.0)], DT)
    ids = {t.track_id for t in tracker.tracks}
    assert first.track_id in ids and len(ids) == 2


def test_time_going_backwards_resets_and_ids_are_not_reused() -> None:
    tracker = Tracker(TrackerConfig(birth_hits=1))
    for frame in range(5):
        tracker.update([_obs(5.0, 0.0)], 10.0 + frame * DT)
    (old,) = tracker.confirmed()
    report = tracker.update([_obs(5.0, 0.0)], 1.0)  # bag loop
    assert report.reset is not None and "backwards" in report.reset
    (new,) = tracker.confirmed()
    assert new.track_id > old.track_id
    assert tracker.resets == 1


def test_long_gap_resets() -> None:
    tracker = Tracker(TrackerConfig(birth_hits=1, max_gap=1.0))
    tracker.update([_obs(5.0, 0.0)], 0.0)
    report = tracker.update([_obs(5.0, 0.0)], 3.0)
    assert report.reset is not None and "gap" in report.reset


def test_ego_motion_static_obstacle_has_no_ground_velocity() -> None:
    rng = np.random.default_rng(2)
    tracker = Tracker(TrackerConfig(birth_hits=3))
    ego = EgoMotion(speed=2.0, yaw_rate=0.2)
    world = np.array([8.0, 1.0])  # static, in the rover's starting frame
    pose = np.zeros(3)  # rover x, y, yaw in that frame
    for frame in range(45):
        if frame:
            # Integrate the same arc the tracker assumes.
            _, t = ego.transform(DT)
            c, s = np.cos(pose[2]), np.sin(pose[2])
            pose[:2] += np.array([[c, -s], [s, c]]) @ t
            pose[2] += ego.yaw_rate * DT
        c, s = np.cos(pose[2]), np.sin(pose[2])
        in_base = np.array([[c, s], [-s, c]]) @ (world - pose[:2])
        tracker.update([_obs(*(in_base + rng.normal(0, 0.05, 2)))], frame * DT, ego if frame else None)
    (track,) = tracker.confirmed()
    assert np.hypot(*track.velocity) < 0.25
    assert np.hypot(*(track.position - in_base)) < 0.15


def test_without_ego_motion_a_static_obstacle_approaches_at_rover_speed() -> None:
    tracker = Tracker(TrackerConfig(birth_hits=3))
    for frame in range(45):
        tracker.update([_obs(8.0 - 2.0 * frame * DT, 0.0, sigma=0.05)], frame * DT)
    (track,) = tracker.confirmed()
    assert track.velocity[0] == pytest.approx(-2.0, abs=0.25)
    assert track.closing_speed() == pytest.approx(2.0, abs=0.25)


def test_ego_transform_quarter_turn() -> None:
    R, t = EgoMotion(speed=np.pi / 2, yaw_rate=np.pi / 2).transform(1.0)  # quarter circle, r = 1
    np.testing.assert_allclose(t, [1.0, 1.0], atol=1e-9)
    # The point 1 m ahead of the start is now 1 m behind the rover (which heads along the old +y).
    np.testing.assert_allclose(R @ (np.array([1.0, 0.0]) - t), [-1.0, 0.0], atol=1e-9)


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        TrackerConfig(birth_hits=0)
    with pytest.raises(ValueError):
        Tracker().update([], float("nan"))
