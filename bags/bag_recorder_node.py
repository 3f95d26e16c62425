"""bag_recorder: record topics of the running graph to a rosbag2 MCAP (plays in `ros2 bag play`).

Parameters: output (bag directory), topics (comma-separated), storage (mcap|sqlite3),
overwrite. Topics are subscribed as raw bytes once a publisher appears, with a QoS that matches
it (best effort when any publisher is best effort). Stamps are receive times on the node's
clock (sim time under use_sim_time), like `ros2 bag record`.
"""

from __future__ import annotations

import sys

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosidl_runtime_py.utilities import get_message

from edge_rover.bags.writer import BagWriter
from edge_rover.common.graph import resolve
from edge_rover.common.node_runner import run_node
from edge_rover.common.params import ParamSpec, declare_validated, read_at_start

# A recorder must keep every message, not just the newest: a deep queue on either reliability.
RECORD_DEPTH = 100

# Read once at start (the bag and the subscriptions are made with them):
# read-only, so a live change is refused, not ignored.
PARAM_SPECS: tuple[ParamSpec, ...] = read_at_start(
    [
        ParamSpec("output", "", "bag directory to create"),
        ParamSpec(
            "topics", "", "comma-separated topics to record (relative names: in this node's namespace)"
        ),
        ParamSpec("storage", "mcap", "storage format", choices=["mcap", "sqlite3"]),
        ParamSpec("overwrite", False, "replace an existing bag at output"),
    ]
)


class BagRecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("bag_recorder")
        self.params = declare_validated(self, PARAM_SPECS)
        if not self.params["output"] or not self.params["topics"]:
            raise ValueError("parameters 'output' and 'topics' are required")
        # Relative names (the graph table's) are recorded from this node's namespace, under their
        # resolved names: a recorder in /rover1 records /rover1/camera/image_raw.
        self.wanted = [
            resolve(t.strip(), self.get_namespace()) for t in self.params["topics"].split(",") if t.strip()
        ]
        self.writer = BagWriter(self.params["output"], self.params["storage"], self.params["overwrite"])
        self.writer.__enter__()
        self.subscriptions_by_topic: dict[str, object] = {}
        self.create_timer(0.2, self._discover)
        self.get_logger().info(f"recording {self.wanted} to {self.params['output']}")

    def _discover(self) -> None:
        types = dict(self.get_topic_names_and_types())
        for topic in self.wanted:
            if topic in self.subscriptions_by_topic or topic not in types:
                continue
            type_name = types[topic][0]
            infos = self.get_publishers_info_by_topic(topic)
            best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos)
            qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST,
                depth=RECORD_DEPTH,
                reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
            )
            self.writer.add_topic(topic, type_name)
            self.subscriptions_by_topic[topic] = self.create_subscription(
                get_message(type_name),
                topic,
                lambda data, t=topic, n=type_name: self._on_message(t, n, data),
                qos,
                raw=True,
            )
            self.get_logger().info(f"recording {topic} [{type_name}]")

    def _on_message(self, topic: str, type_name: str, data: bytes) -> None:
        self.writer.write_raw(topic, type_name, data, self.get_clock().now().nanoseconds)

    def close(self) -> None:
        self.writer.__exit__(None, None, None)
        self.get_logger().info(f"bag closed: {self.writer.counts}")


def main(args: list[str] | None = None) -> int:
    return run_node(BagRecorderNode, "bag_recorder", args)


if __name__ == "__main__":
    sys.exit(main())
