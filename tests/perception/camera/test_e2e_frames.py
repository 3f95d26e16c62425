"""The end-to-end benchmark's real frames: every picture cropped to the camera's aspect ratio, not
squashed, and the latency percentiles it reports (benchmarks/e2e_latency.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks import e2e_latency


def test_real_frames_are_centre_crops_at_the_camera_size(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "coco8" / "images" / "val").mkdir(parents=True)
    wide = np.zeros((100, 400, 3), np.uint8)
    wide[:, 120:280] = 255  # a white centre band wider than the 4:3 centre crop (columns 133-266)
    cv2.imwrite(str(data / "images" / "wide.jpg"), wide)
    tall = np.full((400, 100, 3), 80, np.uint8)
    cv2.imwrite(str(data / "coco8" / "images" / "val" / "tall.jpg"), tall)
    folder = e2e_latency.make_real_frames(tmp_path / "frames", 640, 480, data)
    frames = [cv2.imread(str(p)) for p in sorted(folder.glob("*.png"))]
    assert [f.shape for f in frames] == [(480, 640, 3), (480, 640, 3)]
    assert frames[0].min() > 200  # only the band is in the frame: cropped, not squashed
    assert abs(float(frames[1].mean()) - 80) < 3


def test_real_frames_without_pictures_say_where_they_looked(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no pictures under"):
        e2e_latency.make_real_frames(tmp_path / "frames", 640, 480, tmp_path)


def test_percentiles_in_ms() -> None:
    values = e2e_latency._percentiles([0.010] * 98 + [0.050, 0.090])
    assert values["p50"] == 10.0 and 49.0 < values["p99"] < 90.0
    assert e2e_latency._percentiles([]) == {"p50": None, "p99": None}


def test_set_reads_node_parameters_as_yaml_and_refuses_unknown_nodes() -> None:
    parsed = [e2e_latency.parse_setting(t) for t in ("controller.rate_hz=30.0", "camera.loop=false")]
    assert e2e_latency.settings_by_node(parsed) == {
        "controller": {"rate_hz": 30.0},
        "camera": {"loop": False},
    }
    for bad in ("rate_hz=30", "controller.rate_hz", "planner.rate_hz=3"):
        with pytest.raises(argparse.ArgumentTypeError):
            e2e_latency.parse_setting(bad)


def test_sched_runs_a_node_under_chrt_and_refuses_what_chrt_would_not_take() -> None:
    assert e2e_latency.parse_sched("detector=fifo:10") == ("detector", ["chrt", "-f", "10"])
    assert e2e_latency.parse_sched("camera=rr:99") == ("camera", ["chrt", "-r", "99"])
    for bad in ("detector=fifo", "detector=idle:1", "planner=fifo:10", "detector=fifo:0", "detector=fifo:x"):
        with pytest.raises(argparse.ArgumentTypeError):
            e2e_latency.parse_sched(bad)


def test_a_run_with_a_dead_node_or_no_command_is_a_failure_not_a_figure() -> None:
    run = {"mode": "separate", "fps": 30.0, "logs": "/tmp/logs", "frames_commanded": 598}
    assert e2e_latency.run_failure(run) is None
    assert "controller (exit 1) stopped early" in e2e_latency.run_failure(
        {**run, "errors": {"controller": 1}}
    )
    assert "no frame reached /cmd_vel" in e2e_latency.run_failure({**run, "frames_commanded": 0})
