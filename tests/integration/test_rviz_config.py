"""The committed RViz config loads as YAML, works without a TF tree (fixed frame base_link), and
names only topics the graph publishes, with the right types and compatible QoS."""

import yaml

from edge_rover.common.graph import TOPICS, graph_name
from tests.conftest import REPO_ROOT

# RViz display class → the message type it subscribes to.
DISPLAY_TYPES = {
    "rviz_default_plugins/Image": "sensor_msgs/msg/Image",
    "rviz_default_plugins/Map": "nav_msgs/msg/OccupancyGrid",
    "rviz_default_plugins/MarkerArray": "visualization_msgs/msg/MarkerArray",
    "rviz_default_plugins/Marker": "visualization_msgs/msg/Marker",
}


def _displays() -> list[dict]:
    config = yaml.safe_load((REPO_ROOT / "rviz" / "edge_rover.rviz").read_text())
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "base_link"
    return manager["Displays"]


def test_every_topic_display_names_a_published_topic_of_the_right_type() -> None:
    checked = 0
    for display in _displays():
        topic = display.get("Topic", {}).get("Value")
        if topic is None:
            continue
        # RViz runs in the root namespace: its config names the graph's topics resolved there.
        assert topic.startswith("/"), f"{display['Name']}: {topic} is relative"
        topic = graph_name(topic)
        assert topic in TOPICS, f"{display['Name']}: {topic} is not published by the graph"
        assert DISPLAY_TYPES[display["Class"]] == TOPICS[topic].type_name, display["Name"]
        # A RELIABLE subscriber never matches a BEST_EFFORT publisher: the classic silent failure.
        if display["Topic"]["Reliability Policy"] == "Reliable":
            assert TOPICS[topic].reliable, f"{display['Name']}: reliable subscription to best-effort {topic}"
        checked += 1
    assert checked >= 4


def test_config_shows_camera_obstacles_grid_and_footprint() -> None:
    topics = {d.get("Topic", {}).get("Value") for d in _displays()}
    assert {"/detections/image", "/obstacles/markers", "/obstacle_map", "/controller/markers"} <= topics
