"""A node's start-up self-check: its inputs have publishers, compatible QoS, and a clock if on sim time."""

from __future__ import annotations

import pytest

from edge_rover.common.graph_checks import Endpoint, input_checks

SENSOR_SUB = Endpoint("detector", "", reliable=False)
RELIABLE_SUB = Endpoint("detector", "", reliable=True)
CAMERA_PUB = Endpoint("camera", "sensor_msgs/msg/Image", reliable=False)


def test_reliable_subscription_to_a_best_effort_publisher_is_reported_with_the_fix() -> None:
    results = input_checks(
        "detector", {"/camera/image_raw": RELIABLE_SUB}, {"/camera/image_raw": [CAMERA_PUB]}, False
    )
    (failure,) = [r for r in results if not r.ok]
    assert "never match" in failure.what and "BEST_EFFORT" in failure.fix


def test_compatible_input_passes() -> None:
    results = input_checks(
        "detector", {"/camera/image_raw": SENSOR_SUB}, {"/camera/image_raw": [CAMERA_PUB]}, False
    )
    assert results and all(r.ok for r in results)


def test_missing_required_publisher_names_who_should_publish_but_optional_inputs_may_be_silent() -> None:
    inputs = {"/camera/image_raw": SENSOR_SUB, "/odom": SENSOR_SUB, "/cmd_vel_in": SENSOR_SUB}
    results = input_checks("obstacle_mapper", inputs, {}, False)
    assert [r.ok for r in results] == [False]
    assert "/camera/image_raw" in results[0].what and "camera | sim | bag_replay" in results[0].fix


def test_sim_time_without_clock_and_wall_time_beside_a_clock_are_both_reported() -> None:
    clock = {"/clock": [Endpoint("sim", "rosgraph_msgs/msg/Clock", reliable=True)]}
    (standing,) = input_checks("controller", {}, {}, True)
    assert not standing.ok and "stands still" in standing.what
    (wall,) = input_checks("controller", {}, clock, False)
    assert not wall.ok and "use_sim_time:=true" in wall.fix
    assert input_checks("controller", {}, clock, True) == []


@pytest.mark.ros
def test_real_node_self_check_sees_a_qos_mismatch_on_real_dds(ros_context: object) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from edge_rover.common.node_runner import schedule_self_check, self_check
    from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
    from tests.ros_helpers import spin_until

    camera = rclpy.create_node("camera", context=ros_context)
    listener = rclpy.create_node("listener", context=ros_context)
    camera.create_publisher(Image, "/camera/image_raw", SENSOR_QOS)
    listener.create_subscription(Image, "/camera/image_raw", lambda _: None, RELIABLE_QOS)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (camera, listener):
        executor.add_node(node)
    try:
        assert spin_until(executor, lambda: listener.get_publishers_info_by_topic("/camera/image_raw"), 10.0)
        failures = [r for r in self_check(listener) if not r.ok]
        assert len(failures) == 1 and "listener subscribes RELIABLE but camera publishes BEST_EFFORT" in (
            failures[0].what
        )
        # The scheduled check logs each failure once, with its fix, and then stays quiet.
        logged: list[str] = []

        class Recorder:
            def warning(self, text: str) -> None:
                logged.append(text)

            def info(self, text: str) -> None:
                logged.append(text)

        listener.get_logger = Recorder  # capture what the node would log
        schedule_self_check(listener, delay_s=0.1)
        spin_until(executor, lambda: len(logged) > 1, 1.0)
        assert len(logged) == 1 and logged[0].startswith("self-check: ") and "fix: make listener" in logged[0]
    finally:
        executor.shutdown()
        camera.destroy_node()
        listener.destroy_node()
