"""visualization_msgs/MarkerArray for RViz (``obstacles/markers``, ``controller/markers``).

Display only — no node reads markers to decide anything. Conventions: every array the mapper
publishes starts with a DELETEALL (RViz then shows exactly this frame's tracks); per obstacle a
``boxes`` CUBE (the box, class colour, alpha 0.5), a ``labels`` TEXT ("#id class TTC") and a
``velocity`` ARROW from the box centre to centre + velocity × 1 s, all with marker id = the track
id and a short lifetime. The controller draws ``footprint``, ``arc`` and ``corridor`` LINE_STRIPs
and a ``state`` TEXT, coloured by safety state (:data:`STATE_COLOURS`). Orientation is identity.
:func:`marker_shapes` reads the boxes and arrows back (the mapper replay compares them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from edge_rover.common.msgs.obstacles import Obstacle3D

CLASS_COLOURS = {
    "person": (1.0, 0.2, 0.2),
    "bicycle": (1.0, 0.6, 0.0),
    "car": (0.2, 0.4, 1.0),
    "traffic_cone": (1.0, 0.5, 0.0),
    "box": (0.6, 0.4, 0.2),
}
STATE_COLOURS = {
    "DRIVING": (0.1, 0.8, 0.2),
    "WARN": (0.95, 0.85, 0.1),
    "PARTIAL_BRAKE": (1.0, 0.5, 0.0),
    "FULL_BRAKE": (0.95, 0.1, 0.1),
    "HOLD": (0.8, 0.0, 0.4),
    "WATCHDOG_STOP": (0.5, 0.5, 0.5),
}
_DEFAULT_COLOUR = (0.8, 0.8, 0.8)


def colour(rgb: tuple[float, float, float], alpha: float = 1.0) -> ColorRGBA:
    return ColorRGBA(r=float(rgb[0]), g=float(rgb[1]), b=float(rgb[2]), a=float(alpha))


def marker(kind: int, ns: str, marker_id: int, stamp: Time, frame_id: str, rgba: ColorRGBA) -> Marker:
    m = Marker()
    m.header.stamp, m.header.frame_id = stamp, frame_id
    m.ns, m.id, m.type, m.action = ns, int(marker_id), kind, Marker.ADD
    m.pose.orientation.w = 1.0
    m.color = rgba
    return m


def line_strip(
    ns: str, marker_id: int, points: Iterable[Sequence[float]], width: float, rgba: ColorRGBA, stamp: Time,
    frame_id: str, z: float = 0.02,
) -> Marker:  # fmt: skip
    m = marker(Marker.LINE_STRIP, ns, marker_id, stamp, frame_id, rgba)
    m.scale.x = float(width)
    m.points = [Point(x=float(x), y=float(y), z=z) for x, y in points]
    return m


def text(
    ns: str, marker_id: int, words: str, position: tuple[float, float, float], height: float,
    rgba: ColorRGBA, stamp: Time, frame_id: str,
) -> Marker:  # fmt: skip
    m = marker(Marker.TEXT_VIEW_FACING, ns, marker_id, stamp, frame_id, rgba)
    m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in position)
    m.scale.z = float(height)
    m.text = words
    return m


def delete_all(stamp: Time, frame_id: str) -> Marker:
    m = Marker()
    m.header.stamp, m.header.frame_id = stamp, frame_id
    m.action = Marker.DELETEALL
    return m


def obstacle_markers(
    obstacles: Sequence[Obstacle3D],
    ttcs: Sequence[float],
    stamp: Time,
    frame_id: str,
    lifetime_s: float = 0.5,
) -> MarkerArray:
    """A box, a label (id, class, TTC) and a velocity arrow per obstacle, after a DELETEALL."""
    out = MarkerArray(markers=[delete_all(stamp, frame_id)])
    lifetime = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1.0) * 1e9))
    for ob, ttc in zip(obstacles, ttcs, strict=True):
        depth, width, height = (float(v) for v in ob.size)
        x, y = (float(v) for v in ob.position)
        marker_id = ob.numeric_id
        rgb = CLASS_COLOURS.get(ob.class_name, _DEFAULT_COLOUR)
        box = marker(Marker.CUBE, "boxes", marker_id, stamp, frame_id, colour(rgb, 0.5))
        box.pose.position.x, box.pose.position.y, box.pose.position.z = x, y, height / 2.0
        box.scale.x, box.scale.y, box.scale.z = depth, width, height
        ttc_text = "TTC --" if not math.isfinite(ttc) else f"TTC {ttc:.1f}s"
        label = text("labels", marker_id, f"#{ob.id} {ob.class_name} {ttc_text}", (x, y, height + 0.4), 0.35,
                     colour((1.0, 1.0, 1.0)), stamp, frame_id)  # fmt: skip
        vx, vy = ob.velocity or (0.0, 0.0)
        arrow = marker(Marker.ARROW, "velocity", marker_id, stamp, frame_id, colour((1.0, 1.0, 0.0)))
        arrow.points = [
            Point(x=x, y=y, z=height / 2.0),
            Point(x=x + float(vx), y=y + float(vy), z=height / 2.0),
        ]
        arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.08, 0.16, 0.2
        for m in (box, label, arrow):
            m.lifetime = lifetime
        out.markers.extend([box, label, arrow])
    return out


class MarkerShapes(NamedTuple):
    boxes: list[tuple[float, float, float, float]]  # x, y, size x, size y of each ``boxes`` CUBE
    arrows: list[tuple[float, float, float, float]]  # x0, y0, x1, y1 of each ``velocity`` ARROW


def marker_shapes(msg: MarkerArray) -> MarkerShapes:
    boxes, arrows = [], []
    for m in msg.markers:
        if m.action != Marker.ADD:
            continue
        if m.ns == "boxes" and m.type == Marker.CUBE:
            boxes.append((m.pose.position.x, m.pose.position.y, m.scale.x, m.scale.y))
        elif m.ns == "velocity" and m.type == Marker.ARROW and len(m.points) == 2:
            arrows.append((m.points[0].x, m.points[0].y, m.points[1].x, m.points[1].y))
    return MarkerShapes(boxes, arrows)
