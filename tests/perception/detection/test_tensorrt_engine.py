"""TensorRT engine cache: key, lookup (ready / missing / stale), build folder, options, precision.

All pure: no GPU here. The build itself runs in benchmarks/gpu_check.sh on an NVIDIA machine.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from edge_rover.perception.detection.tensorrt_engine import (
    DEFAULT_BUILD_MINUTES,
    MANIFEST,
    CacheState,
    EngineKey,
    default_cache_dir,
    engine_precision,
    estimated_build_minutes,
    file_sha256,
    lookup_engine,
    model_has_qdq,
    prepare_build_folder,
    trt_provider_options,
    write_manifest,
)

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "models" / "edge_rover_yolov8n_int8.onnx"
KEY = EngineKey("ab" * 32, "10.3.0", "Orin sm87", "int8")


def _built(cache: Path, key: EngineKey, build_s: float = 200.0) -> Path:
    """What a finished build leaves: the ORT engine file and, last, our manifest."""
    folder = prepare_build_folder(lookup_engine(cache, key))
    (folder / "TensorrtExecutionProvider_TRTKernel_graph_main_1_sm87.engine").write_bytes(b"plan")
    write_manifest(folder, key, build_s, {"model_file": "m.onnx"})
    return folder


def test_default_cache_dir_follows_xdg() -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": "/var/cache/rover"}) == Path(
        "/var/cache/rover/edge_rover/engines"
    )
    assert default_cache_dir({"HOME": "/home/r"}) == Path("/home/r/.cache/edge_rover/engines")


def test_every_key_field_gives_another_folder() -> None:
    names = {KEY.folder_name()}
    for change in (
        {"model_sha256": "cd" * 32},
        {"tensorrt_version": "10.4.0"},
        {"gpu_name": "NVIDIA H100 80GB HBM3 sm90"},
        {"precision": "fp16"},
    ):
        names.add(replace(KEY, **change).folder_name())
    assert len(names) == 5
    assert KEY.folder_name() == "abababababababab-trt10.3.0-orin-sm87-int8"
    assert "/" not in replace(KEY, gpu_name="a/b GPU").folder_name()


def test_lookup_ready_only_for_a_finished_build_of_the_same_key(tmp_path: Path) -> None:
    assert lookup_engine(tmp_path, KEY).state == CacheState.MISSING
    folder = _built(tmp_path, KEY)
    ready = lookup_engine(tmp_path, KEY)
    assert (ready.state, ready.folder) == (CacheState.READY, folder)
    # another GPU, TensorRT or model: its own folder, nothing built there yet
    assert lookup_engine(tmp_path, replace(KEY, gpu_name="Xavier sm72")).state == CacheState.MISSING


def test_interrupted_build_is_stale_and_is_wiped(tmp_path: Path) -> None:
    folder = tmp_path / KEY.folder_name()
    folder.mkdir()
    (folder / "half.engine").write_bytes(b"partial")  # killed before the manifest was written
    lookup = lookup_engine(tmp_path, KEY)
    assert lookup.state == CacheState.STALE and "did not finish" in lookup.reason
    prepare_build_folder(lookup)
    assert folder.is_dir() and not any(folder.iterdir())


def test_foreign_or_damaged_manifest_is_stale(tmp_path: Path) -> None:
    folder = _built(tmp_path, KEY)
    manifest = folder / MANIFEST
    body = json.loads(manifest.read_text())
    body["key"]["gpu_name"] = "Xavier sm72"  # an engine copied from another device
    manifest.write_text(json.dumps(body))
    lookup = lookup_engine(tmp_path, KEY)
    assert lookup.state == CacheState.STALE and "another key" in lookup.reason
    manifest.write_text("{not json")
    assert lookup_engine(tmp_path, KEY).state == CacheState.STALE
    manifest.write_text(json.dumps({"key": asdict(KEY)}))
    for engine in folder.glob("*.engine"):
        engine.unlink()
    lookup = lookup_engine(tmp_path, KEY)
    assert lookup.state == CacheState.STALE and "without an engine" in lookup.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(OSError, match="engine_cache_dir"):
            prepare_build_folder(lookup_engine(tmp_path / "engines", KEY))
    finally:
        tmp_path.chmod(0o700)


def test_unwritable_cache_as_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "engines"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(OSError, match="engine_cache_dir"):
        prepare_build_folder(lookup_engine(blocker, KEY))


def test_build_estimate_uses_earlier_builds_on_this_gpu(tmp_path: Path) -> None:
    assert estimated_build_minutes(tmp_path, KEY.gpu_name)[0] == DEFAULT_BUILD_MINUTES
    _built(tmp_path, KEY, build_s=420.0)
    _built(tmp_path, replace(KEY, gpu_name="Xavier sm72"), build_s=1800.0)
    minutes, basis = estimated_build_minutes(tmp_path, KEY.gpu_name)
    assert minutes == 7 and "420 s" in basis


def test_precision_int8_only_from_qdq_scales() -> None:
    assert engine_precision("auto", has_qdq=True) == "int8"
    assert engine_precision("auto", has_qdq=False) == "fp16"
    assert engine_precision("fp16", has_qdq=True) == "fp16"
    with pytest.raises(ValueError, match="needs a QDQ model"):
        engine_precision("int8", has_qdq=False)
    with pytest.raises(ValueError, match="not one of"):
        engine_precision("fp8", has_qdq=True)


def test_shipped_model_is_qdq_and_a_float_model_is_not(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    assert model_has_qdq(SHIPPED)
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 32, 32])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, 32, 32])],
    )
    plain = tmp_path / "plain.onnx"
    onnx.save(onnx.helper.make_model(graph), str(plain))
    assert not model_has_qdq(plain)


def test_provider_options_point_at_the_key_folder(tmp_path: Path) -> None:
    int8 = trt_provider_options(tmp_path, "int8")
    assert int8["trt_engine_cache_path"] == str(tmp_path) and int8["trt_engine_cache_enable"] is True
    assert int8["trt_int8_enable"] is True and int8["trt_fp16_enable"] is True
    assert trt_provider_options(tmp_path, "fp16")["trt_int8_enable"] is False


def test_sha256_matches_the_model_card() -> None:
    card = (REPO / "models" / "edge_rover_yolov8n_int8.card.yaml").read_text()
    assert f"sha256: {file_sha256(SHIPPED)}" in card


def test_build_engine_cli_without_tensorrt_is_one_clear_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "tools.build_engine", "--model", str(SHIPPED), "--cache-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if result.returncode == 0:
        pytest.skip("TensorRT is usable here: the CLI built an engine")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("build_engine: backend 'tensorrt' cannot run here")
    assert not any(tmp_path.iterdir()), "nothing half-built is left in the cache"
