"""Inference backends behind one small interface: ``run(blob) -> raw output``.

Only onnxruntime is a hard dependency. OpenVINO, TensorRT and ultralytics are imported when
chosen and nowhere else, so a missing one is one clear :class:`BackendUnavailableError`.
``auto`` picks from a :class:`Platform` (what this machine offers) in :func:`choose_backend`:
TensorRT, then CUDA on a GPU, then OpenVINO on x86, then ONNX Runtime on the CPU.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import platform as platform_module
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from edge_rover.perception.detection.types import BackendUnavailableError, ModelLoadError

BACKENDS = ("auto", "onnxruntime", "openvino", "tensorrt", "cuda", "ultralytics")
OPENVINO_IR_SUFFIX = "_openvino"  # model.onnx → model_openvino.xml + .bin (+ its card) beside it
TRT_EP, CUDA_EP, CPU_EP = "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"
X86_MACHINES = ("x86_64", "amd64", "i686")


@dataclass(frozen=True)
class BackendChoice:
    """What ``auto`` resolved to: the backend, the file it runs, and why (for the start-up log)."""

    backend: str
    model_path: Path
    reason: str


@dataclass(frozen=True)
class Platform:
    """What this machine offers the detector; ``detect_platform`` fills it in, tests pass their own.

    ``ort_providers`` is ``onnxruntime.get_available_providers()``: a wheel may list TensorRT or
    CUDA without the libraries or a GPU behind them, so ``gpu`` and ``tensorrt_version`` (probed
    from the NVIDIA libraries) decide whether a listed provider is usable.
    """

    ort_providers: tuple[str, ...] = (CPU_EP,)
    openvino_available: bool = False
    machine: str = "x86_64"
    gpu: str | None = None  # "Orin sm87"; None: no CUDA device
    tensorrt_version: str | None = None

    @property
    def is_x86(self) -> bool:
        return self.machine.lower() in X86_MACHINES

    def tensorrt_usable(self) -> tuple[bool, str]:
        if TRT_EP not in self.ort_providers:
            return False, "this onnxruntime has no TensorRT execution provider (onnxruntime-gpu has)"
        if self.gpu is None:
            return False, "onnxruntime lists TensorRT but no CUDA GPU/driver answers"
        if self.tensorrt_version is None:
            return False, "onnxruntime lists TensorRT but libnvinfer (TensorRT) is not installed"
        return True, f"TensorRT {self.tensorrt_version} on {self.gpu}"

    def cuda_usable(self) -> bool:
        return CUDA_EP in self.ort_providers and self.gpu is not None


def openvino_ir_for(model_path: Path) -> Path:
    """The OpenVINO IR that goes with an ONNX model (the model itself when it is an IR)."""
    if model_path.suffix == ".xml":
        return model_path
    return model_path.with_name(model_path.stem + OPENVINO_IR_SUFFIX + ".xml")


def openvino_ir_complete(xml_path: Path) -> bool:
    """An IR counts only with its weights and its card (the card's sha256 is what makes it shippable)."""
    from edge_rover.perception.detection.model_card import card_path_for

    return xml_path.is_file() and xml_path.with_suffix(".bin").is_file() and card_path_for(xml_path).is_file()


def openvino_importable() -> bool:
    return importlib.util.find_spec("openvino") is not None


def choose_backend(
    requested: str, model_path: Path, platform: Platform, openvino_ir: Path | None
) -> BackendChoice:
    """Resolve ``auto`` from what ``platform`` offers; any other name is returned as asked.

    ``auto``, in order:
    1. TensorRT (ONNX Runtime's TensorRT execution provider) when the provider, a GPU and
       libnvinfer are all there: the Jetson's fast path, running the QDQ model as an explicitly
       quantized INT8 engine (not measured here, no GPU: benchmarks/gpu_check.sh measures it);
    2. ONNX Runtime's CUDA provider on a GPU without TensorRT (FP32 on the GPU; a GPU is not
       left idle for the CPU, though gpu_check.sh is what shows by how much it wins);
    3. OpenVINO on x86 when it is importable and an INT8 IR with its card is beside the model
       (measured fastest on x86: benchmarks/detector.json). A bare ONNX stays off OpenVINO:
       OpenVINO reading our QDQ ONNX matched ORT on the shipped model (sim val mAP50 0.842 vs
       0.843) but lost 9 points on the COCO model at 640 (coco8: 0.751 vs 0.840);
    4. ONNX Runtime on the CPU.
    """
    if requested != "auto":
        return BackendChoice(requested, model_path, f"backend '{requested}' asked for explicitly")
    if model_path.suffix == ".xml":
        if platform.openvino_available:
            return BackendChoice("openvino", model_path, "the model is an OpenVINO IR")
        raise BackendUnavailableError(
            f"{model_path} is an OpenVINO IR but openvino is not installed "
            "(pip install openvino==2026.4.1, or give the ONNX model)"
        )
    trt_ok, trt_why = platform.tensorrt_usable()
    if trt_ok:
        return BackendChoice("tensorrt", model_path, trt_why)
    if platform.cuda_usable():
        return BackendChoice("cuda", model_path, f"CUDA on {platform.gpu} without TensorRT: {trt_why}")
    not_gpu = f"no GPU backend ({trt_why})"
    if not platform.is_x86:
        why = f"OpenVINO is for x86 and this is {platform.machine}"
    elif openvino_ir is None:
        why = f"no OpenVINO INT8 IR (+ .bin + card) beside it ({openvino_ir_for(model_path).name})"
    elif not platform.openvino_available:
        why = f"{openvino_ir.name} exists but openvino is not installed"
    else:
        return BackendChoice(
            "openvino", openvino_ir, f"openvino is installed and {openvino_ir.name} is beside the model "
            f"(measured fastest on x86: benchmarks/detector.json); {not_gpu}",
        )  # fmt: skip
    return BackendChoice("onnxruntime", model_path, f"onnxruntime CPU on {model_path.name}: {why}; {not_gpu}")


class Backend(Protocol):
    name: str
    input_hw: tuple[int, int] | None  # None when the model takes any size (dynamic export)
    # True: run() takes the letterboxed 1×H×W×3 uint8 BGR image and the compiled model converts
    # it; False: the (1, 3, H, W) float32 RGB 0..1 blob (preprocess.letterbox vs letterbox_bgr)
    takes_bgr_uint8: bool

    def run(self, model_input: np.ndarray) -> np.ndarray: ...


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
    takes_bgr_uint8 = False

    def __init__(self, path: Path, threads: int, providers: list | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # ORT's worker threads busy-wait after each run by default; on a small shared CPU they then
        # steal the cores from our own pre/post-processing and from the other nodes (measured here:
        # 26 → 10.5 ms per frame for the shipped model on 2 loaded cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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


class CudaBackend(OnnxRuntimeBackend):
    """ONNX Runtime's CUDA execution provider (onnxruntime-gpu): a GPU without TensorRT."""

    name = "cuda"

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        if CUDA_EP not in ort.get_available_providers():
            raise BackendUnavailableError(
                "backend 'cuda' needs onnxruntime-gpu; this onnxruntime offers only "
                f"{ort.get_available_providers()}. Use backend 'onnxruntime' here."
            )
        super().__init__(path, threads, [CUDA_EP, CPU_EP])
        _require_provider(self._session, CUDA_EP, path)


def _require_provider(session, provider: str, path: Path) -> None:
    """ORT silently falls back to the CPU when a provider fails to initialise: refuse that."""
    active = session.get_providers()
    if not active or active[0] != provider:
        raise BackendUnavailableError(
            f"{provider} did not initialise for {path} (active providers: {active}); check the "
            "CUDA/TensorRT libraries (JetPack) or choose backend 'onnxruntime'"
        )


class TensorRtBackend(OnnxRuntimeBackend):
    """TensorRT through ONNX Runtime's TensorRT execution provider (onnxruntime-gpu on JetPack).

    Why the execution provider and not the ``tensorrt`` Python API: it parses the QDQ model as an
    explicitly quantized network, keeps ONNX Runtime's session API (so the metadata, the input
    checks and the warm-up of the CPU path are the same code), hands any layer TensorRT rejects
    to CUDA instead of failing, caches engines itself, and needs no second CUDA binding (pycuda /
    cuda-python) for device buffers. Its cost, host↔device copies per run through ORT, is what
    benchmarks/gpu_check.sh measures against the CPU; a direct tensorrt-API path is not written.

    The engine lives in ``cache_dir`` under its key (tensorrt_engine.EngineKey): built on the first
    start with a model/TensorRT/GPU/precision combination, loaded afterwards; a stale folder is
    rebuilt. ``engine_state`` says which happened ("built" or "cached").
    """

    name = "tensorrt"

    def __init__(
        self,
        path: Path,
        threads: int,
        cache_dir: Path | None = None,
        precision: str = "auto",
        log: Callable[[str], None] = print,
    ) -> None:
        import onnxruntime as ort

        from edge_rover.perception.detection import tensorrt_engine as trt

        platform = detect_platform()
        usable, why = platform.tensorrt_usable()
        if not usable:
            raise BackendUnavailableError(
                f"backend 'tensorrt' cannot run here: {why}. On a Jetson install onnxruntime-gpu from "
                "NVIDIA's JetPack wheels (docs/jetson.md); elsewhere use backend 'onnxruntime'."
            )
        cache_dir = Path(cache_dir) if cache_dir else trt.default_cache_dir()
        self.key = trt.EngineKey(
            model_sha256=trt.file_sha256(path),
            tensorrt_version=platform.tensorrt_version,
            gpu_name=platform.gpu,
            precision=trt.engine_precision(precision, trt.model_has_qdq(path)),
        )
        lookup = trt.lookup_engine(cache_dir, self.key)
        self.engine_folder = lookup.folder
        self.engine_state = "cached" if lookup.state == trt.CacheState.READY else "built"
        if lookup.state != trt.CacheState.READY:
            minutes, basis = trt.estimated_build_minutes(cache_dir, platform.gpu)
            trt.prepare_build_folder(lookup)
            log(
                f"building TensorRT engine, ~{minutes} min ({basis}): {self.key.precision} for "
                f"{platform.gpu}, TensorRT {platform.tensorrt_version}, into {lookup.folder} "
                f"({lookup.reason})"
            )
        started = time.monotonic()
        providers = [(TRT_EP, trt.trt_provider_options(lookup.folder, self.key.precision)), CUDA_EP]
        super().__init__(path, threads, providers)
        _require_provider(self._session, TRT_EP, path)
        if lookup.state != trt.CacheState.READY:
            # static shapes build at session creation; one run makes sure it is complete
            self.run(np.zeros([1, 3, *(self.input_hw or (640, 640))], np.float32))
            self.build_s = time.monotonic() - started
            trt.write_manifest(
                lookup.folder, self.key, self.build_s,
                {"model_file": path.name, "onnxruntime_version": ort.__version__},
            )  # fmt: skip
            log(f"TensorRT engine built in {self.build_s:.0f} s: {lookup.folder}")
        else:
            self.build_s = 0.0


CPU_PINNING_ENV = "EDGE_ROVER_OV_CPU_PINNING"


def cpu_pinning_from_env() -> bool:
    """EDGE_ROVER_OV_CPU_PINNING: "1" or unset pins OpenVINO's threads to cores, "0" lets the
    scheduler move them."""
    value = os.environ.get(CPU_PINNING_ENV, "1")
    if value not in ("0", "1"):
        raise ValueError(f"{CPU_PINNING_ENV} must be 0 or 1, got {value!r}")
    return value == "1"


class OpenVinoBackend:
    """Intel OpenVINO on the CPU (optional extra: ``pip install openvino``)."""

    name = "openvino"
    takes_bgr_uint8 = True

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
        model = _with_uint8_bgr_input(ov, model)
        # f32, not the CPU plugin's default bf16 on CPUs that have it: bf16 silently rounds the FP32
        # layers, the box decode included (boxes off by up to 21 px at 640 on bus.jpg, measured
        # here); the INT8 layers of a quantized model stay INT8 either way.
        # CPU pinning stays on (the plugin's default) unless EDGE_ROVER_OV_CPU_PINNING=0: unpinned,
        # 2 threads at 10 fps took p50 12.4 ms instead of 9.0 on a quiet machine; with three bursty
        # processes beside it on 2 cores, unpinned cut p99 42.2 → 34.5 ms but p50 rose 15.3 → 16.9
        # (benchmarks/detector_contention.json). A host short of cores may prefer unpinned.
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": os.environ.get("EDGE_ROVER_OV_PRECISION", "f32"),
            "ENABLE_CPU_PINNING": cpu_pinning_from_env(),
        }
        self._compiled = core.compile_model(model, "CPU", config)
        self.cpu_pinning = bool(self._compiled.get_property("ENABLE_CPU_PINNING"))
        self._request = self._compiled.create_infer_request()
        self.metadata = read_onnx_metadata(path) if path.suffix == ".onnx" else _ov_metadata(model)

    def run(self, model_input: np.ndarray) -> np.ndarray:
        self._request.infer({0: model_input})
        return self._request.get_output_tensor(0).data.copy()


def _with_uint8_bgr_input(ov, model):
    """Let the compiled model take the letterboxed uint8 BGR image: BGR→RGB, u8→f32, /255 and
    NHWC→NCHW run inside OpenVINO (fused with the first layer) instead of in numpy per frame.
    Outputs are bit-identical to feeding preprocess.letterbox's blob (checked on the shipped IR)."""
    ppp = ov.preprocess.PrePostProcessor(model)
    tensor = ppp.input().tensor()
    tensor.set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
    tensor.set_color_format(ov.preprocess.ColorFormat.BGR)
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    steps = ppp.input().preprocess()
    steps.convert_element_type(ov.Type.f32).convert_color(ov.preprocess.ColorFormat.RGB).scale(255.0)
    return ppp.build()


def _ov_metadata(model) -> dict[str, str]:
    """ultralytics metadata of an OpenVINO IR read from ONNX (kept under rt_info 'framework')."""
    try:
        framework = model.get_rt_info()["framework"]
        return {str(k): framework[k].astype(str) for k in framework}
    except Exception:  # any IR without it: the class list must then be given explicitly
        return {}


def detect_platform() -> Platform:
    """This machine's facts for ``choose_backend`` (the NVIDIA probes run only where ORT has GPU
    providers, so a CPU-only machine never loads libcuda)."""
    import onnxruntime as ort

    from edge_rover.perception.detection import tensorrt_engine as trt

    providers = tuple(ort.get_available_providers())
    gpu_providers = TRT_EP in providers or CUDA_EP in providers
    return Platform(
        ort_providers=providers,
        openvino_available=openvino_importable(),
        machine=platform_module.machine(),
        gpu=trt.gpu_name() if gpu_providers else None,
        tensorrt_version=trt.tensorrt_version() if TRT_EP in providers else None,
    )


def resolve_backend(requested: str, model_path: Path) -> BackendChoice:
    """``choose_backend`` with the facts of this machine and this model folder."""
    if requested != "auto":
        return choose_backend(requested, model_path, Platform(), None)
    ir = openvino_ir_for(model_path)
    return choose_backend(requested, model_path, detect_platform(), ir if openvino_ir_complete(ir) else None)


def make_backend(
    name: str,
    path: Path,
    threads: int,
    input_hw: tuple[int, int] | None,
    engine_cache_dir: Path | None = None,
    trt_precision: str = "auto",
    log: Callable[[str], None] = print,
) -> Backend:
    if name == "onnxruntime":
        return OnnxRuntimeBackend(path, threads)
    if name == "openvino":
        return OpenVinoBackend(path, threads, input_hw)
    if name == "tensorrt":
        return TensorRtBackend(path, threads, engine_cache_dir, trt_precision, log)
    if name == "cuda":
        return CudaBackend(path, threads)
    raise ValueError(f"unknown backend {name!r}; choose one of {list(BACKENDS)}")
