"""YOLO export: files, label format, data.yaml, contact sheet, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from edge_rover.simulation.__main__ import main
from edge_rover.simulation.classes import CLASS_NAMES
from edge_rover.simulation.dataset import parse_imgsz
from edge_rover.simulation.randomize import LIGHTING_KINDS


def test_render_cli_writes_a_yolo_dataset(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    assert (
        main(["render", "--out", str(out), "--train", "5", "--val", "2", "--imgsz", "320x240", "--seed", "3"])
        == 0
    )
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == dict(enumerate(CLASS_NAMES)) and data["nc"] == 5
    images = sorted((out / "images" / "train").glob("*.jpg"))
    assert len(images) == 5 and len(list((out / "images" / "val").glob("*.jpg"))) == 2
    boxes = 0
    for image in images:
        assert cv2.imread(str(image)).shape == (240, 320, 3)
        for line in (out / "labels" / "train" / f"{image.stem}.txt").read_text().splitlines():
            cls, *coords = line.split()
            assert 0 <= int(cls) < 5
            values = [float(v) for v in coords]
            assert len(values) == 4 and all(0.0 <= v <= 1.0 for v in values)
            boxes += 1
    assert boxes > 0
    assert cv2.imread(str(out / "contact_sheet.png")) is not None
    meta = [json.loads(line) for line in (out / "meta_train.jsonl").read_text().splitlines()]
    assert len(meta) == 5 and all(m["lighting"] in LIGHTING_KINDS for m in meta)
    # Same seed → the same dataset.
    again = tmp_path / "again"
    main(["render", "--out", str(again), "--train", "2", "--val", "0", "--imgsz", "320x240", "--seed", "3"])
    for name in ("000000", "000001"):
        assert (again / "labels" / "train" / f"{name}.txt").read_text() == (
            out / "labels" / "train" / f"{name}.txt"
        ).read_text()


@pytest.mark.parametrize(("text", "size"), [("640x480", (640, 480)), ("320", (320, 320))])
def test_parse_imgsz(text: str, size: tuple[int, int]) -> None:
    assert parse_imgsz(text) == size


@pytest.mark.parametrize("text", ["abc", "10x10", "640x480x3"])
def test_parse_imgsz_rejects_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="imgsz"):
        parse_imgsz(text)


def test_scenario_frames_iterates_the_scenario_at_the_asked_size() -> None:
    from edge_rover.simulation.frames import scenario_frames

    frames = list(scenario_frames("pedestrian_crossing", 3, 320, 240))
    assert len(frames) == 3 and all(f.shape == (240, 320, 3) and f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[2])  # the rover moves
