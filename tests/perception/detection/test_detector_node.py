"""Detector node on real DDS: a real bus.jpg goes in as sensor_msgs/Image, detections come out."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.ros


def _make_node(ros_context, shared_data: Path, **overrides):
    from rclpy.parameter import Parameter

    from edge_rover.perception.detection.detector_node import DetectorNode

    params = {
        "model_path": str(shared_data / "models" / "yolov8n_int8_dynamic.onnx"),
        "diagnostics_period_s": 0.2,
        **overrides,
    }
    return DetectorNode(
        context=ros_context,
        parameter_overrides=[Parameter(name, value=value) for name, value in params.items()],
    )


def _harness(ros_context):
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import CompressedImage, Image
    from vision_msgs.msg import Detection2DArray

    from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS

    node = Node("detector_test_harness", context=ros_context)
    got: dict[str, list] = {"detections": [], "image": [], "diag": []}
    node.create_subscription(Detection2DArray, "/detections", got["detections"].append, SENSOR_QOS)
    node.create_subscription(DiagnosticArray, "/diagnostics", got["diag"].append, RELIABLE_QOS)
    raw_pub = node.create_publisher(Image, "/camera/image_raw", SENSOR_QOS)
    compressed_pub = node.create_publisher(CompressedImage, "/camera/image_raw/compressed", SENSOR_QOS)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    return node, executor, got, raw_pub, compressed_pub


def test_bus_image_gives_stamped_detections_and_diagnostics(ros_context, shared_data: Path) -> None:
    from builtin_interfaces.msg import Time

    from edge_rover.common.msgs.detections import detections_from_msg
    from edge_rover.common.msgs.image import bgr_to_image
    from tests.ros_helpers import spin_until

    detector = _make_node(ros_context, shared_data)
    harness, executor, got, raw_pub, _ = _harness(ros_context)
    executor.add_node(detector)
    try:
        image = cv2.imread(str(shared_data / "images" / "bus.jpg"))
        msg = bgr_to_image(image, Time(sec=42, nanosec=5), "camera_optical_frame")

        def publish_until_received() -> bool:
            if not got["detections"]:
                raw_pub.publish(msg)
            return bool(got["detections"])

        assert spin_until(executor, publish_until_received, timeout_s=20.0)
        out = got["detections"][0]
        assert (out.header.stamp.sec, out.header.stamp.nanosec) == (42, 5)
        assert out.header.frame_id == "camera_optical_frame"
        boxes, _scores, names = detections_from_msg(out)
        # class_table (default config/classes.yaml): the COCO bus is published as its profile
        assert sorted(names) == ["large_vehicle", "person", "person", "person", "person"]
        bus = boxes[names.index("large_vehicle")]
        assert np.abs(bus - [34, 231, 800, 766]).max() < 4
        assert not got["image"], "no annotated image without a subscriber"

        # bad frames are counted, the node keeps running and reports them
        from sensor_msgs.msg import Image

        raw_pub.publish(Image(encoding="yuv422", width=4, height=4, step=8, data=bytes(32)))
        assert spin_until(
            executor,
            lambda: any(
                {kv.key: kv.value for kv in a.status[0].values}.get("errors_bad_image") == "1"
                for a in got["diag"]
            ),
            timeout_s=10.0,
        )
        values = {kv.key: kv.value for kv in got["diag"][-1].status[0].values}
        assert int(values["frames_published"]) >= 1 and "processing_ms_p50" in values
    finally:
        executor.shutdown()
        detector.destroy_node()
        harness.destroy_node()


def test_compressed_input_and_annotated_image_only_when_subscribed(ros_context, shared_data: Path) -> None:
    from sensor_msgs.msg import CompressedImage, Image

    from edge_rover.common.qos import SENSOR_QOS
    from tests.ros_helpers import spin_until

    detector = _make_node(ros_context, shared_data, transport="compressed", classes="person")
    harness, executor, got, _, compressed_pub = _harness(ros_context)
    harness.create_subscription(Image, "/detections/image", got["image"].append, SENSOR_QOS)
    executor.add_node(detector)
    try:
        jpeg = (shared_data / "images" / "zidane.jpg").read_bytes()
        msg = CompressedImage(format="jpeg", data=jpeg)
        msg.header.frame_id = "cam"

        def publish_until_received() -> bool:
            if not (got["detections"] and got["image"]):
                compressed_pub.publish(msg)
            return bool(got["detections"] and got["image"])

        assert spin_until(executor, publish_until_received, timeout_s=20.0)
        names = [d.results[0].hypothesis.class_id for d in got["detections"][0].detections]
        assert names == ["person", "person"]  # the tie is filtered out by 'classes'
        annotated = got["image"][0]
        assert (annotated.width, annotated.height, annotated.header.frame_id) == (1280, 720, "cam")
    finally:
        executor.shutdown()
        detector.destroy_node()
        harness.destroy_node()


def test_bad_parameters_are_refused_at_start(ros_context, shared_data: Path) -> None:
    from rclpy.exceptions import InvalidParameterValueException

    from edge_rover.common.params import ParameterValueError
    from edge_rover.perception.detection.types import ModelLoadError

    with pytest.raises((ParameterValueError, InvalidParameterValueException), match="conf_threshold"):
        _make_node(ros_context, shared_data, conf_threshold=1.5)
    with pytest.raises(ModelLoadError, match="not found"):
        _make_node(ros_context, shared_data, model_path="package://edge_rover/models/nope.onnx")
    with pytest.raises(ValueError, match="class_remap"):
        _make_node(ros_context, shared_data, class_remap="truck")


def test_tensorrt_loads_on_a_thread_and_a_failure_is_reported_not_hidden(ros_context, shared_data) -> None:
    """No TensorRT here: the node starts (the build would run on its thread), /diagnostics says
    why it is not ready with the backend and reason, then the error leaves the executor (run_node
    turns it into one line and exit 1) instead of silently falling back to the CPU."""
    from edge_rover.perception.detection.types import BackendUnavailableError
    from tests.ros_helpers import spin_until

    detector = _make_node(ros_context, shared_data, backend="tensorrt")
    harness, executor, got, _, _ = _harness(ros_context)
    executor.add_node(detector)
    try:
        with pytest.raises(BackendUnavailableError, match="cannot run here"):
            spin_until(executor, lambda: False, timeout_s=10.0)
        executor.remove_node(detector)
        assert spin_until(executor, lambda: bool(got["diag"]), timeout_s=5.0)
        status = got["diag"][-1].status[0]
        values = {kv.key: kv.value for kv in status.values}
        assert status.level == bytes([2]) and status.message.startswith("not ready")
        assert (values["backend"], values["ready"]) == ("tensorrt", "false")
        assert "explicitly" in values["backend_reason"]
    finally:
        executor.shutdown()
        detector.destroy_node()
        harness.destroy_node()


def test_detector_cli_without_tensorrt_exits_with_one_line(shared_data: Path) -> None:
    import subprocess

    model = shared_data / "models" / "yolov8n_int8_dynamic.onnx"
    result = subprocess.run(
        ["ros2", "run", "edge_rover", "detector", "--ros-args", "-p", "backend:=tensorrt",
         "-p", f"model_path:={model}", "-p", "diagnostics_period_s:=0.2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cannot run here" in result.stderr and "Traceback" not in result.stderr


def _first_diagnostics(ros_context, detector, image=None) -> dict[str, str]:
    """Spin the node until a /diagnostics status arrives (after a frame, when one is given)."""
    from builtin_interfaces.msg import Time

    from edge_rover.common.msgs.image import bgr_to_image
    from tests.ros_helpers import spin_until

    harness, executor, got, raw_pub, _ = _harness(ros_context)
    executor.add_node(detector)
    try:

        def ready() -> bool:
            if image is not None and not got["detections"]:
                raw_pub.publish(bgr_to_image(image, Time(), "cam"))
            return bool(got["diag"]) and (image is None or bool(got["detections"]))

        assert spin_until(executor, ready, timeout_s=20.0)
        status = got["diag"][-1].status[0]
        values = {kv.key: kv.value for kv in status.values}
        return {"level": status.level, "message": status.message, **values, "_detections": got["detections"]}
    finally:
        executor.shutdown()
        detector.destroy_node()
        harness.destroy_node()


REAL_MODEL = "package://edge_rover/models/edge_rover_yolov8n_coco_int8.onnx"
SIM_MODEL = "package://edge_rover/models/edge_rover_yolov8n_int8.onnx"


def test_shipped_real_model_through_the_node_sees_the_bus_and_the_people(ros_context, shared_data) -> None:
    import json

    from edge_rover.common.msgs.detections import detections_from_msg
    from edge_rover.perception.detection.postprocess import box_iou

    image = cv2.imread(str(shared_data / "images" / "bus.jpg"))
    detector = _make_node(ros_context, shared_data, model_path=REAL_MODEL, source_domain="real")
    diag = _first_diagnostics(ros_context, detector, image)
    boxes, _, names = detections_from_msg(diag["_detections"][0])
    assert names.count("large_vehicle") == 1 and names.count("person") >= 3, names
    assert (diag["model_domain"], diag["source_domain"]) == ("real", "real") and "domain_mismatch" not in diag
    reference = json.loads((Path(__file__).parent / "data" / "real_fp32_reference.json").read_text())
    fp32 = [r for r in reference["images"]["images/bus.jpg"] if r["class"] in ("bus", "person")]
    iou = box_iou(boxes, np.array([r["box"] for r in fp32], np.float64))
    assert (iou.max(axis=1) >= 0.9).all(), f"node boxes vs the FP32 parent: {iou.max(axis=1).round(3)}"


@pytest.mark.parametrize(
    ("model", "source", "fix"),
    [
        (SIM_MODEL, "real", "edge_rover_yolov8n_coco_int8"),
        (REAL_MODEL, "sim", "edge_rover_yolov8n_int8.onnx"),
    ],
)
def test_a_model_of_the_other_world_is_warned_about_with_the_fix(
    ros_context, shared_data, model, source, fix
):
    detector = _make_node(ros_context, shared_data, model_path=model, source_domain=source)
    diag = _first_diagnostics(ros_context, detector)
    assert diag["level"] == bytes([1]), diag["message"]  # WARN
    assert diag["message"] == diag["domain_mismatch"]
    assert (
        f"source_domain: {source}" in diag["message"]
        and f"model:=package://edge_rover/models/{fix}" in (diag["message"])
    )
    assert "\n" not in diag["message"]


def test_matching_or_undeclared_worlds_are_not_warned_about(ros_context, shared_data) -> None:
    diag = _first_diagnostics(
        ros_context, _make_node(ros_context, shared_data, model_path=SIM_MODEL, source_domain="sim")
    )
    assert "domain_mismatch" not in diag and diag["model_domain"] == "sim"
    # the COCO model of ../shared/data has no card: no domain, nothing to compare
    diag = _first_diagnostics(ros_context, _make_node(ros_context, shared_data, source_domain="real"))
    assert "domain_mismatch" not in diag and diag["model_domain"] == "unknown"
