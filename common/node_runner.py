"""The one way our nodes start and stop.

A configuration error at start (bad parameter, missing calibration or model) is one line on
stderr and exit code 1 — never a traceback; Ctrl-C and launch's SIGINT are a normal stop (0).
SingleThreadedExecutor: the MultiThreadedExecutor of the PyPI wheels loses messages.

A few seconds after start every node checks its own inputs (``self_check``): a publisher for each
subscribed topic, compatible QoS, and /clock when it runs on sim time. Problems are one warning
line each with the fix, so "nothing happens" is answered in the node's own log.

Every node also runs the liveness watch (common/liveness.py): a node whose own shared-memory
receive port was replaced, or whose executor has not come round for the stall timeout, exits
non-zero so that launch respawns it (with a fresh participant id) instead of staying deaf.
"""

from __future__ import annotations

import faulthandler
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from edge_rover.common.camera_model import CalibrationError
from edge_rover.common.dds_identity import own_ports, use_fresh_participant_id
from edge_rover.common.graph import CLOCK
from edge_rover.common.graph_checks import CheckResult, Endpoint, input_checks
from edge_rover.common.liveness import (
    CHECK_PERIOD_S,
    EXIT_UNHEALTHY,
    LivenessWatch,
    StallClock,
    port_watch_enabled,
    stall_timeout_s,
)
from edge_rover.common.params import ParameterValueError

SELF_CHECK_DELAY_S = 5.0  # long enough for discovery on a loaded machine, short enough to be read
CLEANUP_DEADLINE_S = 3.0  # an unhealthy node's clean-up may hang in DDS: then faulthandler exits it

# Errors that mean "this node is configured wrong": reported in one line.
CONFIG_ERRORS: tuple[type[BaseException], ...] = (ParameterValueError, CalibrationError, ValueError, OSError)


class NodeUnhealthyError(RuntimeError):
    """Raised from the liveness watch's timer: the node can no longer work (its message says why)."""


def run_node(
    factory: Callable[[], Node],
    name: str,
    args: list[str] | None = None,
    config_errors: tuple[type[BaseException], ...] = (),
    stall_timeout: float | None = None,
) -> int:
    """Create the node with ``factory``, spin it until shutdown, clean up; return the exit code.

    ``stall_timeout``: seconds without an executor turn before the node exits (default:
    ``$EDGE_ROVER_STALL_TIMEOUT_S`` or 5 s; 0: off), see :func:`schedule_liveness_watch`.
    """
    identity = use_fresh_participant_id()  # before rclpy.init: a respawn must not reuse a dead id
    rclpy.init(args=args)
    node = None
    unhealthy = False
    try:
        node = factory()
        node.get_logger().info(identity)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        schedule_self_check(node)
        schedule_liveness_watch(node, own_ports(), stall_timeout)
        executor.spin()
        return 0
    except NodeUnhealthyError:
        unhealthy = True
        return EXIT_UNHEALTHY
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except (*CONFIG_ERRORS, *config_errors) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    finally:
        faulthandler.cancel_dump_traceback_later()  # the stall watch ends with the spin
        if unhealthy:  # DDS may be stuck for good: the clean-up gets a deadline, then _exit(1)
            faulthandler.dump_traceback_later(CLEANUP_DEADLINE_S, exit=True)
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        rclpy.try_shutdown()
        faulthandler.cancel_dump_traceback_later()


def _thread_names() -> list[str]:
    names = []
    for comm in Path("/proc/self/task").glob("*/comm"):
        try:
            names.append(comm.read_text())
        except OSError:  # a thread that ended meanwhile
            continue
    return names


def _own_maps() -> str:
    try:
        return Path("/proc/self/maps").read_text()
    except OSError:  # no /proc (not Linux): nothing to watch
        return ""


def _port_file_inode(port: int) -> int | None:
    try:
        return Path(f"/dev/shm/fastrtps_port{port}").stat().st_ino
    except OSError:
        return None


def schedule_liveness_watch(
    node: Node, ports: Iterable[int] = (), stall_timeout: float | None = None
) -> LivenessWatch:
    """Every ``CHECK_PERIOD_S`` of steady time: re-arm the executor stall watchdog, and check that
    none of this node's shared-memory receive ports (``ports``, the claimed id's, and those its
    listener threads name) was replaced; if one was, log why and raise :class:`NodeUnhealthyError`
    out of the executor (run_node exits ``EXIT_UNHEALTHY``). See common/liveness.py."""
    watch = LivenessWatch(own_ports=set(ports), check_ports=port_watch_enabled())
    stall = StallClock(stall_timeout_s() if stall_timeout is None else max(stall_timeout, 0.0))

    def rearm() -> None:
        if stall.enabled:  # cancel + arm: the C watchdog thread fires only if this stops coming
            faulthandler.dump_traceback_later(stall.timeout_s, exit=True)
            gap = stall.arm(time.monotonic())
            if gap > max(stall.timeout_s / 2, 2 * CHECK_PERIOD_S):
                node.get_logger().warning(f"liveness: the executor came round {gap:.1f} s late")

    def check() -> None:
        rearm()
        verdict = watch.verdict(_own_maps(), _thread_names(), _port_file_inode)
        if verdict is not None:
            node.get_logger().error(verdict)
            raise NodeUnhealthyError(verdict)

    rearm()
    node.create_timer(CHECK_PERIOD_S, check, clock=Clock(clock_type=ClockType.STEADY_TIME))
    node.get_logger().info(
        f"liveness: {stall.describe()}; "
        + ("own shared-memory port watch on" if watch.check_ports else "port watch off")
    )
    return watch


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
