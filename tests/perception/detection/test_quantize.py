"""perception.detection.quantize end to end: NNCF OpenVINO INT8 on the real COCO model, gated both ways, and
the ONNX Runtime options (which nodes stay FP32, chunked calibration)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_rover.perception.detection import quantize

HAVE_NNCF = importlib.util.find_spec("nncf") is not None and importlib.util.find_spec("openvino") is not None
needs_nncf = pytest.mark.skipif(not HAVE_NNCF, reason="nncf/openvino not installed (requirements/test.txt)")
COCO_FP32 = "yolov8n_fp32_dequantized.onnx"  # 640x640, COCO-80
CLASS_TABLE = Path(__file__).resolve().parents[3] / "config" / "classes.yaml"


@pytest.fixture(scope="module")
def coco_set(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real photos to calibrate on, a labelled val set (coco8 val + labels), a grey-only folder."""
    root = tmp_path_factory.mktemp("quantize")
    calib = root / "calib"
    calib.mkdir()
    for name in ("bus.jpg", "zidane.jpg", "person.jpg", "horses.jpg"):
        shutil.copyfile(shared_data / "images" / name, calib / name)
    grey = root / "grey"
    grey.mkdir()
    cv2.imwrite(str(grey / "grey.png"), np.full((480, 640, 3), 114, np.uint8))
    return {"calib": calib, "grey": grey, "val": shared_data / "coco8" / "images" / "val"}


def _run(shared_data: Path, calib: Path, val: Path, out: Path, max_drop: float) -> tuple[int, dict]:
    code = quantize.main(
        ["--engine", "openvino", "--model", str(shared_data / "models" / COCO_FP32), "--calib", str(calib),
         "--num-calib", "4", "--val", str(val), "--out", str(out), "--max-drop", str(max_drop)]
    )  # fmt: skip
    return code, json.loads(out.with_suffix(".quant.json").read_text())


