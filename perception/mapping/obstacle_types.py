"""Shared value types of the obstacle map (no rclpy): 2D detections in, tracked obstacles out.

Also the class → obstacle-profile table (``config/classes.yaml``): typical size, plausible height
range, maximum speed and safety margin per class. The controller reads the same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Detection2D:
    """One detector box in pixels of the (distorted) camera image."""

    box: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max (pixels)
    class_name: str
    score: float

    @property
    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.box)) and np.isfinite(self.score))

    @staticmethod
    def from_center(cx: float, cy: float, w: float, h: float, class_name: str, score: float) -> Detection2D:
        return Detection2D((cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0), class_name, score)


@dataclass(frozen=True)
class GroundObservation:
    """One detection placed on the ground in ``base_link`` by ``mapping.ground_projection``."""

    position: np.ndarray  # (2,) footprint centre x, y in base_link (m)
    covariance: np.ndarray  # (2, 2) position covariance (m²)
    size: tuple[float, float, float]  # depth (along the line of sight), width, height (m)
    class_name: str
    score: float
    cut_bottom: bool = False  # box cut by the image's bottom edge: range from the height prior
    cut_side: bool = False  # box cut by the image's left or right side: position loosely known
    # For a side-cut box: unit vector across its visible inner edge's ray (the obstacle's own
    # outline), towards the hidden side; the position lies at least half the class width beyond it.
    side_normal: np.ndarray | None = None
    # Second range cue, for obstacles taller than the camera whose top edge is in the image: the
    # tangent of the elevation (base_link) of the ray through the box's top-centre, its standard
    # deviation, and the ray's origin (the camera). An obstacle of height h at horizontal distance
    # d from the camera puts its top on that ray when tan = (h - camera_z) / d: with h learned per
    # track, the top edge measures range ~2x better than the ground contact does (a 1.7 m person
    # rises 1.1 m above a 0.6 m camera, its feet lie 0.6 m below it).
    top_tan: float | None = None
    top_tan_sigma: float = 0.0
    camera_xyz: tuple[float, float, float] | None = None  # the camera (line-of-sight origin)

    @property
    def range(self) -> float:
        return float(np.hypot(*self.position))


@dataclass(frozen=True)
class TrackedObstacle:
    """A confirmed track in ``base_link``.

    ``velocity`` is over the ground, expressed in base_link axes, when the tracker had odometry
    (ego motion compensated); without odometry it is relative to the rover (rover assumed still).
    """

    track_id: int
    class_name: str
    position: np.ndarray  # (2,) x, y (m)
    velocity: np.ndarray  # (2,) vx, vy (m/s)
    covariance: np.ndarray  # (4, 4) over [x, y, vx, vy]
    size: tuple[float, float, float]  # depth, width, height (m)
    score: float
    age: float = 0.0  # seconds since birth
    misses: int = 0  # consecutive frames without a matching detection

    @property
    def range(self) -> float:
        return float(np.hypot(*self.position))

    def closing_speed(self, ego_speed: float = 0.0, ego_yaw_rate: float = 0.0) -> float:
        """Speed (m/s, > 0 approaching) at which the range to the obstacle shrinks."""
        relative = relative_velocity(self.position, self.velocity, ego_speed, ego_yaw_rate)
        distance = self.range
        if distance < 1e-6:
            return 0.0
        return float(-(self.position @ relative) / distance)

    def time_to_collision(self, ego_speed: float = 0.0, ego_yaw_rate: float = 0.0) -> float:
        """Range over closing speed, to the obstacle's near surface; inf when not closing."""
        closing = self.closing_speed(ego_speed, ego_yaw_rate)
        if closing <= 1e-3:
            return float("inf")
        near_range = max(self.range - self.size[0] / 2.0, 0.0)
        return near_range / closing


def relative_velocity(
    position: np.ndarray, ground_velocity: np.ndarray, ego_speed: float, ego_yaw_rate: float
) -> np.ndarray:
    """Velocity of a point relative to a rover driving at ``ego_speed`` and turning at ``ego_yaw_rate``.

    In the rotating base_link frame: v_rel = v_ground − v_ego − ω × p.
    """
    x, y = float(position[0]), float(position[1])
    return np.asarray(ground_velocity, dtype=np.float64) - np.array(
        [ego_speed - ego_yaw_rate * y, ego_yaw_rate * x]
    )


# ---------------------------------------------------------------------------------------------
# Class profiles
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObstacleProfile:
    """What we expect of an obstacle class (used for sanity checks, priors and margins)."""

    name: str
    height: float  # typical height (m): the prior for boxes cut by the image's bottom edge
    width: float  # typical width (m)
    depth: float  # ground-contact extent along the line of sight (m): near contact → centre is half
    min_height: float  # plausible height range (m); outside it a detection is rejected
    max_height: float
    max_speed: float  # m/s; the tracker's gate grows with it
    safety_margin: float  # m; extra clearance the controller keeps
    # Ground-contact extent along / across the heading while moving (m); None: ``depth`` always.
    moving_contact: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        values = (self.height, self.width, self.depth, self.min_height, self.max_height, self.max_speed)
        if not all(np.isfinite(v) and v >= 0 for v in values) or not np.isfinite(self.safety_margin):
            raise ValueError(f"class profile {self.name!r} has a negative or non-finite value")
        if not self.min_height <= self.height <= self.max_height:
            raise ValueError(
                f"class profile {self.name!r}: height {self.height} outside "
                f"[{self.min_height}, {self.max_height}]"
            )

    def contact_depth(self, sight_heading_angle: float | None) -> float:
        """Ground-contact extent along the line of sight (m) for an obstacle moving at
        ``sight_heading_angle`` (rad) to it; None (heading unknown) → the heading-averaged depth."""
        if sight_heading_angle is None or self.moving_contact is None:
            return self.depth
        along, across = self.moving_contact
        return along * abs(np.cos(sight_heading_angle)) + across * abs(np.sin(sight_heading_angle))


# Used for a class the table does not know (e.g. a COCO class the profile file lacks): lenient
# height range so nothing plausible is rejected, modest size.
DEFAULT_PROFILE = ObstacleProfile("unknown", 1.0, 0.6, 0.6, 0.05, 4.0, 5.0, 0.5)


@dataclass(frozen=True)
class ClassProfiles:
    profiles: dict[str, ObstacleProfile] = field(default_factory=dict)

    def get(self, class_name: str) -> ObstacleProfile:
        return self.profiles.get(class_name, DEFAULT_PROFILE)

    def __contains__(self, class_name: object) -> bool:
        return class_name in self.profiles


def load_class_profiles(path: str | Path) -> ClassProfiles:
    """The obstacle view of THE class table, read by the detector's loader (one parser for the file).

    ``depth`` is the table's ``contact_depth_m`` (the ground-contact extent along the line of sight;
    the loader falls back to the typical width where a class does not give it).
    Raises ``ValueError`` (``ClassProfileError``) naming the file and the bad field.
    """
    from edge_rover.perception.detection.class_profiles import load_class_profiles as load_table

    table = load_table(path)
    return ClassProfiles(
        {
            name: ObstacleProfile(
                name=name,
                height=entry.typical_height_m,
                width=entry.typical_width_m,
                depth=entry.contact_depth_m or entry.typical_width_m,
                moving_contact=entry.moving_contact_m,
                min_height=entry.height_range_m[0],
                max_height=entry.height_range_m[1],
                max_speed=entry.max_speed_mps,
                safety_margin=entry.safety_margin_m,
            )
            for name, entry in table.items()
        }
    )
