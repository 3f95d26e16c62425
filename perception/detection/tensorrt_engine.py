"""TensorRT engines for the detector: the cache key, the cache folder, the build options, and
the probes that say whether TensorRT can run here.

A TensorRT engine is specific to the model, the TensorRT version and the GPU it was built on
(engines do not move between devices), and to the precision it was built for. Each engine
therefore lives in its own folder of a writable cache directory (never beside the model: a
package's share directory is often read-only), named after that key, with a manifest written
only once the build has finished and run. A folder whose manifest is missing (a build that was
interrupted), unreadable or for another key is *stale*: it is deleted and rebuilt, never loaded.

The key, the lookup and the options are pure (tests run them here); ``tensorrt_version`` and
``gpu_name`` probe the NVIDIA libraries through ctypes and return None where there are none.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

MANIFEST = "engine.json"
PRECISIONS = ("auto", "int8", "fp16")
# First-build estimate when no engine was built on this GPU before: a guess for a Jetson Orin
# (YOLOv8n-sized INT8 engines take minutes there, seconds on a desktop GPU);
# benchmarks/gpu_check.sh measures the real figure. Later estimates use the last build here.
DEFAULT_BUILD_MINUTES = 5


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/edge_rover/engines`` (``~/.cache/edge_rover/engines`` when unset)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "edge_rover" / "engines"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_has_qdq(path: Path) -> bool:
    """True when the ONNX model carries QuantizeLinear/DequantizeLinear nodes (explicit INT8).

    Read from the protobuf bytes (op types are stored as plain strings) because the onnx package
    is not a run-time dependency.
    """
    data = path.read_bytes()
    return b"QuantizeLinear" in data and b"DequantizeLinear" in data


def engine_precision(requested: str, has_qdq: bool) -> str:
    """``int8``: the model's own Q/DQ scales (explicit quantization; FP16 where it has none);
    ``fp16``: everything FP16. ``auto`` = int8 for a QDQ model, else fp16.

    INT8 for a model without Q/DQ nodes is refused: it would need TensorRT's implicit calibration,
    which we do not run (the accuracy gate covers the QDQ model's scales only).
    """
    if requested not in PRECISIONS:
        raise ValueError(f"TensorRT precision {requested!r} is not one of {list(PRECISIONS)}")
    if requested == "auto":
        return "int8" if has_qdq else "fp16"
    if requested == "int8" and not has_qdq:
        raise ValueError(
            "TensorRT precision 'int8' needs a QDQ model (its own scales); this model has no "
            "Q/DQ nodes: use 'fp16' or the INT8 model from edge_rover.perception.detection.quantize"
        )
    return requested


@dataclass(frozen=True)
class EngineKey:
    """What an engine is valid for. Any difference means another engine."""

    model_sha256: str
    tensorrt_version: str
    gpu_name: str
    precision: str

    def folder_name(self) -> str:
        gpu = re.sub(r"[^A-Za-z0-9.]+", "-", self.gpu_name).strip("-").lower() or "gpu"
        version = re.sub(r"[^A-Za-z0-9.]+", "-", self.tensorrt_version)
        return f"{self.model_sha256[:16]}-trt{version}-{gpu}-{self.precision}"


class CacheState(Enum):
    READY = "ready"  # a finished engine for exactly this key
    MISSING = "missing"  # nothing built yet
    STALE = "stale"  # a folder for this key that must not be loaded (see reason)


@dataclass(frozen=True)
class CacheLookup:
    state: CacheState
    folder: Path
    reason: str


def lookup_engine(cache_dir: Path, key: EngineKey) -> CacheLookup:
    """Where the engine for ``key`` lives and whether it can be loaded as it is."""
    folder = cache_dir / key.folder_name()
    if not folder.is_dir():
        return CacheLookup(CacheState.MISSING, folder, f"no engine built yet in {cache_dir}")
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return CacheLookup(CacheState.STALE, folder, "no manifest: a build that did not finish")
    try:
        recorded = json.loads(manifest.read_text())["key"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return CacheLookup(CacheState.STALE, folder, f"unreadable manifest ({err})")
    if recorded != asdict(key):
        return CacheLookup(CacheState.STALE, folder, f"manifest is for another key: {recorded}")
    if not any(folder.glob("*.engine")):
        return CacheLookup(CacheState.STALE, folder, "manifest without an engine file")
    return CacheLookup(CacheState.READY, folder, f"engine cached in {folder}")


def prepare_build_folder(lookup: CacheLookup) -> Path:
    """An empty folder to build into (a stale one is deleted first); a clear error if unwritable."""
    try:
        if lookup.state == CacheState.STALE:
            shutil.rmtree(lookup.folder)
        lookup.folder.mkdir(parents=True, exist_ok=True)
        probe = lookup.folder / ".write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OSError(
            f"TensorRT engine cache {lookup.folder} is not writable ({err}): set the detector's "
            "engine_cache_dir parameter (or XDG_CACHE_HOME) to a writable folder"
        ) from err
    return lookup.folder


def write_manifest(folder: Path, key: EngineKey, build_s: float, extra: Mapping[str, str]) -> None:
    """Marks the build finished; written last, so an interrupted build stays stale."""
    body = {"key": asdict(key), "build_s": round(build_s, 1), **extra}
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    tmp.replace(folder / MANIFEST)


def estimated_build_minutes(cache_dir: Path, gpu_name: str) -> tuple[int, str]:
    """(minutes, basis) for the "building TensorRT engine, ~N min" line."""
    seconds = []
    for manifest in cache_dir.glob(f"*/{MANIFEST}"):
        try:
            body = json.loads(manifest.read_text())
            if body["key"]["gpu_name"] == gpu_name:
                seconds.append(float(body["build_s"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if seconds:
        longest = max(seconds)
        return max(1, round(longest / 60)), f"the longest earlier build on this GPU: {longest:.0f} s"
    return DEFAULT_BUILD_MINUTES, "a first-build guess for a Jetson Orin"


def trt_provider_options(folder: Path, precision: str) -> dict[str, object]:
    """ONNX Runtime TensorRT execution provider options for a build/load in ``folder``.

    INT8 on a QDQ model is TensorRT's explicit quantization (the Q/DQ scales, no calibration
    table); FP16 stays enabled so the layers the model keeps in float run in FP16.
    """
    return {
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(folder),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(folder),
        "trt_fp16_enable": True,
        "trt_int8_enable": precision == "int8",
    }


# -- probes (ctypes: no Python package needed; None where the library or a GPU is absent) ------
def _load_first(names: tuple[str, ...]) -> tuple[ctypes.CDLL, str] | None:
    for name in names:
        try:
            return ctypes.CDLL(name), name
        except OSError:
            continue
    return None


def tensorrt_version() -> str | None:
    """TensorRT's version ("10.3.0"), from the tensorrt module or libnvinfer; None if absent."""
    try:
        import tensorrt  # JetPack: python3-libnvinfer; x86: the tensorrt wheel

        return str(tensorrt.__version__)
    except ImportError:
        pass
    found = _load_first(("libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"))
    if found is None:
        return None
    library, name = found
    try:
        encoded = int(library.getInferLibVersion())
    except AttributeError:
        return None
    # NV_TENSORRT_VERSION: major*10000 + minor*100 + patch since TensorRT 10, *1000 before
    scale = 1000 if name.endswith(".8") else 10000
    major, rest = divmod(encoded, scale)
    minor, patch = divmod(rest, 100)
    return f"{major}.{minor}.{patch}"


def gpu_name() -> str | None:
    """The first CUDA device's name and compute capability ("Orin sm87"); None without one."""
    found = _load_first(("libcuda.so.1", "libcuda.so"))
    if found is None:
        return None
    cuda = found[0]
    device, count = ctypes.c_int(), ctypes.c_int()
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value < 1:
        return None
    if cuda.cuDeviceGet(ctypes.byref(device), 0) != 0:
        return None
    name = ctypes.create_string_buffer(256)
    major, minor = ctypes.c_int(), ctypes.c_int()
    if cuda.cuDeviceGetName(name, 256, device) != 0:
        return None
    # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR
    cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, device)
    cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, device)
    return f"{name.value.decode(errors='replace').strip()} sm{major.value}{minor.value}"
