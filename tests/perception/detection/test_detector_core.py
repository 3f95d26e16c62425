"""Detector core on real data: the COCO YOLOv8n ONNX models and real photos in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_rover.perception.detection.detector import Detector, DetectorConfig
from edge_rover.perception.detection.model_card import file_sha256
from edge_rover.perception.detection.postprocess import ClassMapping, box_iou, class_aware_nms, decode
from edge_rover.perception.detection.preprocess import letterbox
from edge_rover.perception.detection.types import BackendUnavailableError, FrameError, ModelLoadError

MODELS = ("yolov8n_fp32_dequantized", "yolov8n_int8_dynamic")

# Reference table of ../shared/data/README.md (conf 0.25, NMS IoU 0.45, letterbox 640).
BUS_REFERENCE = {
    "yolov8n_int8_dynamic": [
        ("person", [50, 398, 244, 903]),
        ("person", [221, 408, 343, 856]),
        ("person", [672, 372, 810, 879]),
        ("bus", [34, 231, 800, 766]),
        ("person", [0, 562, 56, 868]),
    ],
    "yolov8n_fp32_dequantized": [
        ("person", [672, 375, 810, 879]),
        ("person", [221, 408, 343, 857]),
        ("person", [51, 397, 244, 904]),
        ("bus", [34, 230, 800, 770]),
        ("person", [0, 550, 57, 871]),  # reference -3 before clipping to the image
    ],
}


@pytest.fixture(scope="module", params=MODELS)
def coco_detector(request: pytest.FixtureRequest) -> Detector:
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "models" / f"{request.param}.onnx"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    detector = Detector(DetectorConfig(model_path=str(path), threads=2))
    detector.name = request.param  # type: ignore[attr-defined]
    return detector


def _image(shared_data: Path, name: str) -> np.ndarray:
    image = cv2.imread(str(shared_data / "images" / name))
    assert image is not None
    return image


def _match(detections, expected: list[tuple[str, list[int]]], tolerance_px: float) -> None:
    names = detections.names()
    unmatched = list(range(len(names)))
    for cls, box in expected:
        errors = [
            (np.abs(detections.boxes[i] - np.array(box)).max(), i) for i in unmatched if names[i] == cls
        ]
        assert errors, (
            f"no {cls} left for {box}; got {list(zip(names, detections.boxes.round(), strict=True))}"
        )
        error, best = min(errors)
        assert error <= tolerance_px, f"{cls} box {detections.boxes[best].round()} vs reference {box}"
        unmatched.remove(best)
    assert not unmatched, f"unexpected extra detections {[names[i] for i in unmatched]}"


def test_bus_gives_bus_and_four_people_at_reference_boxes(coco_detector: Detector, shared_data: Path) -> None:
    result = coco_detector.detect(_image(shared_data, "bus.jpg"))
    assert result.image_size == (1080, 810)
    _match(result.detections, BUS_REFERENCE[coco_detector.name], tolerance_px=3)
    assert np.all(np.diff(result.detections.scores) <= 0), "sorted by score"


def test_zidane_gives_two_people(coco_detector: Detector, shared_data: Path) -> None:
    result = coco_detector.detect(_image(shared_data, "zidane.jpg"))
    people = result.detections.boxes[np.array(result.detections.names()) == "person"]
    assert len(people) == 2
    # left person spans most of the frame width, right one stands at x≈750..1130
    reference = np.array([[111, 197, 1114, 711], [750, 44, 1130, 708]], dtype=np.float32)
    order = np.argsort(people[:, 0])
    assert np.abs(people[order] - reference).max() < 8


def test_boxes_follow_the_image_not_the_letterbox(coco_detector: Detector, shared_data: Path) -> None:
    """Padding the photo on the left by 200 px must move every box by exactly 200 px.

    Catches a letterbox offset applied with the wrong sign/axis or a swapped x/y decode.
    """
    image = _image(shared_data, "bus.jpg")
    shifted = cv2.copyMakeBorder(image, 0, 0, 200, 0, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    base = coco_detector.detect(image).detections
    moved = coco_detector.detect(shifted).detections
    big = base.scores > 0.5
    iou = box_iou(base.boxes[big] + np.array([200, 0, 200, 0], np.float32), moved.boxes)
    assert np.all(iou.max(axis=1) > 0.9)


def test_odd_sizes_grey_and_bgra_images_work(coco_detector: Detector, shared_data: Path) -> None:
    image = _image(shared_data, "zidane.jpg")
    for frame in (
        image[:333, :517],
        cv2.cvtColor(image, cv2.COLOR_BGR2GRAY),
        np.dstack([image, image[..., :1]]),
    ):
        result = coco_detector.detect(frame)
        height, width = frame.shape[:2]
        boxes = result.detections.boxes
        assert np.all(boxes[:, [0, 2]] <= width) and np.all(boxes[:, [1, 3]] <= height)
    assert coco_detector.detect(np.zeros((3, 5, 3), np.uint8)).detections.boxes.shape == (0, 4)


def test_bad_frames_are_counted_errors(coco_detector: Detector) -> None:
    before = sum(coco_detector.error_counts.values())
    for bad in (
        np.zeros((0, 10, 3), np.uint8),
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 2), np.uint8),
    ):
        with pytest.raises(FrameError):
            coco_detector.detect(bad)
    assert sum(coco_detector.error_counts.values()) == before + 3


def test_nan_or_inf_output_is_a_counted_frame_error(coco_detector: Detector, shared_data: Path) -> None:
    real_run = coco_detector.backend.run
    for poison in (np.nan, np.inf):

        def poisoned(blob: np.ndarray, value: float = poison) -> np.ndarray:
            out = real_run(blob).copy()
            out[0, 5, 100] = value
            out[0, 1, 7] = value
            return out

        coco_detector.backend.run = poisoned  # type: ignore[method-assign]
        try:
            with pytest.raises(FrameError) as info:
                coco_detector.detect(_image(shared_data, "bus.jpg"))
        finally:
            coco_detector.backend.run = real_run  # type: ignore[method-assign]
        assert info.value.kind == "nonfinite_output"
    assert coco_detector.error_counts["nonfinite_output"] >= 2


def test_class_filter_and_remap(shared_data: Path) -> None:
    path = shared_data / "models" / "yolov8n_int8_dynamic.onnx"
    detector = Detector(
        DetectorConfig(
            model_path=str(path),
            keep_classes=("person", "bicycle", "car"),
            class_remap={"truck": "car", "bus": "car"},
        )
    )
    assert detector.class_names == ("person", "bicycle", "car")
    names = detector.detect(_image(shared_data, "bus.jpg")).detections.names()
    assert sorted(names) == ["car", "person", "person", "person", "person"]
    dog = detector.detect(_image(shared_data, "dog.jpg")).detections.names()
    assert "dog" not in dog and "bicycle" in dog and dog.count("car") == 1  # car+truck merged by NMS


def test_wrong_damaged_or_mismatched_models_give_one_clear_error(shared_data: Path, tmp_path: Path) -> None:
    real = shared_data / "models" / "yolov8n_int8_dynamic.onnx"
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(real.read_bytes()[:200_000])
    with pytest.raises(ModelLoadError, match="cannot load"):
        Detector(DetectorConfig(model_path=str(damaged)))
    with pytest.raises(ModelLoadError, match="not found"):
        Detector(DetectorConfig(model_path=str(tmp_path / "missing.onnx")))
    with pytest.raises(ModelLoadError, match="fixed 640x640"):
        Detector(DetectorConfig(model_path=str(real), input_hw=(320, 320)))
    with pytest.raises(ModelLoadError, match="does not fit 5 classes"):
        Detector(DetectorConfig(model_path=str(real), model_classes=["a", "b", "c", "d", "e"]))
    copy = tmp_path / "model.onnx"
    copy.write_bytes(real.read_bytes())
    card = tmp_path / "model.card.yaml"
    card.write_text(f"sha256: '{'0' * 64}'\n")
    with pytest.raises(ModelLoadError, match="does not match its card"):
        Detector(DetectorConfig(model_path=str(copy)))
    card.write_text(f"sha256: '{file_sha256(real)}'\nclasses: [{', '.join(f'c{i}' for i in range(80))}]\n")
    assert Detector(DetectorConfig(model_path=str(copy))).class_names[:2] == ("c0", "c1")


def test_optional_backends_fail_clearly_when_missing(shared_data: Path) -> None:
    import importlib.util

    import onnxruntime

    path = str(shared_data / "models" / "yolov8n_int8_dynamic.onnx")
    if "TensorrtExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(BackendUnavailableError, match="tensorrt"):
            Detector(DetectorConfig(model_path=path, backend="tensorrt"))
    if importlib.util.find_spec("openvino") is None:
        with pytest.raises(BackendUnavailableError, match="openvino"):
            Detector(DetectorConfig(model_path=path, backend="openvino"))
    else:  # installed: it must give the same answer as ONNX Runtime
        detector = Detector(DetectorConfig(model_path=path, backend="openvino"))
        names = detector.detect(_image(shared_data, "bus.jpg")).detections.names()
        assert sorted(names) == ["bus", "person", "person", "person", "person"]
    if importlib.util.find_spec("ultralytics") is None:
        with pytest.raises(BackendUnavailableError, match="ultralytics"):
            Detector(DetectorConfig(model_path=path, backend="ultralytics"))


# -- pure pieces -------------------------------------------------------------------------------


def test_letterbox_rectangular_geometry_round_trips() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    blob, placement = letterbox(image, (320, 416))
    assert blob.shape == (1, 3, 320, 416) and blob.dtype == np.float32
    assert placement.scale == pytest.approx(416 / 640)  # width limits: 640*0.65 = 416, 480*0.65 = 312
    assert placement.pad_x == 0 and placement.pad_y == 4
    box = np.array([[100.0, 50.0, 300.0, 400.0]], np.float32)
    in_input = box * placement.scale + np.array([placement.pad_x, placement.pad_y] * 2, np.float32)
    assert np.allclose(placement.to_original(in_input), box, atol=1e-3)
    tall = np.zeros((1080, 810, 3), np.uint8)
    blob, placement = letterbox(tall, (640, 640))
    assert placement.pad_x == 80 and placement.pad_y == 0
    assert np.allclose(blob[0, :, :, :80], 114 / 255) and np.allclose(blob[0, :, :, 80:560], 0)


def test_decode_any_class_count_and_both_layouts() -> None:
    nc, n = 7, 50
    rng = np.random.default_rng(0)
    out = np.zeros((4 + nc, n), np.float32)
    out[:4] = rng.uniform(10, 50, (4, n))
    out[4:] = rng.uniform(0, 0.2, (nc, n))
    out[:4, 3] = [100, 120, 40, 60]  # cx, cy, w, h
    out[4 + 6, 3] = 0.9
    mapping = ClassMapping.build([f"c{i}" for i in range(nc)])
    boxes, scores, ids = decode(out, mapping, 0.25, 0.45)
    assert ids.tolist() == [6] and scores[0] == pytest.approx(0.9)
    assert boxes[0].tolist() == pytest.approx([80, 90, 120, 150])
    from edge_rover.perception.detection.postprocess import as_channels_first

    assert np.array_equal(as_channels_first(out.T[None], nc), out)


def test_nms_is_class_aware() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    keep = class_aware_nms(boxes, scores, np.array([0, 0, 1, 0], np.int32), 0.45)
    assert keep.tolist() == [0, 2, 3]


def test_class_mapping_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="not produced"):
        ClassMapping.build(["person", "car"], keep=["cone"])
    with pytest.raises(ValueError, match="not model classes"):
        ClassMapping.build(["person", "car"], remap={"truck": "car"})


def test_keeping_one_class_decodes_only_that_class(shared_data: Path) -> None:
    path = shared_data / "models" / "yolov8n_int8_dynamic.onnx"
    detector = Detector(DetectorConfig(model_path=str(path), keep_classes=("bus",)))
    detections = detector.detect(_image(shared_data, "bus.jpg")).detections
    assert detections.names() == ["bus"]


def test_input_size_argument_takes_height_x_width_on_the_stride() -> None:
    """The one parser for `--input-hw` / `--sizes` (train_detector, detector_resolution)."""
    import argparse

    from edge_rover.perception.detection.preprocess import parse_input_hw

    assert parse_input_hw("480x640") == (480, 640)
    assert parse_input_hw("320X416") == (320, 416)
    for bad in ("480x641", "32x64", "1312x640", "640", "axb", "480x640x3"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_input_hw(bad)
