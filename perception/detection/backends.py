"""Inference backends behind one small interface: ``run(blob) -> raw output``.

Only onnxruntime is a hard dependency. OpenVINO, TensorRT and ultralytics are imported when
chosen and nowhere else, so a missing one is one clear :class:`BackendUnavailableError`.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Protocol

import numpy as np

from perception.detection.types import BackendUnavailableError, ModelLoadError

BACKENDS = ("onnxruntime", "openvino", "tensorrt", "ultralytics")


class Backend(Protocol):
    name: str
    input_hw: tuple[int, int] | None  # None when the model takes any size (dynamic export)

    def run(self, blob: np.ndarray) -> np.ndarray: ...


def _static_hw(shape: list) -> tuple[int, int] | None:
    if len(shape) != 4:
        raise ModelLoadError(f"model input must be NCHW (1, 3, H, W), got {shape}")
    if shape[1] not in (3, "3") and isinstance(shape[1], int):
        raise ModelLoadError(f"model input must have 3 channels, got {shape}")
    height, width = shape[2], shape[3]
    if isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0:
        return height, width
    return None


def read_onnx_metadata(path: Path) -> dict[str, str]:
    """The ultralytics export metadata (names, imgsz, stride, ...) as strings; {} when absent."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT raises several exception types for a bad file
        raise ModelLoadError(f"cannot load ONNX model {path}: {err}") from err
    return dict(session.get_modelmeta().custom_metadata_map)


def names_from_metadata(metadata: dict[str, str]) -> list[str] | None:
    """``names: {0: 'person', ...}`` (ultralytics metadata) → list in index order."""
    raw = metadata.get("names")
    if not raw:
        return None
    try:
        names = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None
    if isinstance(names, dict):
        return [str(names[i]) for i in sorted(names)]
    if isinstance(names, list):
        return [str(n) for n in names]
    return None


class OnnxRuntimeBackend:
    """CPU ONNX Runtime (default). ``providers`` lets the TensorRT backend reuse it."""

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int, providers: list | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as err:
            raise ModelLoadError(f"cannot load ONNX model {path}: {err}") from err
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(f"expected one model input, {path} has {len(inputs)}")
        self._input_name = inputs[0].name
        self.input_hw = _static_hw(inputs[0].shape)
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)

    def run(self, blob: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input_name: blob})[0]


class TensorRtBackend(OnnxRuntimeBackend):
    """TensorRT through ONNX Runtime's TensorRT execution provider (onnxruntime-gpu on JetPack).

    The QDQ INT8 model runs as an explicitly quantized TensorRT engine; engines are cached next
    to the model so only the first start pays the build.
    """

    name = "tensorrt"

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        available = ort.get_available_providers()
        if "TensorrtExecutionProvider" not in available:
            raise BackendUnavailableError(
                "backend 'tensorrt' needs onnxruntime-gpu built with TensorRT (JetPack); "
                f"this onnxruntime offers only {available}. Use backend 'onnxruntime' here."
            )
        cache = path.parent / ".trt_cache"
        providers = [
            (
                "TensorrtExecutionProvider",
                {
                    "trt_fp16_enable": True,
                    "trt_int8_enable": True,
                    "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": str(cache),
                },
            ),
            "CUDAExecutionProvider",
        ]
        super().__init__(path, threads, providers)


class OpenVinoBackend:
    """Intel OpenVINO on the CPU (optional extra: ``pip install openvino``)."""

    name = "openvino"

    def __init__(self, path: Path, threads: int, input_hw: tuple[int, int] | None) -> None:
        try:
            import openvino as ov
        except ImportError as err:
            raise BackendUnavailableError(
                "backend 'openvino' is not installed (pip install openvino); use 'onnxruntime'"
            ) from err
        core = ov.Core()
        try:
            model = core.read_model(str(path))
        except Exception as err:
            raise ModelLoadError(f"OpenVINO cannot read {path}: {err}") from err
        shape = model.input(0).get_partial_shape()
        dims = [d.get_length() if d.is_static else None for d in shape]
        self.input_hw = _static_hw(dims)
        if self.input_hw is None and input_hw is not None:
            model.reshape([1, 3, *input_hw])
            self.input_hw = input_hw
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        self._compiled = core.compile_model(model, "CPU", config)
        self._request = self._compiled.create_infer_request()
        self.metadata = read_onnx_metadata(path) if path.suffix == ".onnx" else _ov_metadata(model)

    def run(self, blob: np.ndarray) -> np.ndarray:
        self._request.infer({0: blob})
        return self._request.get_output_tensor(0).data.copy()


def _ov_metadata(model) -> dict[str, str]:
    """ultralytics metadata of an OpenVINO IR read from ONNX (kept under rt_info 'framework')."""
    try:
        framework = model.get_rt_info()["framework"]
        return {str(k): framework[k].astype(str) for k in framework}
    except Exception:  # any IR without it: the class list must then be given explicitly
        return {}


def make_backend(name: str, path: Path, threads: int, input_hw: tuple[int, int] | None) -> Backend:
    if name == "onnxruntime":
        return OnnxRuntimeBackend(path, threads)
    if name == "openvino":
        return OpenVinoBackend(path, threads, input_hw)
    if name == "tensorrt":
        return TensorRtBackend(path, threads)
    raise ValueError(f"unknown backend {name!r}; choose one of {list(BACKENDS)}")
