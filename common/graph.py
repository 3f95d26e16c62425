"""The node graph as data (DESIGN.md): which topics exist, their types, QoS and publisher.

One table used by the RViz-config test, `doctor` and the demo recorder, so that a renamed topic
fails a test instead of silently breaking a viewer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    type_name: str
    reliable: bool  # publisher reliability (RELIABLE vs BEST_EFFORT)
    publisher: str  # node that publishes it
    optional: bool = False  # only some graphs publish it (e.g. ground truth from the simulator)


TOPICS = {
    t.name: t
    for t in [
        TopicSpec("/camera/image_raw", "sensor_msgs/msg/Image", False, "camera | sim | bag_replay"),
        TopicSpec("/camera/camera_info", "sensor_msgs/msg/CameraInfo", False, "camera | sim | bag_replay"),
        TopicSpec("/detections", "vision_msgs/msg/Detection2DArray", False, "detector"),
        TopicSpec("/detections/image", "sensor_msgs/msg/Image", False, "detector"),
        TopicSpec("/obstacles", "vision_msgs/msg/Detection3DArray", True, "obstacle_mapper"),
        TopicSpec("/obstacle_map", "nav_msgs/msg/OccupancyGrid", True, "obstacle_mapper"),
        TopicSpec("/obstacles/markers", "visualization_msgs/msg/MarkerArray", True, "obstacle_mapper"),
        TopicSpec("/controller/markers", "visualization_msgs/msg/MarkerArray", True, "controller"),
        TopicSpec("/cmd_vel", "geometry_msgs/msg/Twist", True, "controller"),
        TopicSpec("/safety/status", "diagnostic_msgs/msg/DiagnosticArray", True, "controller"),
        TopicSpec("/odom", "nav_msgs/msg/Odometry", True, "serial_bridge | sim", optional=True),
        TopicSpec("/clock", "rosgraph_msgs/msg/Clock", True, "sim | bag_replay", optional=True),
        TopicSpec("/sim/ground_truth", "vision_msgs/msg/Detection3DArray", True, "sim", optional=True),
    ]
}

# What a demo run records (everything a report or a later replay needs).
RECORDED_TOPICS = [
    "/camera/image_raw",
    "/camera/camera_info",
    "/detections",
    "/obstacles",
    "/obstacle_map",
    "/cmd_vel",
    "/safety/status",
    "/odom",
    "/sim/ground_truth",
]