@needs_nncf
def test_openvino_int8_within_the_limit_is_written_and_detects_the_bus(
    shared_data: Path, coco_set: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "coco_int8_openvino.xml"
    code, report = _run(shared_data, coco_set["calib"], coco_set["val"], out, max_drop=1.0)
    assert code == 0, report["verdict"]
    assert report["accepted"] and report["engine"] == "openvino"
    assert 100 * (report["fp32"]["mAP50"] - report["int8"]["mAP50"]) <= 1.0
    assert report["fp32"]["mAP50"] > 0.5  # the FP32 model really was evaluated on labelled images
    assert out.is_file() and out.with_suffix(".bin").is_file()
    assert report["int8_sha256"] == quantize.file_sha256(out)
    assert any(".dfl" in name or "Sigmoid" in name for name in report["fp32_nodes"])  # decode kept FP32

    from edge_rover.perception.detection.detector import Detector, DetectorConfig

    detector = Detector(DetectorConfig(model_path=str(out), backend="openvino", threads=1))
    found = detector.detect(cv2.imread(str(shared_data / "images" / "bus.jpg"))).detections
    names = found.names()
    assert "bus" in names and names.count("person") >= 3


@needs_nncf
def test_openvino_int8_calibrated_on_a_grey_frame_is_refused_and_not_written(
    shared_data: Path, coco_set: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A broken calibration (one uniform frame: every activation range collapses) must not ship."""
    out = tmp_path / "grey_int8_openvino.xml"
    code, report = _run(shared_data, coco_set["grey"], coco_set["val"], out, max_drop=1.0)
    drop = 100 * (report["fp32"]["mAP50"] - report["int8"]["mAP50"])
    assert code == 2 and not report["accepted"] and drop > 1.0
    assert not out.exists() and not out.with_suffix(".bin").exists()
    assert f"REFUSED: INT8 mAP50 is {drop:.2f} points below FP32" in capsys.readouterr().err


def _run_agree(shared_data: Path, calib: Path, agree: Path, out: Path, *extra: str) -> tuple[int, dict]:
    """The label-free gate alone (no labels): INT8 vs FP32 boxes on the unlabelled frames."""
    code = quantize.main(
        ["--engine", "openvino", "--model", str(shared_data / "models" / COCO_FP32), "--calib", str(calib),
         "--num-calib", "4", "--agree", str(agree), "--out", str(out), *extra]
    )  # fmt: skip
    return code, json.loads(out.with_suffix(".quant.json").read_text())


@needs_nncf
def test_label_free_gate_writes_a_good_model_and_refuses_above_its_reach(
    shared_data: Path, coco_set: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Unlabelled frames only (the user's own): per-class recall/precision of INT8 against FP32;
    the same model is written at a reachable threshold and refused, with the shortfall, at 1.01."""
    agree = shared_data / "images"  # 5 photos + the chessboard views, no labels used
    out = tmp_path / "ok_openvino.xml"
    code, report = _run_agree(shared_data, coco_set["calib"], agree, out, "--min-recall", "0.8")
    figures = report["agreement"]
    assert code == 0 and report["accepted"] and out.is_file(), report["verdict"]
    assert "fp32" not in report  # no labels, no mAP
    person = figures["all_classes"]["per_class"]["person"]
    assert person["reference_boxes"] >= 8 and person["recall"] >= 0.8
    assert figures["frames"] == 18 and figures["score_margin"] == 0.05
    assert figures["all_classes"]["strict_total"]["matched"] <= figures["all_classes"]["total"]["matched"]

    refused = tmp_path / "refused_openvino.xml"
    code, report = _run_agree(shared_data, coco_set["calib"], agree, refused, "--min-recall", "1.01")
    recall = report["agreement"]["all_classes"]["total"]["recall"]
    assert code == 2 and not report["accepted"] and not refused.exists()
    err = capsys.readouterr().err
    assert f"REFUSED: recall {recall:.2%} is {100 * (1.01 - recall):.2f} points below 101.0%" in err


@needs_nncf
def test_label_free_gate_refuses_a_damaged_calibration(
    shared_data: Path, coco_set: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Calibrated on one grey frame, INT8 loses FP32 boxes on real photos: refused without labels."""
    out = tmp_path / "grey_openvino.xml"
    agree = shared_data / "images"
    code, report = _run_agree(shared_data, coco_set["grey"], agree, out, "--class-table", str(CLASS_TABLE))
    total = report["agreement"]["table_classes"]["total"]
    assert code == 2 and not out.exists() and total["recall"] < 0.95
    assert report["agreement"]["gated_on"] == "table_classes"
    assert "points below 95.0%" in capsys.readouterr().err


def test_openvino_engine_wants_an_xml_output(
    shared_data: Path, coco_set: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"must end in \.xml"):
        _run(shared_data, coco_set["calib"], coco_set["val"], tmp_path / "model.onnx", 1.0)


# -- ONNX Runtime options (no quantization run: graph walks and calibration plumbing) ---------------


def test_head_nodes_contain_the_decode_and_the_head_convolutions_only(shared_data: Path) -> None:
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(shared_data / "models" / COCO_FP32))
    decode, head = quantize.decode_node_names(model), quantize.head_node_names(model)
    assert set(decode) - {""} < set(head)  # (this dequantized export has unnamed bias Reshapes)
    ops = {n.name: n.op_type for n in model.graph.node}
    convs = [n for n in head if ops[n] == "Conv"]
    assert len(convs) == 3 * 6 + 1  # 3 scales × (2 box + 2 class + 2 final) + the DFL conv
    assert all(n.startswith("/model.22/") for n in head)
    assert quantize.fp32_node_names(model, "none") == []
    assert quantize.fp32_node_names(model, "decode") == decode
    with pytest.raises(ValueError, match="decode, head or none"):
        quantize.fp32_node_names(model, "backbone")


def test_class_convs_are_the_three_last_convolutions_that_write_the_class_logits(shared_data: Path) -> None:
    """What the OpenVINO IR keeps in FP32 beside the decode: the 1x1 convs writing the 80 logits."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(shared_data / "models" / COCO_FP32))
    names = quantize.class_conv_names(model)
    assert sorted(names) == [f"/model.22/cv3.{s}/cv3.{s}.2/Conv" for s in range(3)]
    assert not set(names) & set(quantize.decode_node_names(model))  # the walk stops at them


def test_calibration_stride_is_passed_only_when_it_splits_the_frames() -> None:
    assert quantize._calibration_options("percentile", 200) == {"CalibPercentile": 99.999}
    assert quantize._calibration_options("percentile", 200, 20)["CalibStridedMinMax"] == 20
    assert "CalibStridedMinMax" not in quantize._calibration_options("minmax", 10, 20)
    with pytest.raises(ValueError, match="must divide"):
        quantize._calibration_options("minmax", 200, 30)


def test_reader_serves_each_chunk_once_letterboxed() -> None:
    frames = [np.full((480, 640, 3), v, np.uint8) for v in (10, 20, 30, 40)]
    reader = quantize._Reader(frames, "images", (320, 416))
    assert len(reader) == 4
    reader.set_range(2, 4)
    blobs = [reader.get_next(), reader.get_next(), reader.get_next()]
    assert blobs[2] is None
    assert blobs[0]["images"].shape == (1, 3, 320, 416)
    assert blobs[0]["images"][0, 0, 160, 208] == pytest.approx(30 / 255, abs=1e-6)


def test_onnxruntime_cli_options_reach_the_written_model(
    shared_data: Path, coco_set: dict[str, Path], tmp_path: Path
) -> None:
    """--format qoperator --keep-fp32 head --calib-stride: QLinearConv in the backbone, plain float
    Conv in the whole head, calibration in chunks, and the model still passes a (loose) gate."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime.quantization")
    out = tmp_path / "coco_int8_qop.onnx"
    code = quantize.main(
        ["--model", str(shared_data / "models" / COCO_FP32), "--calib", str(coco_set["calib"]),
         "--num-calib", "4", "--calib-stride", "2", "--format", "qoperator", "--keep-fp32", "head",
         "--val", str(coco_set["val"]), "--out", str(out), "--max-drop", "100"]
    )  # fmt: skip
    report = json.loads(out.with_suffix(".quant.json").read_text())
    assert code == 0 and report["accepted"], report["verdict"]
    assert (report["format"], report["keep_fp32"], report["calibration"]["stride"]) == (
        "qoperator",
        "head",
        2,
    )
    nodes = onnx.load(str(out)).graph.node
    head_ops = {n.op_type for n in nodes if n.name.startswith("/model.22/")}
    backbone_ops = {n.op_type for n in nodes if n.name.startswith("/model.0/")}
    assert "Conv" in head_ops and "QLinearConv" not in head_ops
    assert "QLinearConv" in backbone_ops and "Conv" not in backbone_ops
    assert report["int8"]["mAP50"] > 0.3  # a working model, not just a file
    assert set(report["ap50_by_object_size_px"]["int8"]) == {"<8", "8-16", "16-32", ">=32"}


@needs_nncf
def test_silu_rewritten_as_swish_computes_the_same_function(shared_data: Path) -> None:
    """The OpenVINO path's graph rewrite (x * sigmoid(x) → Swish, fusable into INT8 convolutions)
    changes no output of the FP32 model; only the decode's class sigmoid stays a Sigmoid."""
    from collections import Counter

    import openvino as ov

    from edge_rover.perception.detection.preprocess import letterbox

    core = ov.Core()
    path = shared_data / "models" / COCO_FP32
    plain, rewritten = core.read_model(str(path)), core.read_model(str(path))
    fused = quantize.fuse_silu_into_swish(rewritten)
    types = Counter(op.get_type_name() for op in rewritten.get_ops())
    assert fused == types["Swish"] == 57  # every convolution's SiLU in YOLOv8n
    assert types["Sigmoid"] == 1
    blob = letterbox(cv2.imread(str(shared_data / "images" / "bus.jpg")), (640, 640))[0]
    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1}
    before, after = (core.compile_model(m, "CPU", config)({0: blob})[0] for m in (plain, rewritten))
    assert np.abs(after[0, :4] - before[0, :4]).max() < 0.05  # box pixels of the 640 input
    assert np.abs(after[0, 4:] - before[0, 4:]).max() < 1e-4  # class probabilities
