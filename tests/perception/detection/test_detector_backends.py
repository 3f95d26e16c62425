"""Backend choice (``auto``) and OpenVINO against ONNX Runtime on real data."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_rover.perception.detection.backends import (
    CPU_EP,
    CUDA_EP,
    TRT_EP,
    Platform,
    choose_backend,
    detect_platform,
    openvino_ir_complete,
    openvino_ir_for,
)
from edge_rover.perception.detection.detector import Detector, DetectorConfig
from edge_rover.perception.detection.types import BackendUnavailableError, ModelLoadError

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "models" / "edge_rover_yolov8n_int8.onnx"
SHIPPED_IR = REPO / "models" / "edge_rover_yolov8n_int8_openvino.xml"
HAVE_OPENVINO = importlib.util.find_spec("openvino") is not None
needs_openvino = pytest.mark.skipif(not HAVE_OPENVINO, reason="openvino not installed")


# -- auto: pure decision -----------------------------------------------------------------------


X86_CPU = Platform(ort_providers=(CPU_EP,), openvino_available=True, machine="x86_64")
X86_NO_OV = Platform(ort_providers=(CPU_EP,), openvino_available=False, machine="x86_64")
# onnxruntime-gpu on a Jetson: every provider listed, the GPU and libnvinfer found
JETSON = Platform((TRT_EP, CUDA_EP, CPU_EP), openvino_available=False, machine="aarch64",
                  gpu="Orin sm87", tensorrt_version="10.3.0")  # fmt: skip


def test_auto_picks_openvino_only_with_openvino_and_an_ir() -> None:
    onnx, ir = Path("m/model.onnx"), Path("m/model_openvino.xml")
    assert openvino_ir_for(onnx) == ir and openvino_ir_for(ir) == ir
    both = choose_backend("auto", onnx, X86_CPU, ir)
    assert (both.backend, both.model_path) == ("openvino", ir) and "model_openvino.xml" in both.reason
    no_ov = choose_backend("auto", onnx, X86_NO_OV, ir)
    assert (no_ov.backend, no_ov.model_path) == ("onnxruntime", onnx) and "not installed" in no_ov.reason
    no_ir = choose_backend("auto", onnx, X86_CPU, None)
    assert (no_ir.backend, no_ir.model_path) == ("onnxruntime", onnx) and "no OpenVINO" in no_ir.reason


def test_auto_order_tensorrt_cuda_openvino_cpu() -> None:
    onnx, ir = Path("m/model.onnx"), Path("m/model_openvino.xml")
    trt = choose_backend("auto", onnx, JETSON, None)
    assert (trt.backend, trt.model_path) == ("tensorrt", onnx)
    assert "TensorRT 10.3.0 on Orin sm87" in trt.reason
    # an x86 desktop with TensorRT and OpenVINO + IR: TensorRT still wins (the GPU first)
    desktop = replace(JETSON, machine="x86_64", openvino_available=True, gpu="NVIDIA H100 sm90")
    assert choose_backend("auto", onnx, desktop, ir).backend == "tensorrt"
    # the CUDA provider without libnvinfer: CUDA, saying why not TensorRT
    no_trt = choose_backend("auto", onnx, replace(JETSON, tensorrt_version=None), ir)
    assert no_trt.backend == "cuda" and "libnvinfer" in no_trt.reason
    # a GPU wheel on a machine without a GPU (the PyPI onnxruntime-gpu lists both providers anyway)
    no_gpu = replace(JETSON, machine="x86_64", openvino_available=True, gpu=None)
    choice = choose_backend("auto", onnx, no_gpu, ir)
    assert choice.backend == "openvino" and "no CUDA GPU" in choice.reason
    # OpenVINO is for x86 only: an ARM board without GPU backends runs ORT on the CPU
    arm = Platform((CPU_EP,), openvino_available=True, machine="aarch64")
    choice = choose_backend("auto", onnx, arm, ir)
    assert choice.backend == "onnxruntime" and "aarch64" in choice.reason
    assert "no TensorRT execution provider" in choice.reason


def test_explicit_backend_is_kept_and_an_ir_needs_openvino() -> None:
    onnx, ir = Path("model.onnx"), Path("model_openvino.xml")
    for name in ("onnxruntime", "openvino", "tensorrt", "cuda", "ultralytics"):
        choice = choose_backend(name, onnx, X86_CPU, ir)
        assert (choice.backend, choice.model_path) == (name, onnx) and "explicitly" in choice.reason
    assert choose_backend("auto", ir, X86_CPU, None).backend == "openvino"
    with pytest.raises(BackendUnavailableError, match="openvino is not installed"):
        choose_backend("auto", ir, X86_NO_OV, None)


def test_gpu_backends_fail_clearly_without_a_gpu_here() -> None:
    """This machine has no NVIDIA stack: asking for one is a clear error, not a CPU fallback."""
    here = detect_platform()
    if here.tensorrt_usable()[0] or here.cuda_usable():
        pytest.skip("this machine has a usable GPU backend")
    for name, words in (("tensorrt", "cannot run here"), ("cuda", "needs onnxruntime-gpu")):
        with pytest.raises(BackendUnavailableError, match=words):
            Detector(DetectorConfig(model_path=str(SHIPPED), backend=name))


def test_an_ir_counts_only_with_its_weights_and_card(tmp_path: Path) -> None:
    xml = tmp_path / "m_openvino.xml"
    xml.write_text("<net/>")
    assert not openvino_ir_complete(xml)
    xml.with_suffix(".bin").write_bytes(b"\0")
    assert not openvino_ir_complete(xml)  # no card: no sha256 to check, not picked
    (tmp_path / "m_openvino.card.yaml").write_text("classes: [a]\n")
    assert openvino_ir_complete(xml)


def test_shipped_ir_weights_are_checked_against_the_card(tmp_path: Path) -> None:
    """A damaged .bin is one clear error before any runtime is touched (no openvino needed)."""
    for suffix in (".xml", ".bin"):
        shutil.copy(SHIPPED_IR.with_suffix(suffix), tmp_path / SHIPPED_IR.with_suffix(suffix).name)
    shutil.copy(SHIPPED_IR.with_name(SHIPPED_IR.stem + ".card.yaml"), tmp_path)
    weights = tmp_path / SHIPPED_IR.with_suffix(".bin").name
    data = bytearray(weights.read_bytes())
    data[1000] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match=r"\.bin does not match its card"):
        Detector(DetectorConfig(model_path=str(tmp_path / SHIPPED_IR.name), backend="openvino"))


def test_auto_on_the_shipped_model_follows_what_is_installed() -> None:
    detector = Detector(DetectorConfig(model_path=str(SHIPPED)))  # backend defaults to auto
    if HAVE_OPENVINO:
        assert detector.backend_choice.backend == "openvino"
        assert detector.model_path == SHIPPED_IR
    else:
        assert detector.backend_choice.backend == "onnxruntime"
        assert detector.model_path == SHIPPED
    assert detector.class_names == ("person", "bicycle", "car", "traffic_cone", "box")


@needs_openvino
def test_openvino_cpu_pinning_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pinned by default (faster on a quiet CPU); EDGE_ROVER_OV_CPU_PINNING=0 unpins (README)."""
    monkeypatch.delenv("EDGE_ROVER_OV_CPU_PINNING", raising=False)
    assert Detector(DetectorConfig(model_path=str(SHIPPED))).backend.cpu_pinning is True
    monkeypatch.setenv("EDGE_ROVER_OV_CPU_PINNING", "0")
    assert Detector(DetectorConfig(model_path=str(SHIPPED))).backend.cpu_pinning is False
    monkeypatch.setenv("EDGE_ROVER_OV_CPU_PINNING", "yes")
    with pytest.raises(ValueError, match="EDGE_ROVER_OV_CPU_PINNING must be 0 or 1, got 'yes'"):
        Detector(DetectorConfig(model_path=str(SHIPPED)))


