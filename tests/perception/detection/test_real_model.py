"""The shipped real-world model on real pictures (../shared/data), through the detector core.

References: the FP32 parent's detections (tests/perception/detection/data/real_fp32_reference.json,
written from the FP32 export by ``dev.train_detector --domain real``; the 12.8 MB FP32 file is not
shipped), and, for the named pictures, a live run of the independent FP32 COCO model of
../shared/data (same weights, 640x640 input).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_rover.perception.detection.agreement import agreement_by_class
from edge_rover.perception.detection.detector import Detector, DetectorConfig
from edge_rover.perception.detection.postprocess import box_iou
from edge_rover.perception.detection.types import Detections

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "models" / "edge_rover_yolov8n_coco_int8.onnx"
MODEL_IR = REPO / "models" / "edge_rover_yolov8n_coco_int8_openvino.xml"
CLASS_TABLE = REPO / "config" / "classes.yaml"
REFERENCE = Path(__file__).parent / "data" / "real_fp32_reference.json"
VEHICLES = {"car", "truck", "bus", "large_vehicle"}


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())


def _as_detections(rows: list[dict], class_names: tuple[str, ...]) -> Detections:
    index = {n: i for i, n in enumerate(class_names)}
    return Detections(
        np.array([r["box"] for r in rows], np.float32).reshape(-1, 4),
        np.array([r["score"] for r in rows], np.float32),
        np.array([index[r["class"]] for r in rows], np.int32),
        class_names,
    )


@pytest.fixture(scope="module", params=["onnxruntime", "openvino"])
def real_detector(request: pytest.FixtureRequest) -> Detector:
    if request.param == "openvino":
        pytest.importorskip("openvino")
    path = MODEL if request.param == "onnxruntime" else MODEL_IR
    return Detector(DetectorConfig(model_path=str(path), backend=request.param, threads=2))


def _image(shared_data: Path, name: str) -> np.ndarray:
    image = cv2.imread(str(shared_data / "images" / name))
    assert image is not None
    return image


def _best_iou(box: np.ndarray, reference: list[dict], name: str) -> float:
    boxes = np.array([r["box"] for r in reference if r["class"] == name], np.float64).reshape(-1, 4)
    return float(box_iou(box[None].astype(np.float64), boxes).max()) if len(boxes) else 0.0


def _kind(name: str) -> str:
    """The pickup in dog.jpg is car and truck at once for FP32 (two boxes), car only for INT8: a
    vehicle either way, which is what the rover must see."""
    return "vehicle" if name in VEHICLES else name


def _check_against_fp32(
    detections: Detections, picture: str, iou_min: float = 0.9, min_score: float = 0.5
) -> None:
    """Every confident box (>= ``min_score``) on either side has its twin of the same class (of
    the same kind for vehicles) on the other at IoU >= ``iou_min``: INT8 boxes are FP32 boxes."""
    reference = [
        {**r, "class": _kind(r["class"])}
        for r in _reference()["images"][f"images/{picture}"]
        if r["score"] >= min_score
    ]
    ours = [
        {"class": _kind(n), "box": b.tolist()}
        for n, b, s in zip(detections.names(), detections.boxes, detections.scores, strict=True)
        if s >= min_score
    ]
    for mine in ours:
        iou = _best_iou(np.array(mine["box"]), reference, mine["class"])
        assert iou >= iou_min, f"{picture}: INT8 {mine} not in FP32 (IoU {iou:.2f})"
    for row in reference:
        iou = _best_iou(np.array(row["box"]), ours, row["class"])
        assert iou >= iou_min, f"{picture}: FP32 {row} missed by INT8 (IoU {iou:.2f})"


def test_the_shipped_real_model_is_carded_real_and_matches_its_reference(real_detector: Detector) -> None:
    assert real_detector.card is not None and real_detector.card.domain == "real"
    assert real_detector.input_hw == (480, 640)
    assert len(real_detector.model_classes) == 80
    assert _reference()["fp32_model"].endswith("_fp32.onnx")


def test_bus_gives_the_bus_and_the_people(real_detector: Detector, shared_data: Path) -> None:
    detections = real_detector.detect(_image(shared_data, "bus.jpg")).detections
    names = detections.names()
    assert names.count("bus") == 1 and names.count("person") >= 3, names
    _check_against_fp32(detections, "bus.jpg")


def test_zidane_gives_the_two_people(real_detector: Detector, shared_data: Path) -> None:
    detections = real_detector.detect(_image(shared_data, "zidane.jpg")).detections
    confident = [n for n, s in zip(detections.names(), detections.scores, strict=True) if s >= 0.5]
    assert confident.count("person") == 2, list(
        zip(detections.names(), detections.scores.round(2), strict=True)
    )
    # (INT8 also reports a sliver of a person in the bottom-left corner at 0.26 that FP32 scores
    # below 0.20: the one extra box of this picture; it does not count here)
    _check_against_fp32(detections, "zidane.jpg")


def test_dog_gives_the_dog_the_bicycle_and_the_vehicle(real_detector: Detector, shared_data: Path) -> None:
    detections = real_detector.detect(_image(shared_data, "dog.jpg")).detections
    names = set(detections.names())
    assert {"dog", "bicycle"} <= names and names & VEHICLES, names
    _check_against_fp32(detections, "dog.jpg")


def test_named_pictures_agree_with_the_independent_fp32_model(
    real_detector: Detector, shared_data: Path
) -> None:
    """Same weights, another FP32 file and input size (640x640): the named objects at IoU >= 0.9."""
    fp32 = Detector(DetectorConfig(model_path=str(shared_data / "models" / "yolov8n_fp32_dequantized.onnx")))
    for picture, wanted in (
        ("bus.jpg", {"bus", "person"}),
        ("zidane.jpg", {"person"}),
        ("dog.jpg", {"dog", "bicycle"}),
    ):
        image = _image(shared_data, picture)
        ours, theirs = real_detector.detect(image).detections, fp32.detect(image).detections
        for name in wanted:
            mine = ours.boxes[[n == name for n in ours.names()]].astype(np.float64)
            ref = theirs.boxes[[n == name for n in theirs.names()]].astype(np.float64)
            strong = theirs.scores[[n == name for n in theirs.names()]] >= 0.5  # the clear objects
            assert len(mine) and strong.any(), f"{picture}: no {name}"
            best = box_iou(ref[strong], mine).max(axis=1)
            assert (best >= 0.9).all(), f"{picture}: {name} IoU {best.round(3)} with the FP32 model"


def test_int8_finds_95_percent_of_the_fp32_boxes_on_every_real_picture(
    real_detector: Detector, shared_data: Path
) -> None:
    """Boxes scoring >= 0.25 on one side, found on the other at >= 0.20 (quantize's default score
    margin: jitter at the threshold is not a miss), same class, IoU >= 0.5, one to one."""
    reference = _reference()["images"]
    assert len(reference) == 26
    names = tuple(real_detector.model_classes)
    config = real_detector.config
    low = Detector(
        DetectorConfig(model_path=str(real_detector.model_path), backend=config.backend, conf_threshold=0.2)
    )
    ours, theirs = [], []
    for relative, rows in sorted(reference.items()):
        image = cv2.imread(str(shared_data / relative))
        assert image is not None, relative
        ours.append(low.detect(image).detections)
        theirs.append(_as_detections(rows, names))
    total, per_class = agreement_by_class(theirs, ours, iou_min=0.5, conf=0.25, margin=0.05)
    assert total.reference_boxes >= 50
    assert total.recall >= 0.95, f"INT8 finds {total.matched} of {total.reference_boxes} FP32 boxes"
    assert total.precision >= 0.9, f"{total.candidate_boxes} INT8 boxes: precision {total.precision:.1%}"
    assert per_class["person"].recall >= 0.9
    strict, _ = agreement_by_class(theirs, ours, iou_min=0.5, conf=0.25)
    assert strict.recall >= 0.9  # without the margin (reported on the card)


def test_through_the_class_table_the_rover_gets_profiles_only(shared_data: Path) -> None:
    detector = Detector(
        DetectorConfig(model_path=str(MODEL), backend="onnxruntime", class_table=str(CLASS_TABLE))
    )
    assert "tie" in detector.dropped_classes and "bus" not in detector.dropped_classes
    bus = detector.detect(_image(shared_data, "bus.jpg")).detections.names()
    assert bus.count("large_vehicle") == 1 and bus.count("person") >= 3, bus
    zidane = detector.detect(_image(shared_data, "zidane.jpg")).detections
    assert set(zidane.names()) == {"person"}, zidane.names()  # the tie is dropped by name
    assert int((zidane.scores >= 0.5).sum()) == 2
    dog = set(detector.detect(_image(shared_data, "dog.jpg")).detections.names())
    assert {"animal", "bicycle"} <= dog and dog & VEHICLES, dog
