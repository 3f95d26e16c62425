"""Controller node on real DDS: stale inputs → braking within one period; obstacle ahead → brake."""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo
from vision_msgs.msg import Detection2DArray, Detection3DArray
from visualization_msgs.msg import MarkerArray

from edge_rover.common.msgs.obstacles import UNKNOWN_CLASS, Obstacle3D, obstacles_to_msg
from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
from edge_rover.control.controller_node import ControllerNode
from tests.ros_helpers import spin_until

pytestmark = pytest.mark.ros


class Harness:
    """Plays camera + obstacle mapper at 30 Hz and records /cmd_vel and /safety/status."""

    def __init__(self, context: object) -> None:
        import rclpy

        self.controller = ControllerNode(
            context=context,
            # Steering off: this harness moves the obstacle along x only (no lateral rover motion).
            parameter_overrides=[Parameter("cmd_vel_stamped", value=True), Parameter("num_arcs", value=1)],
        )
        self.node = rclpy.create_node("controller_test_harness", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.controller)
        self.executor.add_node(self.node)
        self.pub_obstacles = self.node.create_publisher(Detection3DArray, "/obstacles", SENSOR_QOS)
        self.pub_info = self.node.create_publisher(CameraInfo, "/camera/camera_info", SENSOR_QOS)
        self.pub_det = self.node.create_publisher(Detection2DArray, "/detections", SENSOR_QOS)
        self.cmds: list[TwistStamped] = []
        self.statuses: list[dict[str, str]] = []
        self.node.create_subscription(TwistStamped, "/cmd_vel", self.cmds.append, RELIABLE_QOS)
        self.node.create_subscription(DiagnosticArray, "/safety/status", self._on_status, RELIABLE_QOS)
        self.markers: list[MarkerArray] = []
        self.node.create_subscription(MarkerArray, "/controller/markers", self.markers.append, RELIABLE_QOS)
        self.publishing = True
        self.obstacle_x: float | None = None
        self.last_stamp = None
        self.sent_stamps: set[tuple[int, int]] = set()
        self.node.create_timer(1.0 / 30.0, self._publish)

    def _on_status(self, msg: DiagnosticArray) -> None:
        self.statuses.append({kv.key: kv.value for kv in msg.status[0].values})

    def _publish(self) -> None:
        if not self.publishing:
            return
        stamp = self.node.get_clock().now().to_msg()
        self.last_stamp = stamp
        self.sent_stamps.add((stamp.sec, stamp.nanosec))
        info = CameraInfo()
        info.header.stamp = stamp
        self.pub_info.publish(info)
        det = Detection2DArray()
        det.header.stamp = stamp
        self.pub_det.publish(det)
        boxes = []
        if self.obstacle_x is not None:
            if self.cmds:  # the rover drives towards it at the commanded speed
                self.obstacle_x -= self.cmds[-1].twist.linear.x / 30.0
            boxes = [Obstacle3D("7", UNKNOWN_CLASS, 1.0, (self.obstacle_x, 0.0), (0.5, 0.5, 0.5))]
        self.pub_obstacles.publish(obstacles_to_msg(boxes, stamp, "base_link"))

    def spin_until(self, predicate, timeout: float) -> bool:
        return spin_until(self.executor, predicate, timeout)

    def close(self) -> None:
        self.executor.shutdown()
        self.controller.destroy_node()
        self.node.destroy_node()


@pytest.fixture
def harness(ros_context: object):
    h = Harness(ros_context)
    try:
        yield h
    finally:
        h.close()


def _driving(h: Harness) -> bool:
    return (
        bool(h.statuses) and h.statuses[-1]["state"] == "drive" and float(h.statuses[-1]["cmd_speed"]) > 0.8
    )


