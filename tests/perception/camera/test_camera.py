"""Camera sources against real pixels (video file written by OpenCV, image folders) and the
reconnect path with a source that disappears and comes back."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_rover.perception.camera.capture import (
    CameraError,
    CameraState,
    ReconnectingCamera,
    SourceKind,
    fit_to_size,
    open_source,
    parse_source,
)


def _pattern(index: int, size=(160, 120)) -> np.ndarray:
    """A frame whose content encodes its index (bright square moving right)."""
    frame = np.full((size[1], size[0], 3), 40, np.uint8)
    x = 10 + 12 * index
    cv2.rectangle(frame, (x, 40), (x + 20, 80), (0, 200, 255), -1)
    return frame


def _square_x(frame: np.ndarray) -> float:
    mask = frame[:, :, 2] > 150
    return float(np.nonzero(mask)[1].mean())


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    assert writer.isOpened()
    for i in range(8):
        writer.write(_pattern(i))
    writer.release()
    return path


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(5):
        cv2.imwrite(str(folder / f"{i:03d}.png"), _pattern(i))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_parse_source_classifies_every_kind(video_file: Path, image_folder: Path) -> None:
    assert parse_source("0").kind == SourceKind.DEVICE
    assert parse_source("/dev/video2").kind == SourceKind.DEVICE
    assert parse_source("nvarguscamerasrc ! nvvidconv ! appsink").kind == SourceKind.GSTREAMER
    assert parse_source(str(video_file)).kind == SourceKind.VIDEO_FILE
    assert parse_source(str(image_folder)).kind == SourceKind.IMAGE_FOLDER
    with pytest.raises(CameraError, match="unknown camera source"):
        parse_source("http://example.invalid/stream")
    with pytest.raises(CameraError, match="not found"):
        parse_source("/nonexistent/clip.mp4")
    with pytest.raises(CameraError, match="empty"):
        parse_source("  ")


def test_video_file_frames_are_the_written_pixels_in_order(video_file: Path) -> None:
    source = open_source(parse_source(str(video_file)))
    xs = []
    while (frame := source.read()) is not None:
        assert frame.shape == (120, 160, 3)
        xs.append(_square_x(frame))
    source.close()
    assert len(xs) == 8
    np.testing.assert_allclose(np.diff(xs), 12.0, atol=1.0)  # moved 12 px per frame, MJPG-lossy


def test_image_folder_plays_in_name_order_and_loops(image_folder: Path) -> None:
    source = open_source(parse_source(str(image_folder)), loop=True)
    xs = [_square_x(source.read()) for _ in range(7)]
    np.testing.assert_allclose(xs[:5], [20 + 12 * i - 0.5 for i in range(5)], atol=0.6)
    assert xs[5] == xs[0] and xs[6] == xs[1]


def test_looping_folder_decodes_each_file_once_and_serves_it_read_only(image_folder: Path) -> None:
    import unittest.mock

    source = open_source(parse_source(str(image_folder)), loop=True)
    first_lap = [source.read() for _ in range(5)]
    with unittest.mock.patch("cv2.imread", side_effect=AssertionError("decoded again")):
        second_lap = [source.read() for _ in range(5)]
    assert all(a is b for a, b in zip(first_lap, second_lap, strict=True))
    assert not second_lap[0].flags.writeable
    assert source.unreadable == 0


def test_looping_folder_decodes_a_rewritten_file_again_and_skips_a_deleted_one(image_folder: Path) -> None:
    source = open_source(parse_source(str(image_folder)), loop=True)
    first_lap = [source.read() for _ in range(5)]
    rewritten = image_folder / "001.png"
    cv2.imwrite(str(rewritten), _pattern(4))  # another picture; a new mtime (and here, size)
    os.utime(rewritten, ns=(0, 1))  # and never the old mtime, however coarse the file system clock
    (image_folder / "003.png").unlink()
    second_lap = [source.read() for _ in range(4)]  # 000 001 002 004
    assert second_lap[0] is first_lap[0]
    np.testing.assert_array_equal(second_lap[1], _pattern(4))
    assert second_lap[3] is first_lap[4]
    assert source.unreadable == 1


def test_looping_folder_over_the_cache_budget_decodes_every_lap(image_folder: Path) -> None:
    from edge_rover.perception.camera.capture import FolderSource

    frame_bytes = _pattern(0).nbytes
    source = FolderSource(parse_source(str(image_folder)), loop=True, cache_bytes=2 * frame_bytes)
    first_lap = [source.read() for _ in range(5)]
    assert [f.flags.writeable for f in first_lap] == [False, False, True, True, True]
    second_lap = [source.read() for _ in range(5)]
    assert second_lap[0] is first_lap[0] and second_lap[2] is not first_lap[2]
    np.testing.assert_array_equal(second_lap[2], first_lap[2])


def test_folder_without_loop_keeps_nothing(image_folder: Path) -> None:
    source = open_source(parse_source(str(image_folder)))
    assert source.read().flags.writeable


def test_file_source_ends_cleanly_without_loop(image_folder: Path) -> None:
    spec = parse_source(str(image_folder))
    camera = ReconnectingCamera(lambda: open_source(spec), live=False, log=lambda _m: None)
    frames = [camera.poll(float(t)) for t in range(7)]
    assert sum(f is not None for f in frames) == 5
    assert camera.state == CameraState.ENDED


def test_reconnects_with_backoff_when_the_source_disappears_and_returns(
    image_folder: Path, tmp_path: Path
) -> None:
    """A live camera whose device vanishes: logged once, retried with backoff, resumes."""
    spec = parse_source(str(image_folder))
    hidden = tmp_path / "unplugged"
    logs: list[str] = []
    camera = ReconnectingCamera(
        lambda: open_source(spec, loop=True), live=True, failures_before_reconnect=1, log=logs.append
    )
    assert camera.poll(0.0) is not None
    image_folder.rename(hidden)  # unplug: the open source now fails to read its files
    camera.source.files = [hidden / "missing.png"]
    assert camera.poll(0.1) is None
    assert camera.state == CameraState.RECONNECTING
    attempts_at = [t / 10 for t in range(2, 80)]
    results = [camera.poll(t) for t in attempts_at]
    assert all(r is None for r in results)
    assert camera.reconnects <= 5, "retries must back off, not spin"
    assert len([m for m in logs if "unavailable" in m]) <= 2, logs
    hidden.rename(image_folder)  # replug
    later = [camera.poll(8.0 + t) for t in range(0, 20)]
    assert any(f is not None for f in later)
    assert camera.state == CameraState.STREAMING
    assert any("camera back" in m for m in logs)


def test_fit_to_size_keeps_native_when_unset() -> None:
    frame = _pattern(0)
    assert fit_to_size(frame, 0, 0) is frame
    assert fit_to_size(frame, 80, 60).shape == (60, 80, 3)


def test_csi_preset_expands_to_the_nvargus_pipeline_at_the_configured_size_and_rate() -> None:
    from edge_rover.perception.camera.capture import csi_pipeline

    spec = parse_source("csi://1", 640, 480, 30.0)
    assert spec.kind == SourceKind.GSTREAMER and spec.is_live
    assert spec.location == csi_pipeline(1, 640, 480, 30.0)
    assert spec.location.startswith(
        "nvarguscamerasrc sensor-id=1 ! video/x-raw(memory:NVMM), width=640, height=480"
    )
    assert "framerate=30/1" in spec.location and spec.location.endswith(
        "appsink drop=true max-buffers=1 sync=false"
    )
    assert "framerate=30000/1001" in parse_source("csi://0", 1280, 720, 29.97002997).location
    assert "width=1280, height=720" in parse_source("csi://0").location  # no size given anywhere
    for bad in ("csi://", "csi://front", "csi://-1"):
        with pytest.raises(CameraError, match="csi://<sensor id>"):
            parse_source(bad, 640, 480, 30.0)


def test_a_pipeline_without_gstreamer_is_refused_in_one_line() -> None:
    from edge_rover.perception.camera.capture import SourceSpec, opencv_has_gstreamer, require_capture_backend

    spec = parse_source("csi://0", 640, 480, 30.0)
    with pytest.raises(CameraError, match=r"without GStreamer.*system OpenCV"):
        require_capture_backend(spec, has_gstreamer=False)
    require_capture_backend(spec, has_gstreamer=True)
    require_capture_backend(SourceSpec(SourceKind.DEVICE, "0"), has_gstreamer=False)  # not a pipeline
    if not opencv_has_gstreamer():  # the PyPI wheel here: the real check refuses it too
        with pytest.raises(CameraError, match="without GStreamer"):
            require_capture_backend(spec)
