"""The calibration node on real DDS: rendered board frames on /camera/image_raw → a camera_info YAML."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from edge_rover.calibration.calibration_io import load_camera_info
from edge_rover.simulation.calibration_targets import (
    CheckerPattern,
    TargetRenderer,
    default_sim_camera,
    random_board_views,
)
from tests.ros_helpers import spin_until

pytestmark = pytest.mark.ros


def _node(context, **overrides):
    from rclpy.parameter import Parameter

    from edge_rover.calibration.calibration_node import CalibrationNode

    params = [Parameter(name, value=value) for name, value in overrides.items()]
    return CalibrationNode(context=context, parameter_overrides=params)


def test_node_calibrates_from_the_image_topic_and_writes_the_yaml(ros_context, tmp_path: Path) -> None:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from edge_rover.common.msgs.image import bgr_to_image
    from edge_rover.common.msgs.stamps import sec_to_stamp
    from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS

    camera = default_sim_camera()
    pattern = CheckerPattern(9, 6, 0.04, 0.04)
    renderer = TargetRenderer(camera)
    frames = [
        cv2.cvtColor(renderer.render(pattern, r, t, noise_std=1.0, seed=i), cv2.COLOR_GRAY2BGR)
        for i, (r, t) in enumerate(random_board_views(camera, pattern, 16, seed=4, max_tilt_deg=45))
    ]
    out = tmp_path / "cam.yaml"
    node = _node(ros_context, size="9x6", square=0.04, output=str(out), max_views=12, min_distance=0.1)
    probe = rclpy.create_node("calibration_probe", context=ros_context)
    publisher = probe.create_publisher(Image, "/camera/image_raw", SENSOR_QOS)
    diagnostics: list = []
    probe.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, RELIABLE_QOS)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    executor.add_node(probe)
    assert spin_until(executor, lambda: publisher.get_subscription_count() > 0, 10.0)
    stamp = 0.0
    for _ in range(3):
        for frame in frames:
            if node.done:
                break
            seen = node.collector.found.frames_seen
            stamp += 0.5  # capture time 2 Hz: every frame passes the 5 Hz detection limit
            publisher.publish(bgr_to_image(frame, sec_to_stamp(stamp), "camera_optical_frame"))
            spin_until(executor, lambda seen=seen: node.collector.found.frames_seen > seen, 5.0)
    assert node.done and node.exit_code == 0, node.state
    assert spin_until(executor, lambda: any("written" in d.status[0].message for d in diagnostics), 5.0)
    estimated = load_camera_info(str(out))
    for name in ("fx", "fy", "cx", "cy"):
        assert getattr(estimated, name) == pytest.approx(getattr(camera, name), rel=0.01), name
    node.destroy_node()
    probe.destroy_node()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"size": "9x6"}, "output must name"),
        ({"output": "/tmp/x.yaml", "size": "9by6"}, "size must look like 9x6"),
        ({"output": "/tmp/x.yaml", "size": "6x6"}, "different inner-corner counts"),
        ({"output": "/tmp/x.yaml", "square": 5.0}, "square"),
    ],
)
def test_bad_parameters_stop_the_node_with_one_clear_error(ros_context, overrides, message: str) -> None:
    from edge_rover.common.params import ParameterValueError

    with pytest.raises(ParameterValueError, match=message):
        _node(ros_context, **overrides)