def test_stale_inputs_brake_within_one_control_period(harness: Harness) -> None:
    h = harness
    assert h.spin_until(lambda: _driving(h), 15.0), h.statuses[-1:] or "no status"
    # The commanded stamp is the capture stamp of the obstacles it was computed from.
    newest = h.cmds[-1].header.stamp
    assert (newest.sec, newest.nanosec) in h.sent_stamps
    h.publishing = False
    n_before = len(h.statuses)
    assert h.spin_until(lambda: float(h.statuses[-1]["cmd_speed"]) == 0.0, 5.0)
    after = h.statuses[n_before:]
    stale_after = h.controller._params.stale_after
    tripped = [s for s in after if s["state"] == "stop"]
    assert tripped, "the watchdog never tripped"
    for status in after:
        age = float(status["age_obstacles"])
        if age > stale_after:
            # Every decision taken with a stale input is a controlled stop, with the reason.
            assert status["state"] == "stop", status
            assert "stale" in status["reason"]
        else:
            assert status["state"] == "drive", status
    # The first stale decision already brakes: its age is past the threshold by less than one period
    # of the decision clock (both ages read from the messages themselves).
    first = tripped[0]
    index = after.index(first)
    previous = after[index - 1] if index else h.statuses[n_before - 1]
    assert float(previous["age_obstacles"]) <= stale_after < float(first["age_obstacles"])
    assert float(first["cmd_speed"]) < float(previous["cmd_speed"])
    speeds = [float(s["cmd_speed"]) for s in after[index:]]
    assert all(b <= a for a, b in itertools.pairwise(speeds))


def test_obstacle_ahead_brakes(harness: Harness) -> None:
    h = harness
    assert h.spin_until(lambda: _driving(h), 15.0)
    n_before = len(h.statuses)
    h.obstacle_x = 3.0
    assert h.spin_until(lambda: float(h.statuses[-1]["cmd_speed"]) == 0.0, 5.0)
    after = h.statuses[n_before:]
    braking = [s for s in after if s["state"] in ("partial", "full", "hold")]
    assert braking and braking[0]["obstacle"] == "7"
    assert float(braking[0]["brake"]) > 0.0
    assert h.markers and {m.ns for m in h.markers[-1].markers} == {"footprint", "arc", "corridor", "state"}
    # Held while the obstacle stays.
    n_hold = len(h.statuses)
    h.spin_until(lambda: len(h.statuses) > n_hold + 50, 5.0)
    assert {s["state"] for s in h.statuses[n_hold:]} == {"hold"}


def test_unsafe_parameter_change_is_refused_with_reason(harness: Harness) -> None:
    results = harness.controller.set_parameters([Parameter("ttc_full", value=5.0)])
    assert not results[0].successful and "ttc_full < ttc_partial" in results[0].reason
    results = harness.controller.set_parameters([Parameter("full_decel", value=-2.0)])
    assert not results[0].successful and "full_decel" in results[0].reason
    results = harness.controller.set_parameters([Parameter("cruise_speed", value=0.5)])
    assert results[0].successful and harness.controller._params.cruise_speed == 0.5


def _answered_fraction(h: Harness, count: int) -> float:
    """Of the next ``count`` obstacle sets published, the share that got a /cmd_vel carrying their stamp."""
    sent_before = set(h.sent_stamps)
    first_cmd = len(h.cmds)
    assert h.spin_until(lambda: len(h.sent_stamps - sent_before) >= count, 10.0)
    h.spin_until(lambda: False, 0.3)  # let the last one be answered
    new = h.sent_stamps - sent_before
    answered = {(c.header.stamp.sec, c.header.stamp.nanosec) for c in h.cmds[first_cmd:]} & new
    return len(answered) / len(new)


def test_each_new_obstacle_set_is_decided_at_once_not_at_the_next_tick(harness: Harness) -> None:
    h = harness
    assert h.spin_until(lambda: _driving(h), 15.0)
    # A slow 5 Hz timer: obstacle sets arriving at 30 Hz would mostly be overwritten before a tick.
    slow = [Parameter("stale_periods", value=10.0), Parameter("rate_hz", value=5.0)]  # watchdog ≥ period
    assert all(r.successful for r in h.controller.set_parameters(slow))
    event_driven = _answered_fraction(h, 30)
    assert event_driven >= 0.7, f"only {event_driven:.0%} of obstacle sets got their own decision"
    assert h.controller.set_parameters([Parameter("decide_on_obstacles", value=False)])[0].successful
    timer_only = _answered_fraction(h, 30)
    assert timer_only < event_driven, (timer_only, event_driven)
