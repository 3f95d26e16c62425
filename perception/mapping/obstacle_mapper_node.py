"""ROS 2 node ``obstacle_mapper``: /detections + /camera/camera_info (+ /odom) → /obstacles,
/obstacle_map, /obstacles/markers.

A thin adapter: parameters (validated, with ranges), QoS, message conversion and logs. The work
is done by :class:`~edge_rover.perception.mapping.obstacle_mapper.ObstacleMapperCore`.
Every output carries the stamp of the camera frame its detections came from.

No calibration, no output: without camera_info or with an extrinsics file that does not load,
the node says so (once, then rate-limited) and publishes nothing — never a map built on a
guessed calibration. Downstream watchdogs then see silence and stop the rover.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nav_msgs.msg import OccupancyGrid, Odometry
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo
from vision_msgs.msg import Detection2DArray, Detection3DArray
from visualization_msgs.msg import MarkerArray

from edge_rover.calibration.calibration_io import load_extrinsics, resolve_url
from edge_rover.common.camera_model import CalibrationError, CameraExtrinsics, CameraRig
from edge_rover.common.graph import CAMERA_INFO, DETECTIONS, OBSTACLE_MAP, OBSTACLE_MARKERS, OBSTACLES, ODOM
from edge_rover.common.msgs.detections import detections_from_msg
from edge_rover.common.msgs.grid import grid_to_msg
from edge_rover.common.msgs.image import camera_info_to_intrinsics
from edge_rover.common.msgs.markers import obstacle_markers
from edge_rover.common.msgs.obstacles import Obstacle3D, obstacles_to_msg
from edge_rover.common.msgs.odometry import odometry_from_msg
from edge_rover.common.msgs.stamps import stamp_to_sec
from edge_rover.common.node_runner import run_node
from edge_rover.common.params import ParamSpec, declare_validated
from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
from edge_rover.perception.mapping.ground_projection import ProjectionConfig
from edge_rover.perception.mapping.obstacle_mapper import (
    MapperConfig,
    OdomSample,
    core_from_values,
)
from edge_rover.perception.mapping.obstacle_types import (
    ClassProfiles,
    Detection2D,
    TrackedObstacle,
    load_class_profiles,
)
from edge_rover.perception.mapping.occupancy_grid import RESOLUTION_RANGE, GridConfig
from edge_rover.perception.mapping.tracker import TrackerConfig


def _spec(name: str, default: object, description: str, lo: float | None = None, hi: float | None = None):
    # Read at start: the pipeline is built once from them (changing them live would silently
    # mix two calibrations or two tracker tunings in one track history).
    return ParamSpec(name, default, description, lo, hi, read_only=True)


# Defaults come from the core's config dataclasses (one place each); this table adds the
# meaning and range. Parameters without a dataclass field belong to the node alone.
_PROJ, _TRACK, _GRID, _MAP = ProjectionConfig(), TrackerConfig(), GridConfig(), MapperConfig()

PARAM_SPECS: tuple[ParamSpec, ...] = (
    _spec("extrinsics_url", "package://edge_rover/config/extrinsics.yaml", "camera pose in base_link (YAML)"),
    _spec("classes_url", "package://edge_rover/config/classes.yaml", "class → obstacle profile table"),
    _spec("base_frame", "base_link", "frame of /obstacles and /obstacle_map"),
    _spec("max_detection_age", _MAP.max_detection_age, "s; older detection frames are dropped", 0.01, 10.0),
    _spec("max_future", _MAP.max_future, "s; frames stamped further in the future are dropped", 0.0, 1.0),
    _spec("min_score", _PROJ.min_score, "detections below this score are ignored", 0.0, 1.0),
    _spec("max_range", _PROJ.max_range, "m; farther ground points are rejected", 1.0, 200.0),
    _spec("pixel_sigma", _PROJ.pixel_sigma, "px; box-edge noise (measurement covariance)", 0.0, 20.0),
    _spec(
        "box_pixel_offset",
        _PROJ.box_pixel_offset,
        "px subtracted from box edges (1.0: simulator-trained detector; 0.5: tight boxes, e.g. COCO)",
        0.0,
        1.0,
    ),
    _spec("pitch_sigma", _PROJ.pitch_sigma, "rad; unmodelled body pitch (measurement covariance)", 0.0, 0.3),
    _spec("use_odom", True, "compensate ego motion with /odom when it is fresh"),
    _spec(
        "odom_timeout", _MAP.odom_timeout, "s; odometry further than this from a frame is ignored", 0.01, 5.0
    ),
    _spec("use_odom_pitch", _MAP.use_odom_pitch, "add the /odom orientation's pitch to the camera pitch"),
    _spec("birth_hits", _TRACK.birth_hits, "hits before a track is published", 1, 30),
    _spec("death_misses", _TRACK.death_misses, "consecutive misses before a track is deleted", 1, 300),
    _spec("gate_chi2", _TRACK.gate_chi2, "squared Mahalanobis gate (2 dof)", 1.0, 100.0),
    _spec(
        "gate_distance",
        _TRACK.gate_distance,
        "m; hard association gate (across the line of sight)",
        0.1,
        20.0,
    ),
    _spec(
        "gate_range_fraction",
        _TRACK.gate_range_fraction,
        "hard gate along the line of sight, fraction of range",
        0.0,
        2.0,
    ),
    _spec("use_top_edge", _TRACK.use_top_edge, "box top edge as a second range cue (per-track height)"),
    _spec("accel_sigma", _TRACK.accel_sigma, "m/s²; constant-velocity process noise", 0.0, 20.0),
    _spec("class_consistent", _TRACK.class_consistent, "never associate across classes"),
    _spec("max_gap", _TRACK.max_gap, "s; a longer silence resets the tracker", 0.1, 60.0),
    _spec("grid_resolution", _GRID.resolution, "m per cell", *RESOLUTION_RANGE),
    _spec("grid_ahead", _GRID.ahead, "m of grid in front of base_link", 1.0, 100.0),
    _spec("grid_behind", _GRID.behind, "m of grid behind base_link", 0.0, 50.0),
    _spec("grid_half_width", _GRID.half_width, "m of grid to each side", 1.0, 50.0),
    _spec("rover_half_width", _GRID.rover_half_width, "m; obstacle inflation", 0.0, 3.0),
    _spec("occupied_decay", _GRID.occupied_decay, "s; decay time constant of occupied cells", 0.05, 60.0),
    _spec(
        "known_decay",
        _GRID.known_decay,
        "s; time constant after which unseen cells turn unknown",
        0.05,
        600.0,
    ),
    _spec("free_range", _MAP.free_range, "m; camera footprint marked free out to this range", 0.0, 100.0),
    _spec("publish_markers", True, "publish /obstacles/markers"),
)


def track_to_obstacle(track: TrackedObstacle) -> Obstacle3D:
    """A track as an ``obstacles`` box (the convention: common/msgs/obstacles.py)."""
    return Obstacle3D(
        id=str(track.track_id),
        class_name=track.class_name,
        score=float(track.score),
        position=(float(track.position[0]), float(track.position[1])),
        size=tuple(float(v) for v in track.size),
        velocity=(float(track.velocity[0]), float(track.velocity[1])),
        covariance=track.covariance,
    )


def boxes_from_msg(msg: Detection2DArray, class_names: Sequence[str]) -> list[Detection2D]:
    decoded = detections_from_msg(msg, class_names)
    return [
        Detection2D(tuple(float(v) for v in box), name, float(score))
        for box, score, name in zip(decoded.boxes, decoded.scores, decoded.names, strict=True)
    ]


class ObstacleMapperNode(Node):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("obstacle_mapper", **kwargs)
        p = declare_validated(self, PARAM_SPECS)
        self.frame_id: str = p["base_frame"]
        self.use_odom: bool = p["use_odom"]
        self.publish_markers: bool = p["publish_markers"]
        self.extrinsics = self._load_extrinsics(p["extrinsics_url"])
        profiles = self._load_profiles(p["classes_url"])
        self.core = core_from_values(p, profiles or ClassProfiles())
        self.setup_error = None if (self.extrinsics is not None and profiles is not None) else "bad config"
        self.odom: OdomSample | None = None
        self.published = 0
        self.obstacles_pub = self.create_publisher(Detection3DArray, OBSTACLES, RELIABLE_QOS)
        self.grid_pub = self.create_publisher(OccupancyGrid, OBSTACLE_MAP, RELIABLE_QOS)
        self.markers_pub = self.create_publisher(MarkerArray, OBSTACLE_MARKERS, RELIABLE_QOS)
        self.create_subscription(CameraInfo, CAMERA_INFO, self.on_camera_info, SENSOR_QOS)
        self.create_subscription(Detection2DArray, DETECTIONS, self.on_detections, SENSOR_QOS)
        if self.use_odom:
            self.create_subscription(Odometry, ODOM, self.on_odom, SENSOR_QOS)
        self.create_timer(10.0, self.log_stats)
        self.get_logger().info(
            f"obstacle_mapper ready: extrinsics {'ok' if self.extrinsics else 'MISSING'}, "
            f"{len(self.core.profiles.profiles)} class profiles, waiting for /camera/camera_info"
        )

    # -- set-up ----------------------------------------------------------------------------------

    def _load_extrinsics(self, url: str) -> CameraExtrinsics | None:
        try:
            return load_extrinsics(url)
        except (CalibrationError, OSError) as exc:
            self.get_logger().error(
                f"cannot load extrinsics from {url!r} ({exc}); publishing nothing until the node is "
                "restarted with a valid extrinsics_url"
            )
            return None

    def _load_profiles(self, url: str) -> ClassProfiles | None:
        try:
            return load_class_profiles(resolve_url(url))
        except (CalibrationError, OSError, ValueError) as exc:
            self.get_logger().error(f"cannot load class profiles from {url!r} ({exc}); publishing nothing")
            return None

    # -- callbacks -------------------------------------------------------------------------------

    def on_camera_info(self, msg: CameraInfo) -> None:
        if self.extrinsics is None:
            return
        try:
            intrinsics = camera_info_to_intrinsics(msg)
        except (CalibrationError, ValueError) as exc:
            self.get_logger().error(f"unusable camera_info ({exc}); ignoring it", throttle_duration_sec=5.0)
            return
        self.core.set_rig(CameraRig(intrinsics, self.extrinsics))

    def on_odom(self, msg: Odometry) -> None:
        odom = odometry_from_msg(msg)
        self.odom = OdomSample(stamp=odom.stamp, speed=odom.speed, yaw_rate=odom.yaw_rate, pitch=odom.pitch)

    def on_detections(self, msg: Detection2DArray) -> None:
        if self.setup_error is not None:
            self.get_logger().error(
                "no output: extrinsics or class profiles failed to load (see the first error)",
                throttle_duration_sec=5.0,
            )
            return
        stamp = stamp_to_sec(msg.header.stamp)
        now = self.get_clock().now().nanoseconds * 1e-9
        result = self.core.process(
            boxes_from_msg(msg, list(self.core.profiles.profiles)), stamp, now, self.odom
        )
        if isinstance(result, str):
            self._log_drop(result, stamp, now)
            return
        if result.reset is not None:
            self.get_logger().warning(f"tracker and grid reset: {result.reset}")
        # Grid first: the controller decides the moment /obstacles arrives, and should see this
        # frame's grid when it does.
        config = self.core.grid.config
        self.grid_pub.publish(
            grid_to_msg(result.grid, config.resolution, config.origin, msg.header.stamp, self.frame_id)
        )
        obstacles = [track_to_obstacle(t) for t in result.tracks]
        self.obstacles_pub.publish(obstacles_to_msg(obstacles, msg.header.stamp, self.frame_id))
        if self.publish_markers:
            ego_speed = result.ego.speed if result.ego is not None else 0.0
            ego_yaw = result.ego.yaw_rate if result.ego is not None else 0.0
            ttcs = [t.time_to_collision(ego_speed, ego_yaw) for t in result.tracks]
            self.markers_pub.publish(obstacle_markers(obstacles, ttcs, msg.header.stamp, self.frame_id))
        self.published += 1

    def _log_drop(self, reason: str, stamp: float, now: float) -> None:
        if reason == "no_calibration":
            self.get_logger().error(
                "detections received but no camera_info yet on /camera/camera_info: publishing nothing "
                "(never a map on a guessed calibration)",
                throttle_duration_sec=5.0,
            )
        else:
            self.get_logger().warning(
                f"dropped a detection frame ({reason}): stamp {stamp:.3f} s, now {now:.3f} s "
                f"(age {now - stamp:+.3f} s); drops so far {dict(self.core.dropped)}",
                throttle_duration_sec=2.0,
            )

    def log_stats(self) -> None:
        self.get_logger().info(
            f"frames published {self.published}, tracks {len(self.core.tracker.tracks)}, "
            f"drops/rejections {dict(self.core.dropped)}"
        )


def main(args: list[str] | None = None) -> int:
    return run_node(ObstacleMapperNode, "obstacle_mapper", args)


if __name__ == "__main__":
    sys.exit(main())
