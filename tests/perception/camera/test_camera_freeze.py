"""Frozen-camera detection (perception.camera.capture.FreezeDetector) on real pixels: a photo with sensor
noise never trips it, the same buffer repeated (raw or through JPEG) does, and a folder of one image
looped through the real FolderSource is a frozen camera."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_rover.perception.camera.capture import FreezeDetector, ReconnectingCamera, open_source, parse_source

FPS = 30.0


def _photo(shared_data: Path) -> np.ndarray:
    image = cv2.imread(str(shared_data / "images" / "bus.jpg"))
    assert image is not None
    return cv2.resize(image, (640, 480))


def _feed(check: FreezeDetector, frames, start: float = 0.0) -> list[bool]:
    return [check.update(frame, start + i / FPS) for i, frame in enumerate(frames)]


def test_repeated_frame_is_published_until_the_timeout_then_withheld_until_it_changes(shared_data) -> None:
    photo = _photo(shared_data)
    check = FreezeDetector(timeout_s=0.5, threshold=0.1)
    published = _feed(check, [photo] * 30)  # one second of the same buffer at 30 fps
    # frames 0..14 are within 0.5 s of the last change (frame 0); from 15 (t = 0.5 s) on: frozen
    assert published == [True] * 15 + [False] * 15
    assert check.frozen and check.freezes == 1
    assert check.frozen_for(29 / FPS) == pytest.approx(29 / FPS)
    assert check.last_diff == 0.0
    moved = np.roll(photo, 3, axis=1)  # the view changes: published at once
    assert check.update(moved, 1.0)
    assert not check.frozen and check.frozen_for(1.0) == 0.0
    # a second freeze is counted again
    assert _feed(check, [moved] * 20, start=1.0 + 1 / FPS)[-1] is False
    assert check.freezes == 2


def test_static_scene_with_sensor_noise_never_counts_as_frozen(shared_data) -> None:
    """A camera looking at a static scene: every frame is the same view plus sensor noise (σ = 1.5
    grey levels, a clean daylight sensor; low light is noisier)."""
    photo = _photo(shared_data).astype(np.float32)
    rng = np.random.default_rng(0)
    frames = [np.clip(photo + rng.normal(0, 1.5, photo.shape), 0, 255).astype(np.uint8) for _ in range(45)]
    check = FreezeDetector(timeout_s=0.5, threshold=0.1)
    assert all(_feed(check, frames))
    assert check.freezes == 0 and check.last_diff > 10 * check.threshold


def test_the_same_frame_through_jpeg_is_still_frozen(shared_data) -> None:
    """A compressed transport re-encoding one stuck buffer: decoded copies are identical."""
    ok, jpeg = cv2.imencode(".jpg", _photo(shared_data), [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    frames = [cv2.imdecode(jpeg, cv2.IMREAD_COLOR) for _ in range(20)]
    check = FreezeDetector(timeout_s=0.5, threshold=0.1)
    assert _feed(check, frames)[-1] is False and check.frozen


def test_timeout_zero_disables_and_bad_settings_are_refused(shared_data) -> None:
    photo = _photo(shared_data)
    off = FreezeDetector(timeout_s=0.0)
    assert all(_feed(off, [photo] * 60)) and off.frozen_for(2.0) == 0.0
    for kwargs in ({"timeout_s": -1.0}, {"threshold": -0.5}, {"stride": 0}):
        with pytest.raises(ValueError, match="freeze check"):
            FreezeDetector(**kwargs)


def test_a_new_image_size_is_new_content(shared_data) -> None:
    photo = _photo(shared_data)
    check = FreezeDetector(timeout_s=0.5)
    _feed(check, [photo] * 20)
    assert check.frozen
    assert check.update(cv2.resize(photo, (320, 240)), 1.0) and not check.frozen


def _folder_camera(folder: Path) -> ReconnectingCamera:
    spec = parse_source(str(folder))
    return ReconnectingCamera(opener=lambda: open_source(spec, loop=True), live=False, log=lambda _m: None)


def test_folder_of_one_image_looped_is_a_frozen_camera_and_real_frames_are_not(
    shared_data, tmp_path: Path
) -> None:
    one, many = tmp_path / "one", tmp_path / "many"
    one.mkdir()
    many.mkdir()
    cv2.imwrite(str(one / "only.png"), _photo(shared_data))
    for i, name in enumerate(["bus.jpg", "zidane.jpg", "dog.jpg"]):
        cv2.imwrite(str(many / f"{i}.png"), cv2.imread(str(shared_data / "images" / name)))
    for folder, expect_frozen in ((one, True), (many, False)):
        camera, check = _folder_camera(folder), FreezeDetector(timeout_s=0.5)
        published = [check.update(camera.poll(i / FPS), i / FPS) for i in range(30)]
        camera.close()
        assert check.frozen is expect_frozen, folder
        assert published.count(False) == (15 if expect_frozen else 0)
