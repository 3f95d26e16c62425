"""The GPU check's CPU-side plumbing (no GPU here): the agreement gate on real detections, the
JSON it writes, and the shell wrapper's pins. benchmarks/gpu_check.sh runs the same code with
the TensorRT engine as the candidate on an NVIDIA machine."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np

from benchmarks import gpu_check
from edge_rover.perception.detection.agreement import compare_detections
from edge_rover.perception.detection.types import Detections

REPO = Path(__file__).resolve().parents[3]
NAMES = ("person", "car")


def _dets(boxes: list[list[float]], classes: list[int]) -> Detections:
    return Detections(
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.linspace(0.9, 0.5, len(classes)).astype(np.float32),
        np.asarray(classes, np.int32),
        NAMES,
    )


def test_agreement_counts_shifted_missing_extra_and_relabelled_boxes() -> None:
    ref = [_dets([[0, 0, 100, 100], [200, 200, 300, 300]], [0, 1]), _dets([], [])]
    assert compare_detections(ref, ref).fraction == 1.0
    # 2 px on a 100 px box: IoU 0.96, still the same box
    nudged = [_dets([[2, 0, 102, 100], [200, 200, 300, 300]], [0, 1]), _dets([], [])]
    assert compare_detections(ref, nudged).passes()
    # 10 px: IoU 0.82 < 0.9
    shifted = compare_detections(
        ref, [_dets([[10, 0, 110, 100], [200, 200, 300, 300]], [0, 1]), _dets([], [])]
    )
    assert (shifted.matched, shifted.passes()) == (1, False)
    relabelled = compare_detections(
        ref, [_dets([[0, 0, 100, 100], [200, 200, 300, 300]], [1, 1]), _dets([], [])]
    )
    assert (relabelled.matched, relabelled.class_mismatches) == (1, 1) and not relabelled.passes()
    extra = compare_detections(ref, [ref[0], _dets([[5, 5, 50, 50]], [0])])
    assert extra.candidate_boxes == 3 and extra.fraction == 2 / 3 and not extra.passes()
    assert compare_detections([_dets([], [])], [_dets([], [])]).passes()


def test_cpu_against_cpu_on_real_images_agrees_and_writes_the_json(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "gpu_check.json"
    images = shared_data / "images"
    code = gpu_check.main(
        ["--candidate", "onnxruntime", "--images", str(images), "--repeats", "1", "--out", str(out),
         "--cache-dir", str(tmp_path / "engines")]
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert code == 0 and result["agreement"]["passed"]
    agreement = result["agreement"]
    assert agreement["reference_boxes"] > 10 and agreement["fraction"] == 1.0
    params = result["parameters"]
    assert len(params["images"]) == 5 and not any("calib" in p for p in params["images"])
    assert re.fullmatch(r"[0-9a-f]{64}", params["images_sha256"])
    for backend in ("onnxruntime_cpu", "onnxruntime"):
        figures = result["latency"][backend]
        assert (
            figures["inference"]["p50_ms"] > 0 and figures["detect"]["p99_ms"] >= figures["detect"]["p50_ms"]
        )
    assert result["engine"]["build_s"] >= 0 and result["engine"]["state_on_reload"] is None
    assert "| onnxruntime_cpu |" in gpu_check.markdown_table(result)


def test_shell_wrapper_parses_and_its_pins_exist() -> None:
    script = REPO / "benchmarks" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    pins = subprocess.run(
        ["bash", "-c", "grep -E '^(numpy|opencv-python-headless|PyYAML)==' requirements/runtime.txt"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(pins) == 3, pins
    text = script.read_text()
    assert re.search(r"onnxruntime-gpu==\d", text) and re.search(r"tensorrt-cu12==\d", text)