# -- OpenVINO equals ONNX Runtime --------------------------------------------------------------


@needs_openvino
def test_openvino_output_equals_onnxruntime_on_bus(shared_data: Path) -> None:
    """Same FP32 COCO model, same frame: raw outputs and final detections agree."""
    path = str(shared_data / "models" / "yolov8n_fp32_dequantized.onnx")
    image = cv2.imread(str(shared_data / "images" / "bus.jpg"))
    ort = Detector(DetectorConfig(model_path=path, backend="onnxruntime"))
    ov = Detector(DetectorConfig(model_path=path, backend="openvino"))
    assert ov.backend_choice.backend == "openvino" and ov.input_hw == ort.input_hw
    raw_ort = ort.backend.run(ort.prepare(image)[0])  # float blob
    raw_ov = ov.backend.run(ov.prepare(image)[0])  # uint8 BGR, converted inside OpenVINO
    assert raw_ov.shape == raw_ort.shape
    boxes_ort, boxes_ov = raw_ort[0, :4], raw_ov[0, :4]  # pixels of the 640 input
    assert np.abs(boxes_ov - boxes_ort).max() < 0.5
    assert np.abs(raw_ov[0, 4:] - raw_ort[0, 4:]).max() < 0.01  # class probabilities

    a, b = ort.detect(image).detections, ov.detect(image).detections
    assert sorted(a.names()) == sorted(b.names()) == ["bus", "person", "person", "person", "person"]
    order_a, order_b = np.argsort(a.boxes[:, 0]), np.argsort(b.boxes[:, 0])
    np.testing.assert_allclose(b.boxes[order_b], a.boxes[order_a], atol=1.0)
    np.testing.assert_allclose(b.scores[order_b], a.scores[order_a], atol=0.01)


@needs_openvino
def test_shipped_ir_agrees_with_the_shipped_onnx(tmp_path: Path) -> None:
    """The two shipped INT8 models (ORT QDQ vs NNCF IR: different quantizers, same FP32 weights)
    find the same near objects on simulator frames, boxes within a few pixels."""
    from edge_rover.perception.detection.postprocess import box_iou
    from edge_rover.simulation.dataset import export

    export(tmp_path / "sim", train=0, val=6, imgsz=(640, 480), seed=11, sheet_count=0)
    ort = Detector(DetectorConfig(model_path=str(SHIPPED), backend="onnxruntime"))
    ov = Detector(DetectorConfig(model_path=str(SHIPPED), backend="auto"))
    assert ov.model_path == SHIPPED_IR
    matched = 0
    for path in sorted((tmp_path / "sim" / "images" / "val").glob("*.jpg")):
        image = cv2.imread(str(path))
        a, b = ort.detect(image).detections, ov.detect(image).detections
        for k in np.flatnonzero(a.scores >= 0.5):  # confident ORT detections: OpenVINO has them too
            same = b.class_ids == a.class_ids[k]
            assert same.any(), f"{path.name}: OpenVINO misses a {a.names()[k]}"
            assert box_iou(a.boxes[k : k + 1], b.boxes[same]).max() > 0.85, path.name
            matched += 1
    assert matched >= 5
