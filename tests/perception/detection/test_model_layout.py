"""Models of another layout or format are refused at load with one line naming what they are.

The wrong layouts are small real ONNX files built here with the ``onnx`` helper API (a constant
output of the layout's shape, plus 0 × the input so the graph really consumes the image) and run
by the real detector on ONNX Runtime; the good layout and the shipped / COCO models must still load.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_rover.perception.detection.detector import Detector, DetectorConfig
from edge_rover.perception.detection.model_layout import (
    anchor_count,
    check_output_shape,
    sniff_model_format,
)
from edge_rover.perception.detection.types import ModelLoadError
from tests.conftest import REPO_ROOT

onnx = pytest.importorskip("onnx")

COCO80 = [f"c{i}" for i in range(80)]


def _constant_model(path: Path, input_hw: tuple[int, int], output: np.ndarray) -> Path:
    """An ONNX model (1, 3, H, W) → ``output`` (+ 0 × mean of the input)."""
    from onnx import TensorProto, helper, numpy_helper

    height, width = input_hw
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[0, 1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["table", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "layout_probe",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
        initializer=[
            numpy_helper.from_array(output.astype(np.float32), "table"),
            numpy_helper.from_array(np.zeros((), np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _anchor_centres(input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for stride in (8, 16, 32):
        gy, gx = np.mgrid[0 : input_hw[0] // stride, 0 : input_hw[1] // stride]
        xs.append(((gx + 0.5) * stride).ravel())
        ys.append(((gy + 0.5) * stride).ravel())
    return np.concatenate(xs), np.concatenate(ys)


def _ultralytics_like(input_hw: tuple[int, int], nc: int) -> np.ndarray:
    """What the ultralytics export gives on a plain image: anchor-centred boxes, low scores."""
    n = anchor_count(input_hw)
    out = np.zeros((1, 4 + nc, n), np.float32)
    out[0, 0], out[0, 1] = _anchor_centres(input_hw)
    out[0, 2:4] = 20.0
    out[0, 4:] = np.random.default_rng(0).uniform(0.0, 0.05, (nc, n))
    return out


def _load(path: Path, names: list[str]) -> Detector:
    return Detector(DetectorConfig(model_path=str(path), backend="onnxruntime", model_classes=names))


def test_anchor_count_follows_the_input_size() -> None:
    assert anchor_count((640, 640)) == 8400
    assert anchor_count((416, 416)) == 3549
    assert anchor_count((320, 480)) == 3150


def test_the_ultralytics_layout_loads_for_any_class_count_and_input_size(tmp_path: Path) -> None:
    path = _constant_model(tmp_path / "three.onnx", (320, 480), _ultralytics_like((320, 480), 3))
    detector = _load(path, ["a", "b", "c"])
    assert detector.output_layout.num_classes == 3 and detector.output_layout.anchors == 3150
    result = detector.detect(np.full((240, 360, 3), 90, np.uint8))
    assert len(result.detections.scores) == 0  # all scores below the threshold


def test_yolox_layout_is_refused_whatever_class_list_is_given(tmp_path: Path) -> None:
    """1×3549×85 at 416: with 81 names it would "fit" (4 + 81 = 85) and decode garbage."""
    rng = np.random.default_rng(1)
    path = _constant_model(tmp_path / "yolox_nano.onnx", (416, 416), rng.normal(0, 2, (1, 3549, 85)))
    for names in ([f"c{i}" for i in range(81)], COCO80, ["person"]):
        with pytest.raises(ModelLoadError) as err:
            _load(path, names)
        message = str(err.value)
        assert "output 1×3549×85 looks like a YOLOX" in message and "objectness" in message
        assert "1×(4+nc)×3549" in message and "\n" not in message


def test_yolov5_anchor_layout_and_end_to_end_exports_are_refused(tmp_path: Path) -> None:
    v5 = _constant_model(tmp_path / "v5.onnx", (320, 320), np.zeros((1, 3 * 2100, 85)))
    with pytest.raises(ModelLoadError, match="YOLOv5/YOLOv7 anchor-based layout"):
        _load(v5, COCO80)
    e2e = _constant_model(tmp_path / "e2e.onnx", (320, 320), np.zeros((1, 300, 6)))
    with pytest.raises(ModelLoadError, match="end-to-end export with NMS"):
        _load(e2e, COCO80)


def test_a_column_count_that_is_not_the_anchor_grid_is_refused(tmp_path: Path) -> None:
    path = _constant_model(tmp_path / "other.onnx", (320, 320), np.zeros((1, 84, 1000)))
    with pytest.raises(ModelLoadError, match="1000 columns, but a 320×320 input has 2100 anchor points"):
        _load(path, COCO80)


def test_raw_grid_offsets_and_logits_fail_the_warm_up_ranges(tmp_path: Path) -> None:
    offsets = _ultralytics_like((320, 320), 2)
    offsets[0, :2] = np.random.default_rng(2).uniform(-1, 1, (2, offsets.shape[2]))
    with pytest.raises(ModelLoadError, match="raw grid offsets"):
        _load(_constant_model(tmp_path / "offsets.onnx", (320, 320), offsets), ["a", "b"])
    logits = _ultralytics_like((320, 320), 2)
    logits[0, 4:] = -6.0
    with pytest.raises(ModelLoadError, match="logits"):
        _load(_constant_model(tmp_path / "logits.onnx", (320, 320), logits), ["a", "b"])


def test_class_list_of_the_wrong_length_names_both_counts(shared_data: Path) -> None:
    path = shared_data / "models" / "yolov8n_int8_dynamic.onnx"
    with pytest.raises(ModelLoadError, match="layout for 80 classes, but the class list has 5 names"):
        Detector(DetectorConfig(model_path=str(path), model_classes=["a", "b", "c", "d", "e"]))
    assert Detector(DetectorConfig(model_path=str(path))).output_layout.num_classes == 80


def test_the_shipped_model_passes() -> None:
    detector = Detector(DetectorConfig(model_path=str(REPO_ROOT / "models" / "edge_rover_yolov8n_int8.onnx")))
    assert detector.output_layout.num_classes == len(detector.model_classes)


def test_files_of_other_formats_are_named(tmp_path: Path, shared_data: Path) -> None:
    tflite = tmp_path / "model.tflite"  # a FlatBuffer: root offset, then the "TFL3" identifier
    tflite.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(200))
    torch_pt = shared_data / "models" / "yolov8n_coco_derived.pt"  # a real torch.save checkpoint
    script = tmp_path / "model.torchscript"  # the member layout torch.jit.save writes
    import zipfile

    with zipfile.ZipFile(script, "w") as archive:
        archive.writestr("model/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("model/constants.pkl", b"\x80\x02).")
        archive.writestr("model/code/__torch__/model.py", "class Model: ...\n")
    ir = tmp_path / "edge_rover_yolov8n_int8_openvino.xml"
    shutil.copy(REPO_ROOT / "models" / ir.name, ir)  # the real IR, without its .bin
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    cases = {
        tflite: "is a TensorFlow Lite flatbuffer, not an ONNX model",
        torch_pt: "is a PyTorch checkpoint (torch.save",
        script: "is a TorchScript archive",
        ir: "is an OpenVINO IR without its weights: edge_rover_yolov8n_int8_openvino.bin is missing",
        empty: "is an empty file",
    }
    for path, expected in cases.items():
        with pytest.raises(ModelLoadError, match=expected.replace("(", r"\(")):
            Detector(DetectorConfig(model_path=str(path), model_classes=COCO80))
    assert sniff_model_format(shared_data / "models" / "yolov8n_int8_dynamic.onnx") is None


def test_check_output_shape_messages_are_one_line() -> None:
    for shape in [(1, 8400, 85), (1, 25200, 85), (1, 300, 6), (1, 84, 100), (84, 8400), (2, 84, 8400)]:
        with pytest.raises(ModelLoadError) as err:
            check_output_shape(shape, (640, 640))
        assert "\n" not in str(err.value) and "×".join(map(str, shape)) in str(err.value)
    assert check_output_shape((1, 84, 8400), (640, 640)).num_classes == 80
