"""`python -m edge_rover.tools.doctor`: what is wrong with the running graph, each line with its fix.

Listens for a few seconds, then reports per expected topic its publishers/subscribers and QoS
compatibility, whether camera_info matches the images, every node's diagnostics (model sha256,
latency, drops), and use_sim_time vs /clock. Exit code 1 when any check fails.
"""

from __future__ import annotations

import argparse
import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.srv import GetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from edge_rover.common.graph import CAMERA_IMAGE, CAMERA_INFO, DIAGNOSTICS, SAFETY_STATUS, TOPICS, resolve
from edge_rover.common.graph_checks import Endpoint
from edge_rover.common.msgs.diagnostics import diagnostics_from_msg
from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
from edge_rover.tools.doctor_checks import GraphSnapshot, run_checks

OWN_NODE = "edge_rover_doctor"


def _endpoint(info: object) -> Endpoint:
    qos = info.qos_profile
    return Endpoint(
        node=f"{info.node_namespace.rstrip('/')}/{info.node_name}",
        type_name=info.topic_type,
        reliable=qos.reliability == ReliabilityPolicy.RELIABLE,
        transient_local=qos.durability == DurabilityPolicy.TRANSIENT_LOCAL,
    )


class Doctor(Node):
    def __init__(self, namespace: str = "") -> None:
        # In the graph's namespace, so the table's relative names resolve where its nodes publish.
        super().__init__(OWN_NODE, namespace="/" + namespace.strip("/"))
        self.snapshot = GraphSnapshot(namespace=namespace.strip("/"))
        self.create_subscription(Image, CAMERA_IMAGE, self._on_image, SENSOR_QOS)
        self.create_subscription(CameraInfo, CAMERA_INFO, self._on_info, SENSOR_QOS)
        self.create_subscription(DiagnosticArray, DIAGNOSTICS, self._on_diag, RELIABLE_QOS)
        self.create_subscription(DiagnosticArray, SAFETY_STATUS, self._on_diag, RELIABLE_QOS)

    def _on_image(self, msg: Image) -> None:
        self.snapshot.image_size = (msg.width, msg.height)

    def _on_info(self, msg: CameraInfo) -> None:
        self.snapshot.camera_info_size = (msg.width, msg.height)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in diagnostics_from_msg(msg):
            self.snapshot.diagnostics[status.name] = (status.level, status.message, status.values)

    def collect_graph(self) -> None:
        for topic in TOPICS:
            resolved = resolve(topic, self.snapshot.namespace)
            infos = self.get_publishers_info_by_topic(resolved)
            pubs = [_endpoint(i) for i in infos if i.node_name != OWN_NODE]
            infos = self.get_subscriptions_info_by_topic(resolved)
            subs = [_endpoint(i) for i in infos if i.node_name != OWN_NODE]
            self.snapshot.publishers[topic] = pubs
            self.snapshot.subscribers[topic] = subs

    def collect_sim_time(self, executor: SingleThreadedExecutor, timeout_s: float = 2.0) -> None:
        for name, namespace in self.get_node_names_and_namespaces():
            if name == OWN_NODE or name.startswith("_") or "daemon" in name:
                continue
            if self.snapshot.namespace and namespace.strip("/") != self.snapshot.namespace:
                continue  # another rover's node
            full = f"{namespace.rstrip('/')}/{name}"
            client = self.create_client(GetParameters, f"{full}/get_parameters")
            if not client.wait_for_service(timeout_sec=0.5):
                continue
            future = client.call_async(GetParameters.Request(names=["use_sim_time"]))
            executor.spin_until_future_complete(future, timeout_sec=timeout_s)
            if future.done() and future.result() and future.result().values:
                self.snapshot.use_sim_time[full] = bool(future.result().values[0].bool_value)
            self.destroy_client(client)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listen", type=float, default=3.0, help="seconds to listen before judging")
    parser.add_argument(
        "--namespace",
        default="",
        help="the graph's ROS namespace (launch argument namespace:=...); empty: the root",
    )
    args = parser.parse_args(argv)
    rclpy.init()
    try:
        doctor = Doctor(args.namespace)
        executor = SingleThreadedExecutor()
        executor.add_node(doctor)
        end = time.monotonic() + args.listen
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        doctor.collect_graph()
        doctor.collect_sim_time(executor)
        results = run_checks(doctor.snapshot)
    finally:
        rclpy.try_shutdown()
    for result in results:
        print(result.line())
    failed = sum(not r.ok for r in results)
    print(f"\n{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
