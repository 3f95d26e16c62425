"""The node graph as data (DESIGN.md): which topics exist, their types, QoS and publisher.

One table used by every node, the launch files, the RViz-config test, `doctor` and the demo
recorder, so that a renamed topic fails a test instead of silently breaking a viewer.

Names are **relative** ("camera/image_raw"): a node resolves them in its own namespace, so the
whole graph launched with ``namespace:=rover1`` lives under ``/rover1/`` (two rovers on one
network) and without a namespace under ``/`` exactly as before. ``/clock`` is the one absolute
name: ``use_sim_time`` listens to ``/clock`` whatever the namespace. ``tf`` is relative like the
rest — each rover has its own ``odom → base_link`` tree with the same frame names — and resolves
to the usual ``/tf`` without a namespace.
"""

from __future__ import annotations

from dataclasses import dataclass

CAMERA_IMAGE = "camera/image_raw"
CAMERA_IMAGE_COMPRESSED = "camera/image_raw/compressed"
CAMERA_INFO = "camera/camera_info"
DETECTIONS = "detections"
DETECTIONS_IMAGE = "detections/image"
OBSTACLES = "obstacles"
OBSTACLE_MAP = "obstacle_map"
OBSTACLE_MARKERS = "obstacles/markers"
CONTROLLER_MARKERS = "controller/markers"
CMD_VEL = "cmd_vel"
CMD_VEL_IN = "cmd_vel_in"
SAFETY_STATUS = "safety/status"
ODOM = "odom"
TF = "tf"
BATTERY = "battery"
ESTOP = "estop"
DIAGNOSTICS = "diagnostics"
GROUND_TRUTH = "sim/ground_truth"
CLOCK = "/clock"  # absolute: the simulator's or the bag's time, for every node on use_sim_time


@dataclass(frozen=True)
class TopicSpec:
    name: str  # relative, resolved in the node's namespace (``/clock`` absolute)
    type_name: str
    reliable: bool  # publisher reliability (RELIABLE vs BEST_EFFORT)
    publisher: str  # node that publishes it
    optional: bool = False  # only some graphs publish it (e.g. ground truth from the simulator)


TOPICS = {
    t.name: t
    for t in [
        TopicSpec(CAMERA_IMAGE, "sensor_msgs/msg/Image", False, "camera | sim | bag_replay"),
        TopicSpec(CAMERA_INFO, "sensor_msgs/msg/CameraInfo", False, "camera | sim | bag_replay"),
        TopicSpec(DETECTIONS, "vision_msgs/msg/Detection2DArray", False, "detector"),
        TopicSpec(DETECTIONS_IMAGE, "sensor_msgs/msg/Image", False, "detector"),
        TopicSpec(OBSTACLES, "vision_msgs/msg/Detection3DArray", True, "obstacle_mapper"),
        TopicSpec(OBSTACLE_MAP, "nav_msgs/msg/OccupancyGrid", True, "obstacle_mapper"),
        TopicSpec(OBSTACLE_MARKERS, "visualization_msgs/msg/MarkerArray", True, "obstacle_mapper"),
        TopicSpec(CONTROLLER_MARKERS, "visualization_msgs/msg/MarkerArray", True, "controller"),
        TopicSpec(CMD_VEL, "geometry_msgs/msg/Twist", True, "controller"),
        TopicSpec(SAFETY_STATUS, "diagnostic_msgs/msg/DiagnosticArray", True, "controller"),
        TopicSpec(ODOM, "nav_msgs/msg/Odometry", True, "serial_bridge | sim", optional=True),
        TopicSpec(CLOCK, "rosgraph_msgs/msg/Clock", True, "sim | bag_replay", optional=True),
        TopicSpec(GROUND_TRUTH, "vision_msgs/msg/Detection3DArray", True, "sim", optional=True),
        TopicSpec(TF, "tf2_msgs/msg/TFMessage", True, "sim", optional=True),
        TopicSpec(
            CAMERA_IMAGE_COMPRESSED, "sensor_msgs/msg/CompressedImage", False, "bag_replay", optional=True
        ),
        TopicSpec(CMD_VEL_IN, "geometry_msgs/msg/Twist", True, "teleop | planner | sim", optional=True),
        TopicSpec(DIAGNOSTICS, "diagnostic_msgs/msg/DiagnosticArray", True, "every node", optional=True),
        TopicSpec(BATTERY, "sensor_msgs/msg/BatteryState", True, "serial_bridge", optional=True),
        TopicSpec(ESTOP, "std_msgs/msg/Bool", True, "an operator's e-stop", optional=True),
    ]
}

# What a demo run records (everything a report or a later replay needs).
RECORDED_TOPICS = [
    CAMERA_IMAGE,
    CAMERA_INFO,
    DETECTIONS,
    OBSTACLES,
    OBSTACLE_MAP,
    CMD_VEL,
    SAFETY_STATUS,
    ODOM,
    GROUND_TRUTH,
]


def resolve(name: str, namespace: str = "") -> str:
    """The absolute name of graph topic ``name`` in ``namespace`` ("" or "/": the root)."""
    if name.startswith("/"):
        return name
    ns = namespace.strip("/")
    return f"/{ns}/{name}" if ns else f"/{name}"


def graph_name(topic: str) -> str | None:
    """The table name of a resolved topic, whatever namespace it is in, or None when it is not one.

    "/rover1/camera/image_raw" and "/camera/image_raw" → "camera/image_raw"; "/clock" → "/clock".
    The longest match wins ("/camera/image_raw/compressed" is the compressed stream).
    """
    if topic in TOPICS:
        return topic
    parts = topic.strip("/").split("/")
    for start in range(len(parts)):
        candidate = "/".join(parts[start:])
        if candidate in TOPICS:
            return candidate
    return None
