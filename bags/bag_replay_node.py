"""bag_replay: play a rosbag2 (MCAP or sqlite3) at recorded timing and publish /clock.

Parameters: bag, rate, loop, start_offset, topics (comma-separated; empty = all), publish_clock,
clock_hz, exit_at_end. Messages are republished as the exact recorded bytes (no
re-serialization), so any message type whose Python package is installed can be replayed.

Each message is first deserialized the way a subscriber will (rclpy's own CDR deserializer): a
record damaged inside an intact bag (a flipped length, a cut string) is skipped, counted and
reported instead of reaching the nodes. A bag damaged beyond one record (truncated, bad chunk)
ends the replay with one line naming the file and how far it was read (exit code 1).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock
from rosidl_runtime_py.utilities import get_message

from edge_rover.bags.reader import BagError, BagMessage, bag_info, read_messages
from edge_rover.bags.replay import ReplayClock
from edge_rover.common.graph import CLOCK, graph_name
from edge_rover.common.msgs.stamps import sec_to_stamp
from edge_rover.common.params import ParamSpec, declare_validated, read_at_start
from edge_rover.common.qos import CLOCK_QOS, RELIABLE_QOS, SENSOR_QOS

SENSOR_TYPES = {
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/CompressedImage",
    "sensor_msgs/msg/CameraInfo",
    "vision_msgs/msg/Detection2DArray",
}

# Read once at start (the bag is opened and the publishers made with them):
# read-only, so a live change is refused, not ignored.
PARAM_SPECS: tuple[ParamSpec, ...] = read_at_start(
    [
        ParamSpec("bag", "", "rosbag2 directory (MCAP or sqlite3) to play"),
        ParamSpec("rate", 1.0, "playback rate factor (2.0 = twice as fast)", min=0.01, max=100.0),
        ParamSpec("loop", False, "restart at the end (time jumps back; nodes reset their trackers)"),
        ParamSpec("start_offset", 0.0, "seconds of the bag to skip", min=0.0, max=1e6),
        ParamSpec("topics", "", "comma-separated topics to play; empty = all"),
        ParamSpec("publish_clock", True, "publish /clock from bag time (for use_sim_time)"),
        ParamSpec("clock_hz", 100.0, "rate of /clock messages", min=1.0, max=1000.0),
        ParamSpec("exit_at_end", True, "exit when the bag ends (ignored with loop)"),
        ParamSpec(
            "wait_for_subscribers",
            0,
            "before playing, wait until the image topic has this many subscribers (0 = do not wait)",
            min=0,
            max=100,
        ),
        ParamSpec(
            "wait_timeout",
            10.0,
            "give up waiting for subscribers after this many seconds",
            min=0.0,
            max=600.0,
        ),
    ]
)


class BagReplayNode(Node):
    def __init__(self) -> None:
        super().__init__("bag_replay")
        self.params = declare_validated(self, PARAM_SPECS)
        if not self.params["bag"]:
            raise ValueError("parameter 'bag' is required: the rosbag2 directory to play")
        self.topics = [t.strip() for t in self.params["topics"].split(",") if t.strip()]
        self.info = bag_info(self.params["bag"])
        missing = sorted(set(self.topics) - set(self.info.topics))
        if missing:
            raise BagError(
                f"{self.info.path}: topics not in bag: {missing}; it has {sorted(self.info.topics)}"
            )
        self.publishers_by_topic = {}
        self.message_types = {}
        self.published_names: dict[str, str] = {}
        for topic, type_name in self.info.topics.items():
            if self.topics and topic not in self.topics:
                continue
            qos = SENSOR_QOS if type_name in SENSOR_TYPES else RELIABLE_QOS
            self.message_types[topic] = get_message(type_name)
            # A graph topic is played under this node's namespace, whatever namespace it was recorded
            # in (a bag from /rover1 replays into /rover2); other topics keep their recorded names.
            self.published_names[topic] = graph_name(topic) or topic
            self.publishers_by_topic[topic] = self.create_publisher(
                self.message_types[topic], self.published_names[topic], qos
            )
        self.clock_pub = (
            self.create_publisher(Clock, CLOCK, CLOCK_QOS) if self.params["publish_clock"] else None
        )
        self.published = 0
        self.undecodable: dict[str, int] = {}  # topic → records skipped because they do not deserialize
        self.get_logger().info(
            f"playing {self.info.path} ({self.info.duration_s:.1f} s, "
            f"{sum(self.info.counts.values())} messages, topics {sorted(self.publishers_by_topic)}) "
            f"at rate {self.params['rate']}"
        )

    def _messages(self) -> Iterator[BagMessage]:
        return read_messages(self.info.path, list(self.publishers_by_topic))

    def wait_for_subscribers(self, executor: SingleThreadedExecutor) -> None:
        """Messages published before DDS matched a subscriber are lost: optionally wait first."""
        wanted = self.params["wait_for_subscribers"]
        if wanted <= 0:
            return
        topics = [
            t
            for t, n in self.info.topics.items()
            if n == "sensor_msgs/msg/Image" and t in self.publishers_by_topic
        ]
        topic = self.published_names[topics[0] if topics else next(iter(self.publishers_by_topic))]
        deadline = time.monotonic() + self.params["wait_timeout"]
        while self.count_subscribers(topic) < wanted:
            if time.monotonic() > deadline:
                self.get_logger().warning(
                    f"only {self.count_subscribers(topic)} of {wanted} subscribers on {topic} after "
                    f"{self.params['wait_timeout']} s; playing anyway"
                )
                return
            executor.spin_once(timeout_sec=0.05)
        executor.spin_once(timeout_sec=0.3)  # let the new matches settle on both sides

    def play_once(self, executor: SingleThreadedExecutor) -> None:
        clock = ReplayClock(
            self.info.start_ns, time.monotonic(), self.params["rate"], self.params["start_offset"]
        )
        clock_period = 1.0 / self.params["clock_hz"]
        next_clock = time.monotonic()
        last_clock_ns = -1
        for message in self._messages():
            if clock.skips(message.stamp_ns):
                continue
            deadline = clock.wall_deadline(message.stamp_ns)
            while True:
                now = time.monotonic()
                # The clock also ticks right before a message newer than its last tick: between
                # ticks a receiver would see messages stamped up to one clock period in its future.
                due = now >= next_clock or (now >= deadline and message.stamp_ns > last_clock_ns)
                if self.clock_pub is not None and due:
                    last_clock_ns = clock.bag_time_ns(now)
                    self.clock_pub.publish(Clock(clock=sec_to_stamp(last_clock_ns / 1e9)))
                    next_clock = now + clock_period
                if now >= deadline:
                    break
                wake = min(deadline, next_clock) if self.clock_pub is not None else deadline
                executor.spin_once(timeout_sec=max(0.0, wake - now))
            if not self._decodes(message):
                continue
            self.publishers_by_topic[message.topic].publish(message.data)
            self.published += 1
        skipped = sum(self.undecodable.values())
        detail = f", {skipped} damaged records skipped {self.undecodable}" if skipped else ""
        self.get_logger().info(f"end of bag: {self.published} messages published{detail}")

    def _decodes(self, message: BagMessage) -> bool:
        """True when the record deserializes as its type; a damaged one is counted and logged."""
        try:
            deserialize_message(message.data, self.message_types[message.topic])
            return True
        except Exception as exc:  # rclpy raises RCLError / RuntimeError / ValueError for bad CDR
            count = self.undecodable[message.topic] = self.undecodable.get(message.topic, 0) + 1
            self.get_logger().warning(
                f"damaged record skipped: {message.topic} at t={message.stamp_ns / 1e9:.3f} s does not "
                f"deserialize as {message.type_name} ({exc}); {count} on this topic so far",
                throttle_duration_sec=1.0,
            )
            return False


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = None
    try:
        node = BagReplayNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        node.wait_for_subscribers(executor)
        while True:
            node.play_once(executor)
            if not node.params["loop"]:
                break
            node.get_logger().info("looping: bag time jumps back to the start")
        if not node.params["exit_at_end"]:
            executor.spin()
        return 0
    except (BagError, ValueError) as exc:
        print(f"bag_replay: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
