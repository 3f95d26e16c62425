"""Our numpy mAP and the quantization accuracy gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_rover.perception.detection.evaluation import (
    FrameResult,
    average_precision,
    load_yolo_labels,
    mean_average_precision,
)
from edge_rover.perception.detection.quantize import accuracy_gate


def _frame(pred, scores, pred_cls, gt, gt_cls) -> FrameResult:
    return FrameResult(
        np.array(pred, float).reshape(-1, 4),
        np.array(scores, float),
        np.array(pred_cls, int),
        np.array(gt, float).reshape(-1, 4),
        np.array(gt_cls, int),
    )


GT = [[0, 0, 10, 10], [20, 20, 40, 40]]


def test_perfect_predictions_score_one() -> None:
    result = mean_average_precision([_frame(GT, [0.9, 0.8], [0, 1], GT, [0, 1])])
    assert result.map50 == pytest.approx(1.0) and result.map50_95 == pytest.approx(1.0)


def test_wrong_class_and_misses_score_zero() -> None:
    result = mean_average_precision([_frame(GT, [0.9, 0.8], [1, 0], GT, [0, 1])])
    assert result.map50 == 0.0


def test_half_recall_and_a_confident_false_positive() -> None:
    # class 0 has two GT; one found (score 0.5), and a false positive at higher score 0.9
    frame = _frame([[100, 100, 110, 110], [0, 0, 10, 10]], [0.9, 0.5], [0, 0], GT, [0, 0])
    result = mean_average_precision([frame])
    # PR points: (r=0, p=0), (r=0.5, p=0.5) → envelope 0.5 up to recall 0.5, 0 after: AP ≈ 0.25
    assert result.map50 == pytest.approx(0.5 * 51 / 101, abs=0.01)


def test_localisation_quality_only_changes_map50_95() -> None:
    shifted = [[0, 0, 10, 12], [20, 20, 40, 43]]  # IoU ≈ 0.83 / 0.87
    result = mean_average_precision([_frame(shifted, [0.9, 0.8], [0, 1], GT, [0, 1])])
    assert result.map50 == pytest.approx(1.0)
    assert 0.5 < result.map50_95 < 0.9


def test_duplicate_detection_counts_once() -> None:
    result = mean_average_precision([_frame([GT[0], GT[0]], [0.9, 0.8], [0, 0], [GT[0]], [0])])
    assert result.map50 == pytest.approx(1.0)  # the duplicate comes after full recall
    result = mean_average_precision([_frame([GT[0], GT[0]], [0.8, 0.9], [0, 0], GT, [0, 0])])
    assert result.map50 < 0.6  # second GT never found


def test_average_precision_of_a_step_curve() -> None:
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 0.5])) == pytest.approx(0.75, abs=0.01)


def test_yolo_labels_to_pixels(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("3 0.5 0.5 0.25 0.5\n")
    boxes, classes = load_yolo_labels(tmp_path / "images" / "a.jpg", width=640, height=480)
    assert classes.tolist() == [3]
    assert boxes[0].tolist() == pytest.approx([240, 120, 400, 360])
    boxes, classes = load_yolo_labels(tmp_path / "images" / "missing.jpg", 640, 480)
    assert boxes.shape == (0, 4)


def test_accuracy_gate_refuses_and_says_by_how_much() -> None:
    from edge_rover.perception.detection.evaluation import MapResult

    fp32 = MapResult(0.93, 0.70, {}, 10, 50)
    ok, verdict = accuracy_gate(fp32, MapResult(0.925, 0.69, {}, 10, 50), 1.0)
    assert ok and "-0.50 points" in verdict
    ok, verdict = accuracy_gate(fp32, MapResult(0.90, 0.66, {}, 10, 50), 1.0)
    assert not ok and "-3.00 points" in verdict


def test_decode_nodes_are_the_head_tail_only(shared_data: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from edge_rover.perception.detection.quantize import decode_node_names

    model = onnx.load(str(shared_data / "models" / "yolov8n_fp32_dequantized.onnx"))
    names = decode_node_names(model)
    ops = {n.name: n.op_type for n in model.graph.node}
    kinds = [ops[n] for n in names]
    assert "Softmax" in kinds and "Sigmoid" in kinds and kinds.count("Conv") == 1  # the DFL conv
    assert len(names) < 40


def test_map_by_box_size_scores_each_size_alone_and_ignores_the_others() -> None:
    from edge_rover.perception.detection.evaluation import map_by_box_size, restrict_to_size

    small, large = [0, 0, 6, 10], [50, 50, 90, 100]  # smaller sides 6 and 40 px
    # the small object is missed (a false positive elsewhere), the large one is found
    frame = _frame([large, [200, 200, 206, 210]], [0.9, 0.8], [0, 0], [small, large], [0, 0])
    by_size = map_by_box_size([frame])
    assert list(by_size) == ["<8", "8-16", "16-32", ">=32"]
    assert by_size["<8"].map50 == 0.0 and by_size["<8"].num_gt == 1
    assert by_size[">=32"].map50 == pytest.approx(1.0)  # the false positive scores below the hit
    assert by_size["8-16"].num_gt == 0 and by_size["8-16"].map50 == 0.0
    # a detection of the small box is ignored (not a false positive) when scoring large boxes
    found_both = _frame([small, large], [0.95, 0.9], [0, 0], [small, large], [0, 0])
    large_only = restrict_to_size(found_both, 32, float("inf"))
    assert len(large_only.pred_scores) == 1 and large_only.gt_boxes.tolist() == [large]
    assert mean_average_precision([large_only]).map50 == pytest.approx(1.0)
