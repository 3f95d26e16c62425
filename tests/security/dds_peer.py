"""A participant for the DDS exposure test: an outside attacker or an inside listener.

    python -m tests.security.dds_peer attacker|listener

Prints one JSON line every 0.25 s: the node names it sees and, for the attacker, how many
subscriptions its /cmd_vel_in publisher is matched with; for the listener, how many /cmd_vel_in
messages with the attacker's marker it received. Runs until killed.
"""

from __future__ import annotations

import json
import sys
import time

# The attacker's commands carry this linear.x: nothing in the project publishes it.
MARKER_SPEED = 4.25


def main(role: str) -> int:
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.executors import SingleThreadedExecutor

    from edge_rover.common.qos import RELIABLE_QOS

    rclpy.init()
    node = rclpy.create_node(f"security_{role}")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    received = [0]
    publisher = None
    if role == "attacker":
        publisher = node.create_publisher(Twist, "/cmd_vel_in", RELIABLE_QOS)
    else:

        def on_cmd(msg: Twist) -> None:
            if abs(msg.linear.x - MARKER_SPEED) < 1e-9:
                received[0] += 1

        node.create_subscription(Twist, "/cmd_vel_in", on_cmd, RELIABLE_QOS)
    command = Twist()
    command.linear.x = MARKER_SPEED
    next_report = time.monotonic()
    while rclpy.ok():
        executor.spin_once(timeout_sec=0.05)
        if publisher is not None:
            publisher.publish(command)
        if time.monotonic() >= next_report:
            next_report += 0.25
            status = {
                "role": role,
                "nodes": sorted(node.get_node_names()),
                "matched": publisher.get_subscription_count() if publisher is not None else None,
                "received": received[0],
            }
            print(json.dumps(status), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
