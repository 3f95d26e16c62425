"""The perturbed-view INT8 check's own logic: the views it cuts from real pictures and the pooled
vehicle count (benchmarks/int8_robustness.py; its figures are in docs/models.md)."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks import int8_robustness as robustness
from edge_rover.perception.detection.types import Detections

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
NAMES = ("person", "car", "large_vehicle")


def _detections(rows: list[tuple[str, float, tuple[float, float, float, float]]]) -> Detections:
    return Detections(
        np.array([r[2] for r in rows], np.float32).reshape(-1, 4),
        np.array([r[1] for r in rows], np.float32),
        np.array([NAMES.index(r[0]) for r in rows], np.int32),
        NAMES,
    )


@pytest.mark.skipif(not (SHARED / "images" / "bus.jpg").is_file(), reason="needs ../shared/data")
def test_views_are_camera_frames_of_the_picture_and_repeat_with_the_seed() -> None:
    bus = cv2.imread(str(SHARED / "images" / "bus.jpg"))
    first = list(robustness.views(bus, 6, random.Random(7)))
    again = list(robustness.views(bus, 6, random.Random(7)))
    assert [f.shape for f in first] == [(480, 640, 3)] * 6
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert len({f.tobytes() for f in first}) == 6  # six different views, not one copied
    assert first[1].mean() < first[0].mean() * 0.9 or first[1].mean() < 100  # view 1 is the dusk one


def test_a_car_truck_flip_is_missed_per_class_but_found_pooled() -> None:
    fp32 = [_detections([("person", 0.8, (0, 0, 50, 100)), ("large_vehicle", 0.6, (100, 0, 300, 120))])]
    int8 = [_detections([("person", 0.79, (1, 0, 50, 101)), ("car", 0.62, (101, 1, 300, 120))])]
    figures = robustness.figures(fp32, int8)["strict"]
    assert figures["people_and_vehicles"] == {"fp32_boxes": 2, "found": 1, "recall": 0.5}
    assert figures["people_and_vehicles_pooled"] == {"fp32_boxes": 2, "found": 2, "recall": 1.0}


def test_one_vehicle_fp32_names_twice_is_one_vehicle_pooled() -> None:
    # dog.jpg's pickup: FP32 gives car 0.58 and truck 0.51 on the same box, INT8 car 0.82 only
    fp32 = [_detections([("car", 0.58, (48, 10, 268, 107)), ("large_vehicle", 0.51, (47, 11, 269, 107))])]
    int8 = [_detections([("car", 0.82, (45, 10, 268, 106))])]
    figures = robustness.figures(fp32, int8)["strict"]
    assert figures["per_class"]["large_vehicle"] == {"fp32_boxes": 1, "found": 0, "recall": 0.0}
    assert figures["people_and_vehicles_pooled"] == {"fp32_boxes": 1, "found": 1, "recall": 1.0}


def test_pooling_keeps_two_vehicles_side_by_side() -> None:
    two = _detections([("car", 0.7, (0, 0, 100, 60)), ("large_vehicle", 0.6, (110, 0, 300, 120))])
    merged = robustness.pooled(two)
    assert merged.names() == ["car", "car"] and len(robustness.pooled(_detections([]))) == 0
    one_missed = robustness.figures([two], [_detections([("car", 0.7, (0, 0, 100, 60))])])["strict"]
    assert one_missed["people_and_vehicles_pooled"] == {"fp32_boxes": 2, "found": 1, "recall": 0.5}


def test_a_box_below_the_threshold_counts_only_with_the_margin() -> None:
    fp32 = [_detections([("person", 0.27, (0, 0, 50, 100))])]
    int8 = [_detections([("person", 0.23, (0, 0, 50, 100))])]
    figures = robustness.figures(fp32, int8)
    assert figures["margin"]["people_and_vehicles"]["found"] == 1
    assert figures["strict"]["people_and_vehicles"]["found"] == 0


def test_the_floor_frames_change_the_view_only_a_little() -> None:
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    moved = robustness.shifted_1px(frame)
    assert moved.shape == frame.shape
    assert np.array_equal(moved[:, 1:], frame[:, :-1])  # every pixel one column to the right
    assert np.array_equal(moved[:, 0], frame[:, 0])  # the new edge column copies its neighbour
    smooth = cv2.GaussianBlur(frame, (0, 0), 3.0)  # JPEG 95 of a camera-like image: nearly lossless
    recoded = robustness.jpeg95(smooth)
    assert recoded.shape == smooth.shape and not np.array_equal(recoded, smooth)
    assert np.abs(recoded.astype(int) - smooth).mean() < 2.0
