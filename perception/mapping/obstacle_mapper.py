"""The obstacle mapper's pure pipeline: validated detections → ground → tracks → grid (no rclpy).

The node (:mod:`edge_rover.perception.mapping.obstacle_mapper_node`) only converts messages and publishes what
:meth:`ObstacleMapperCore.process` returns; the benchmark and the tests drive this class directly.
Every decision is a function of (state, inputs, ``now``): the caller passes the frame stamp and
the current time, so live, replay at any rate and tests behave the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_rover.common.camera_model import CameraRig
from edge_rover.perception.mapping.ground_projection import GroundProjector, ProjectionConfig
from edge_rover.perception.mapping.obstacle_types import ClassProfiles, Detection2D, TrackedObstacle
from edge_rover.perception.mapping.occupancy_grid import (
    GridConfig,
    GridObstacle,
    RollingGrid,
    camera_ground_footprint,
)
from edge_rover.perception.mapping.tracker import EgoMotion, Tracker, TrackerConfig

# Frame-level drop reasons (counted).
STALE = "stale"
FUTURE = "future"
NAN_STAMP = "nan_stamp"
NO_CALIBRATION = "no_calibration"
NAN_DETECTION = "nan_detection"


@dataclass(frozen=True)
class OdomSample:
    stamp: float  # s
    speed: float  # m/s forward
    yaw_rate: float  # rad/s
    pitch: float = 0.0  # rad, > 0 nose down (REP-103), from the odometry orientation

    @property
    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite([self.stamp, self.speed, self.yaw_rate, self.pitch])))


@dataclass(frozen=True)
class MapperConfig:
    max_detection_age: float = 0.5  # s; older frames are dropped
    max_future: float = 0.05  # s; frames stamped further ahead of "now" are dropped
    odom_timeout: float = 0.5  # s; odometry further than this from the frame stamp is ignored
    use_odom_pitch: bool = False  # pitch offset for ground projection from the odometry orientation
    free_range: float = 15.0  # m; the camera footprint marked free in the grid


@dataclass
class FrameResult:
    stamp: float
    tracks: list[TrackedObstacle]
    grid: np.ndarray  # int8 (rows, cols), nav_msgs/OccupancyGrid values
    ego: EgoMotion | None
    rejected: Counter = field(default_factory=Counter)
    reset: str | None = None


def _same_rig(a: CameraRig, b: CameraRig) -> bool:
    ia, ib = a.intrinsics, b.intrinsics
    return (
        a.extrinsics == b.extrinsics
        and (ia.width, ia.height, ia.distortion_model) == (ib.width, ib.height, ib.distortion_model)
        and np.array_equal(ia.camera_matrix, ib.camera_matrix)
        and np.array_equal(ia.distortion, ib.distortion)
    )


class ObstacleMapperCore:
    def __init__(
        self,
        profiles: ClassProfiles,
        projection: ProjectionConfig | None = None,
        tracker: TrackerConfig | None = None,
        grid: GridConfig | None = None,
        config: MapperConfig | None = None,
    ):
        self.profiles = profiles
        self.projection_config = projection or ProjectionConfig()
        self.config = config or MapperConfig()
        self.tracker = Tracker(
            tracker or TrackerConfig(),
            class_max_speed={name: p.max_speed for name, p in profiles.profiles.items()},
            class_profiles=dict(profiles.profiles),
        )
        self.grid = RollingGrid(grid or GridConfig())
        self.projector: GroundProjector | None = None
        self._footprint: np.ndarray | None = None
        self.dropped: Counter = Counter()  # frame-level drops and per-detection rejections
        self.last_stamp: float | None = None
        self.frames = 0

    def set_rig(self, rig: CameraRig) -> None:
        """(Re)calibrate: from the first camera_info, or when it changes."""
        if self.projector is not None and _same_rig(self.projector.rig, rig):
            return
        self.projector = GroundProjector(rig, self.profiles, self.projection_config)
        self._footprint = camera_ground_footprint(rig, self.config.free_range)

    @property
    def calibrated(self) -> bool:
        return self.projector is not None

    def process(
        self,
        detections: Sequence[Detection2D],
        stamp: float,
        now: float,
        odom: OdomSample | None = None,
    ) -> FrameResult | str:
        """One frame. Returns the result, or the reason the whole frame was dropped (counted)."""
        reason = self._frame_problem(stamp, now)
        if reason is not None:
            self.dropped[reason] += 1
            return reason
        assert self.projector is not None
        reset = None
        if self.last_stamp is not None and stamp < self.last_stamp:
            reset = f"frame stamp went backwards by {self.last_stamp - stamp:.3f} s"
            self.tracker.reset()
            self.grid.reset()
            self.dropped["resets"] += 1
        self.last_stamp = stamp
        self.frames += 1
        ego, pitch = self._ego(odom, stamp)
        finite = [d for d in detections if d.is_finite]
        rejected: Counter = Counter()
        if len(finite) < len(detections):
            rejected[NAN_DETECTION] += len(detections) - len(finite)
        projection = self.projector.project(finite, pitch_offset=pitch)
        rejected.update(reason for _, reason in projection.rejected)
        self.dropped.update(rejected)
        step = self.tracker.update(projection.observations, stamp, ego)
        if step.reset is not None and reset is None:
            reset = step.reset
            self.grid.reset()
            self.dropped["resets"] += 1
        tracks = self.tracker.confirmed(stamp)
        rig = self.projector.rig
        if pitch != 0.0:
            rig = CameraRig(rig.intrinsics, rig.extrinsics.with_pitch_offset(pitch))
        self.grid.update(
            stamp,
            [GridObstacle(float(t.position[0]), float(t.position[1]), t.size[1], t.size[0]) for t in tracks],
            self._footprint if pitch == 0.0 else camera_ground_footprint(rig, self.config.free_range),
            camera_xy=(float(rig.extrinsics.origin[0]), float(rig.extrinsics.origin[1])),
            ego=ego,
        )
        return FrameResult(stamp, tracks, self.grid.to_int8(), ego, rejected, reset)

    def _frame_problem(self, stamp: float, now: float) -> str | None:
        if not (np.isfinite(stamp) and np.isfinite(now)):
            return NAN_STAMP
        if self.projector is None:
            return NO_CALIBRATION
        if now - stamp > self.config.max_detection_age:
            return STALE
        if stamp - now > self.config.max_future:
            return FUTURE
        return None

    def _ego(self, odom: OdomSample | None, stamp: float) -> tuple[EgoMotion | None, float]:
        if odom is None or not odom.is_finite or abs(odom.stamp - stamp) > self.config.odom_timeout:
            return None, 0.0
        pitch = odom.pitch if self.config.use_odom_pitch else 0.0
        return EgoMotion(odom.speed, odom.yaw_rate), pitch


def core_from_values(
    values: Mapping[str, Any], profiles: ClassProfiles, rover_half_width: float | None = None
) -> ObstacleMapperCore:
    """The mapper core from the node's parameter values (``obstacle_mapper_node.PARAM_SPECS`` names):
    the one place that maps parameters onto the core's configs, for the node and the headless runner.

    ``rover_half_width`` overrides the parameter (the headless runner takes the launch's value).
    """
    p = values
    return ObstacleMapperCore(
        profiles,
        ProjectionConfig(
            max_range=p["max_range"],
            min_score=p["min_score"],
            pixel_sigma=p["pixel_sigma"],
            box_pixel_offset=p["box_pixel_offset"],
            pitch_sigma=p["pitch_sigma"],
        ),
        TrackerConfig(
            birth_hits=p["birth_hits"],
            death_misses=p["death_misses"],
            gate_chi2=p["gate_chi2"],
            gate_distance=p["gate_distance"],
            gate_range_fraction=p["gate_range_fraction"],
            use_top_edge=p["use_top_edge"],
            accel_sigma=p["accel_sigma"],
            class_consistent=p["class_consistent"],
            max_gap=p["max_gap"],
        ),
        GridConfig(
            resolution=p["grid_resolution"],
            ahead=p["grid_ahead"],
            behind=p["grid_behind"],
            half_width=p["grid_half_width"],
            rover_half_width=p["rover_half_width"] if rover_half_width is None else rover_half_width,
            occupied_decay=p["occupied_decay"],
            known_decay=p["known_decay"],
        ),
        MapperConfig(
            max_detection_age=p["max_detection_age"],
            max_future=p["max_future"],
            odom_timeout=p["odom_timeout"],
            use_odom_pitch=p["use_odom_pitch"],
            free_range=p["free_range"],
        ),
    )
