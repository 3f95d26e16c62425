"""The one way our nodes start and stop.

A configuration error at start (bad parameter, missing calibration or model) is one line on
stderr and exit code 1 — never a traceback; Ctrl-C and launch's SIGINT are a normal stop (0).
SingleThreadedExecutor: the MultiThreadedExecutor of the PyPI wheels loses messages.

A few seconds after start every node checks its own inputs (``self_check``): a publisher for each
subscribed topic, compatible QoS, and /clock when it runs on sim time. Problems are one warning
line each with the fix, so "nothing happens" is answered in the node's own log.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from edge_rover.common.camera_model import CalibrationError
from edge_rover.common.dds_identity import use_fresh_participant_id
from edge_rover.common.graph import CLOCK
from edge_rover.common.graph_checks import CheckResult, Endpoint, input_checks
from edge_rover.common.params import ParameterValueError

SELF_CHECK_DELAY_S = 5.0  # long enough for discovery on a loaded machine, short enough to be read

# Errors that mean "this node is configured wrong": reported in one line.
CONFIG_ERRORS: tuple[type[BaseException], ...] = (ParameterValueError, CalibrationError, ValueError, OSError)


def run_node(
    factory: Callable[[], Node],
    name: str,
    args: list[str] | None = None,
    config_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Create the node with ``factory``, spin it until shutdown, clean up; return the exit code."""
    identity = use_fresh_participant_id()  # before rclpy.init: a respawn must not reuse a dead id
    rclpy.init(args=args)
    node = None
    try:
        node = factory()
        node.get_logger().info(identity)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        schedule_self_check(node)
        executor.spin()
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except (*CONFIG_ERRORS, *config_errors) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        rclpy.try_shutdown()


def _endpoint(node_name: str, type_name: str, qos: object) -> Endpoint:
    return Endpoint(
        node=node_name,
        type_name=type_name,
        reliable=qos.reliability == ReliabilityPolicy.RELIABLE,
        transient_local=qos.durability == DurabilityPolicy.TRANSIENT_LOCAL,
    )


def self_check(node: Node) -> list[CheckResult]:
    """Check the node's subscriptions against what the graph publishes (see common.graph_checks)."""
    inputs = {
        sub.topic_name: _endpoint(node.get_name(), "", sub.qos_profile)
        for sub in node.subscriptions
        if not sub.topic_name.startswith("/parameter_events")
    }
    publishers = {
        topic: [
            _endpoint(info.node_name, info.topic_type, info.qos_profile)
            for info in node.get_publishers_info_by_topic(topic)
        ]
        for topic in [*inputs, CLOCK]
    }
    use_sim_time = bool(node.get_parameter("use_sim_time").value)
    return input_checks(node.get_name(), inputs, publishers, use_sim_time)


def schedule_self_check(node: Node, delay_s: float = SELF_CHECK_DELAY_S) -> None:
    """Run :func:`self_check` once, ``delay_s`` of steady time after start (sim time may stand still)."""
    timer = None

    def run_once() -> None:
        timer.cancel()
        results = self_check(node)
        failures = [r for r in results if not r.ok]
        for failure in failures:
            node.get_logger().warning(f"self-check: {failure.what}; fix: {failure.fix}")
        if not failures:
            node.get_logger().info(
                f"self-check passed: {len(results)} input(s) published with compatible QoS"
            )

    timer = node.create_timer(delay_s, run_once, clock=Clock(clock_type=ClockType.STEADY_TIME))
