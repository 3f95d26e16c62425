"""Message conversion for the obstacle map — the one place that knows the message conventions.

``/obstacles`` (vision_msgs/Detection3DArray, frame ``base_link``), one Detection3D per track:

* ``id``: the track id as a decimal string (stable for the life of the track, never reused).
* ``bbox.center.position``: footprint centre (x, y) and z = height / 2; ``bbox.center.orientation``
  identity (boxes are axis-aligned in base_link); ``bbox.size`` = (depth, width, height) in m.
* ``results[0]``: the class — ``hypothesis.class_id`` (class name), ``hypothesis.score``;
  ``pose.pose.position`` = footprint centre on the ground (x, y, 0); ``pose.covariance`` = 6×6
  row-major, x/y block = the position covariance (m²), the rest zero except a large value on the
  unobserved diagonal entries (z, roll, pitch, yaw).
* ``results[1]``: the velocity — ``hypothesis.class_id == "velocity"`` (:data:`VELOCITY_RESULT_ID`),
  ``hypothesis.score == 0.0`` (so "take the best-scoring result" never picks it);
  ``pose.pose.position`` = (vx, vy, 0) in m/s, base_link axes, over the ground when the mapper had
  /odom (relative to the rover otherwise); ``pose.covariance`` x/y block = velocity covariance.

:func:`obstacles_from_msg` decodes that back into :class:`TrackedObstacle` for consumers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point
from nav_msgs.msg import OccupancyGrid
from std_msgs.msg import ColorRGBA
from vision_msgs.msg import (
    Detection2D as Detection2DMsg,
)
from vision_msgs.msg import (
    Detection2DArray,
    Detection3D,
    Detection3DArray,
    ObjectHypothesisWithPose,
)
from visualization_msgs.msg import Marker, MarkerArray

from edge_rover.perception.mapping.obstacle_types import ClassProfiles, Detection2D, TrackedObstacle
from edge_rover.perception.mapping.occupancy_grid import GridConfig

VELOCITY_RESULT_ID = "velocity"
_UNOBSERVED_VARIANCE = 1e6


def detections_from_msg(msg: Detection2DArray, profiles: ClassProfiles | None = None) -> list[Detection2D]:
    """Detection2DArray → boxes. The best-scoring hypothesis names the class; a numeric class_id
    is looked up by index in the class table (a detector publishing indices still works)."""
    names = list(profiles.profiles) if profiles is not None else []
    boxes = []
    for det in msg.detections:
        if det.results:
            best = max(det.results, key=lambda r: r.hypothesis.score)
            class_id, score = str(best.hypothesis.class_id), float(best.hypothesis.score)
        else:
            class_id, score = "unknown", float("nan")
        if class_id.isdigit() and int(class_id) < len(names):
            class_id = names[int(class_id)]
        bbox = det.bbox
        boxes.append(
            Detection2D.from_center(
                bbox.center.position.x, bbox.center.position.y, bbox.size_x, bbox.size_y, class_id, score
            )
        )
    return boxes


def detections_to_msg(detections: Sequence[Detection2D], stamp: Time, frame_id: str) -> Detection2DArray:
    """Boxes → Detection2DArray (what the detector publishes; used by tests and tools)."""
    out = Detection2DArray()
    out.header.stamp = stamp
    out.header.frame_id = frame_id
    for det in detections:
        msg = Detection2DMsg()
        msg.header = out.header
        x0, y0, x1, y1 = det.box
        msg.bbox.center.position.x, msg.bbox.center.position.y = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        msg.bbox.size_x, msg.bbox.size_y = x1 - x0, y1 - y0
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = det.class_name
        hypothesis.hypothesis.score = float(det.score)
        msg.results = [hypothesis]
        out.detections.append(msg)
    return out


def _covariance6(block: np.ndarray) -> list[float]:
    cov = np.zeros((6, 6))
    cov[:2, :2] = block
    for i in range(2, 6):
        cov[i, i] = _UNOBSERVED_VARIANCE
    return [float(v) for v in cov.ravel()]


def obstacles_to_msg(tracks: Sequence[TrackedObstacle], stamp: Time, frame_id: str) -> Detection3DArray:
    out = Detection3DArray()
    out.header.stamp = stamp
    out.header.frame_id = frame_id
    for track in tracks:
        det = Detection3D()
        det.header = out.header
        det.id = str(track.track_id)
        depth, width, height = track.size
        det.bbox.center.position.x = float(track.position[0])
        det.bbox.center.position.y = float(track.position[1])
        det.bbox.center.position.z = float(height / 2.0)
        det.bbox.center.orientation.w = 1.0
        det.bbox.size.x, det.bbox.size.y, det.bbox.size.z = float(depth), float(width), float(height)
        klass = ObjectHypothesisWithPose()
        klass.hypothesis.class_id = track.class_name
        klass.hypothesis.score = float(track.score)
        klass.pose.pose.position.x = float(track.position[0])
        klass.pose.pose.position.y = float(track.position[1])
        klass.pose.pose.orientation.w = 1.0
        klass.pose.covariance = _covariance6(track.covariance[:2, :2])
        velocity = ObjectHypothesisWithPose()
        velocity.hypothesis.class_id = VELOCITY_RESULT_ID
        velocity.hypothesis.score = 0.0
        velocity.pose.pose.position.x = float(track.velocity[0])
        velocity.pose.pose.position.y = float(track.velocity[1])
        velocity.pose.pose.orientation.w = 1.0
        velocity.pose.covariance = _covariance6(track.covariance[2:, 2:])
        det.results = [klass, velocity]
        out.detections.append(det)
    return out


def obstacles_from_msg(msg: Detection3DArray) -> list[TrackedObstacle]:
    """Decode ``/obstacles`` (the convention above) into :class:`TrackedObstacle` values."""
    tracks = []
    for det in msg.detections:
        klass = next((r for r in det.results if r.hypothesis.class_id != VELOCITY_RESULT_ID), None)
        vel = next((r for r in det.results if r.hypothesis.class_id == VELOCITY_RESULT_ID), None)
        covariance = np.zeros((4, 4))
        if klass is not None:
            covariance[:2, :2] = np.asarray(klass.pose.covariance).reshape(6, 6)[:2, :2]
        velocity = np.zeros(2)
        if vel is not None:
            velocity = np.array([vel.pose.pose.position.x, vel.pose.pose.position.y])
            covariance[2:, 2:] = np.asarray(vel.pose.covariance).reshape(6, 6)[:2, :2]
        tracks.append(
            TrackedObstacle(
                track_id=int(det.id) if det.id.isdigit() else -1,
                class_name=klass.hypothesis.class_id if klass is not None else "unknown",
                position=np.array([det.bbox.center.position.x, det.bbox.center.position.y]),
                velocity=velocity,
                covariance=covariance,
                size=(det.bbox.size.x, det.bbox.size.y, det.bbox.size.z),
                score=float(klass.hypothesis.score) if klass is not None else 0.0,
            )
        )
    return tracks


def grid_to_msg(values: np.ndarray, config: GridConfig, stamp: Time, frame_id: str) -> OccupancyGrid:
    msg = OccupancyGrid()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.info.map_load_time = stamp
    msg.info.resolution = float(config.resolution)
    msg.info.height, msg.info.width = int(values.shape[0]), int(values.shape[1])
    msg.info.origin.position.x, msg.info.origin.position.y = (float(v) for v in config.origin)
    msg.info.origin.orientation.w = 1.0
    msg.data = values.astype(np.int8).ravel().tobytes()
    return msg


_CLASS_COLOURS = {
    "person": (1.0, 0.2, 0.2),
    "bicycle": (1.0, 0.6, 0.0),
    "car": (0.2, 0.4, 1.0),
    "traffic_cone": (1.0, 0.5, 0.0),
    "box": (0.6, 0.4, 0.2),
}


def markers_to_msg(
    tracks: Sequence[TrackedObstacle],
    stamp: Time,
    frame_id: str,
    ego_speed: float = 0.0,
    ego_yaw_rate: float = 0.0,
    lifetime_s: float = 0.5,
) -> MarkerArray:
    """RViz markers: a box, a label (id, class, TTC) and a velocity arrow per track."""
    out = MarkerArray()
    clear = Marker()
    clear.header.stamp, clear.header.frame_id = stamp, frame_id
    clear.action = Marker.DELETEALL
    out.markers.append(clear)
    lifetime = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1.0) * 1e9))
    for track in tracks:
        r, g, b = _CLASS_COLOURS.get(track.class_name, (0.8, 0.8, 0.8))
        depth, width, height = track.size
        x, y = float(track.position[0]), float(track.position[1])

        def marker(ns: str, kind: int, track: TrackedObstacle = track) -> Marker:
            m = Marker()
            m.header.stamp, m.header.frame_id = stamp, frame_id
            m.ns, m.id, m.type, m.action = ns, track.track_id, kind, Marker.ADD
            m.pose.orientation.w = 1.0
            m.lifetime = lifetime
            return m

        box = marker("boxes", Marker.CUBE)
        box.pose.position.x, box.pose.position.y, box.pose.position.z = x, y, height / 2.0
        box.scale.x, box.scale.y, box.scale.z = float(depth), float(width), float(height)
        box.color = ColorRGBA(r=r, g=g, b=b, a=0.5)
        ttc = track.time_to_collision(ego_speed, ego_yaw_rate)
        label = marker("labels", Marker.TEXT_VIEW_FACING)
        label.pose.position.x, label.pose.position.y, label.pose.position.z = x, y, height + 0.4
        label.scale.z = 0.35
        label.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        ttc_text = "TTC --" if not np.isfinite(ttc) else f"TTC {ttc:.1f}s"
        label.text = f"#{track.track_id} {track.class_name} {ttc_text}"
        arrow = marker("velocity", Marker.ARROW)
        arrow.points = [
            Point(x=x, y=y, z=height / 2.0),
            Point(x=x + float(track.velocity[0]), y=y + float(track.velocity[1]), z=height / 2.0),
        ]
        arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.08, 0.16, 0.2
        arrow.color = ColorRGBA(r=1.0, g=1.0, b=0.0, a=1.0)
        out.markers.extend([box, label, arrow])
    return out
