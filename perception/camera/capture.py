"""Camera capture core (no rclpy): sources, newest-frame-wins grabbing, reconnect with backoff.

Sources, chosen from one string:
* ``0`` or ``/dev/video0`` — a V4L2 device;
* a GStreamer pipeline (contains ``!``, e.g. Jetson CSI ``nvarguscamerasrc ! ... ! appsink``);
* ``csi://N`` — the Jetson CSI camera with sensor-id N: expands to the ``nvarguscamerasrc``
  pipeline at the configured size and frame rate (:func:`csi_pipeline`);
* a video file (``.mp4``, ``.avi``, ``.mkv``, ``.mov``, ``.webm``, ``.m4v``);
* a folder of images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``), played in name order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mjpeg", ".mjpg"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp"}


class CameraError(RuntimeError):
    """A camera configuration that can never work (bad source string, missing backend)."""


class SourceKind(Enum):
    DEVICE = "device"
    GSTREAMER = "gstreamer"
    VIDEO_FILE = "video_file"
    IMAGE_FOLDER = "image_folder"


@dataclass(frozen=True)
class SourceSpec:
    kind: SourceKind
    location: str

    @property
    def is_live(self) -> bool:
        return self.kind in (SourceKind.DEVICE, SourceKind.GSTREAMER)


CSI_PREFIX = "csi://"
CSI_DEFAULT_SIZE = (1280, 720)  # when neither the parameters nor the calibration give one


def csi_pipeline(sensor_id: int, width: int, height: int, fps: float) -> str:
    """The Jetson CSI camera (libargus) as an OpenCV GStreamer pipeline delivering BGR frames.

    nvarguscamerasrc picks the sensor mode for width x height at fps; nvvidconv leaves NVMM memory
    (BGRx), videoconvert makes BGR; appsink keeps only the newest buffer (never a backlog).
    """
    if width <= 0 or height <= 0 or fps <= 0:
        raise CameraError(f"csi://{sensor_id} needs a size and a frame rate (got {width}x{height} @ {fps})")
    rate = Fraction(fps).limit_denominator(1001)
    return (
        f"nvarguscamerasrc sensor-id={sensor_id} ! "
        f"video/x-raw(memory:NVMM), width={width}, height={height}, "
        f"framerate={rate.numerator}/{rate.denominator}, format=NV12 ! "
        "nvvidconv ! video/x-raw, format=BGRx ! videoconvert ! video/x-raw, format=BGR ! "
        "appsink drop=true max-buffers=1 sync=false"
    )


def opencv_has_gstreamer() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line
    return False


def require_capture_backend(spec: SourceSpec, has_gstreamer: bool | None = None) -> None:
    """Refuse a pipeline source at start, in one line, when this OpenCV cannot run it."""
    if spec.kind != SourceKind.GSTREAMER:
        return
    if not (opencv_has_gstreamer() if has_gstreamer is None else has_gstreamer):
        raise CameraError(
            "this OpenCV is built without GStreamer (the PyPI opencv-python wheels are): use the "
            "system OpenCV on the Jetson (apt python3-opencv, JetPack's OpenCV has GStreamer) for "
            "csi:// and nvarguscamerasrc pipelines"
        )


def parse_source(source: str, width: int = 0, height: int = 0, fps: float = 30.0) -> SourceSpec:
    """Classify a source string; raise CameraError with what is accepted.

    ``width``/``height``/``fps`` are used by the ``csi://N`` preset only (0: 1280x720)."""
    text = source.strip()
    if not text:
        raise CameraError(
            "camera source is empty: give a device index, /dev/videoN, a pipeline, a video or a folder"
        )
    if text.startswith(CSI_PREFIX):
        sensor = text[len(CSI_PREFIX) :]
        if not sensor.isdigit():
            raise CameraError(f"camera source {source!r}: expected csi://<sensor id>, e.g. csi://0")
        if width <= 0 or height <= 0:
            width, height = CSI_DEFAULT_SIZE
        return SourceSpec(SourceKind.GSTREAMER, csi_pipeline(int(sensor), width, height, fps))
    if "!" in text:
        return SourceSpec(SourceKind.GSTREAMER, text)
    if text.isdigit() or text.startswith("/dev/video"):
        return SourceSpec(SourceKind.DEVICE, text)
    path = Path(text).expanduser()
    if path.is_dir():
        return SourceSpec(SourceKind.IMAGE_FOLDER, str(path))
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        if not path.is_file():
            raise CameraError(f"video file not found: {path}")
        return SourceSpec(SourceKind.VIDEO_FILE, str(path))
    raise CameraError(
        f"unknown camera source {source!r}: expected a device index (0), /dev/videoN, csi://N, a "
        f"GStreamer pipeline (with '!'), a video file ({', '.join(sorted(VIDEO_EXTENSIONS))}) "
        "or an image folder"
    )


class FrameSource(Protocol):
    """An opened camera. ``read`` returns a BGR frame or None when no frame came."""

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


class CaptureSource:
    """cv2.VideoCapture for devices, pipelines and video files."""

    def __init__(self, spec: SourceSpec, width: int, height: int, fps: float, loop: bool) -> None:
        self.spec, self.loop = spec, loop
        if spec.kind == SourceKind.GSTREAMER:
            require_capture_backend(spec)
            self.capture = cv2.VideoCapture(spec.location, cv2.CAP_GSTREAMER)
        elif spec.kind == SourceKind.DEVICE:
            device = int(spec.location) if spec.location.isdigit() else spec.location
            self.capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
            # Keep the driver queue short: newest frame wins, never a backlog.
            self.capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if width > 0 and height > 0:
                self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            if fps > 0:
                self.capture.set(cv2.CAP_PROP_FPS, fps)
        else:
            self.capture = cv2.VideoCapture(spec.location)
        if not self.capture.isOpened():
            self.capture.release()
            raise OSError(f"cannot open {spec.kind.value} {spec.location!r}")

    def read(self) -> np.ndarray | None:
        ok, frame = self.capture.read()
        if not ok and self.loop and self.spec.kind == SourceKind.VIDEO_FILE:
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.capture.read()
        return frame if ok else None

    def close(self) -> None:
        self.capture.release()


# Decoded frames a looping folder keeps in memory by default (bytes; the camera node's
# folder_cache_mb). Decoding a 640x480 PNG costs ~6 ms of
# CPU, 18 % of a core at 30 FPS, on every lap of a folder that does not change (measured on the
# 2-core dev VM); 256 MiB holds ~290 such frames. A bigger folder is decoded on every lap.
LOOP_CACHE_BYTES = 256 * 2**20


class FolderSource:
    """Images of a folder in name order; unreadable files are skipped and counted.

    When looping, frames decoded on the first lap are kept (up to ``cache_bytes`` in all) and
    served read-only on the later laps, so a replayed folder costs what a camera would. A file
    is decoded again when its size or modification time changed (a folder written by another
    program, e.g. a test freezing the "camera"), and skipped when it is gone, as without a cache.
    """

    def __init__(self, spec: SourceSpec, loop: bool, cache_bytes: int = LOOP_CACHE_BYTES) -> None:
        folder = Path(spec.location)
        if not folder.is_dir():
            raise OSError(f"image folder not found: {folder}")
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not self.files:
            raise OSError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {folder}")
        self.loop, self.index, self.unreadable = loop, 0, 0
        self._cache: dict[Path, tuple[tuple[int, int], np.ndarray]] = {}  # path → ((mtime, size), frame)
        self._cache_left = cache_bytes if loop else 0

    def read(self) -> np.ndarray | None:
        while self.index < len(self.files) or (self.loop and self.files):
            if self.index >= len(self.files):
                self.index = 0
            path = self.files[self.index]
            self.index += 1
            frame = self._load(path)
            if frame is not None:
                return frame
            self.unreadable += 1
            if self.unreadable >= len(self.files):
                return None  # every file unreadable: report as a failing source
        return None

    def _load(self, path: Path) -> np.ndarray | None:
        try:
            info = path.stat()
        except OSError:
            self._forget(path)
            return None
        version = (info.st_mtime_ns, info.st_size)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
        self._forget(path)
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is not None and frame.nbytes <= self._cache_left:
            frame.setflags(write=False)  # shared by every later lap: nobody may draw on it
            self._cache[path] = (version, frame)
            self._cache_left -= frame.nbytes
        return frame

    def _forget(self, path: Path) -> None:
        cached = self._cache.pop(path, None)
        if cached is not None:
            self._cache_left += cached[1].nbytes

    def close(self) -> None:
        self.files = []
        self._cache.clear()


def open_source(
    spec: SourceSpec,
    width: int = 0,
    height: int = 0,
    fps: float = 0.0,
    loop: bool = False,
    folder_cache_bytes: int = LOOP_CACHE_BYTES,
) -> FrameSource:
    if spec.kind == SourceKind.IMAGE_FOLDER:
        return FolderSource(spec, loop, folder_cache_bytes)
    return CaptureSource(spec, width, height, fps, loop)


class CameraState(Enum):
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    ENDED = "ended"  # a file or folder that ran out (and does not loop)


@dataclass
class ReconnectingCamera:
    """Opens a source and keeps it alive: failures are retried with exponential backoff.

    Pure with respect to time: every call takes ``now`` (seconds, any monotonic clock). The
    ``opener`` is injectable so that the reconnect path is testable with real sources.
    """

    opener: Callable[[], FrameSource]
    live: bool
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    failures_before_reconnect: int = 5
    log: Callable[[str], None] = print
    state: CameraState = CameraState.RECONNECTING
    source: FrameSource | None = None
    backoff_s: float = field(init=False)
    next_attempt_s: float = 0.0
    consecutive_failures: int = 0
    reconnects: int = 0
    frames: int = 0
    last_error: str = ""

    def __post_init__(self) -> None:
        self.backoff_s = self.initial_backoff_s

    def poll(self, now: float) -> np.ndarray | None:
        """One frame if one is available now; None otherwise (never blocks on retries)."""
        if self.state == CameraState.ENDED:
            return None
        if self.source is None and not self._try_open(now):
            return None
        frame = self.source.read() if self.source is not None else None
        if frame is not None and frame.size > 0:
            self.consecutive_failures = 0
            self.frames += 1
            return frame
        self.consecutive_failures += 1
        if not self.live and self.frames > 0:
            self._set_state(CameraState.ENDED, "end of file/folder")
            self._close()
        elif self.consecutive_failures >= self.failures_before_reconnect:
            self._close()
            self._schedule_retry(now, "camera stopped delivering frames")
        return None

    def _try_open(self, now: float) -> bool:
        if now < self.next_attempt_s:
            return False
        try:
            self.source = self.opener()
        except OSError as exc:
            self._schedule_retry(now, str(exc))
            return False
        if self.state == CameraState.RECONNECTING and (self.reconnects > 0 or self.last_error):
            self.log(f"camera back after {self.reconnects} attempt(s)")
        self.reconnects = 0
        self.backoff_s = self.initial_backoff_s
        self.consecutive_failures = 0
        self._set_state(CameraState.STREAMING, "")
        return True

    def _schedule_retry(self, now: float, reason: str) -> None:
        if self.state != CameraState.RECONNECTING or reason != self.last_error:
            # Logged once per outage, not at every retry.
            self.log(f"camera unavailable ({reason}); retrying with backoff up to {self.max_backoff_s:.0f} s")
        self._set_state(CameraState.RECONNECTING, reason)
        self.reconnects += 1
        self.next_attempt_s = now + self.backoff_s
        self.backoff_s = min(self.backoff_s * 2.0, self.max_backoff_s)

    def _set_state(self, state: CameraState, reason: str) -> None:
        self.state, self.last_error = state, reason

    def _close(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None

    def close(self) -> None:
        self._close()


class LatestFrameGrabber:
    """Reads a live source on its own thread and keeps only the newest frame.

    A live camera produces frames whether we want them or not; reading them as fast as they
    come and dropping all but the newest means the node never publishes a stale frame.
    """

    def __init__(
        self, camera: ReconnectingCamera, clock: Callable[[], float], idle_sleep_s: float = 0.005
    ) -> None:
        self.camera, self.clock, self.idle_sleep_s = camera, clock, idle_sleep_s
        self._lock = threading.Lock()
        self._latest: tuple[np.ndarray, float] | None = None
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="camera_grabber", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self.camera.poll(self.clock())
            if frame is None:
                self._stop.wait(self.idle_sleep_s * 10)
                continue
            stamp = self.clock()
            with self._lock:
                if self._latest is not None:
                    self.dropped += 1
                self._latest = (frame, stamp)

    def take(self) -> tuple[np.ndarray, float] | None:
        """The newest (frame, capture time) not yet taken, or None."""
        with self._lock:
            latest, self._latest = self._latest, None
        return latest

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.camera.close()


@dataclass
class FreezeDetector:
    """Detects a frozen camera: a source that keeps delivering the same picture.

    A real sensor always has noise, so consecutive frames of even a static scene differ by a
    grey level or two per pixel; a stuck driver or pipeline that repeats its last buffer gives
    frames that are bit-identical (or, through a codec, identical within a tiny fraction of a
    level). ``update`` compares each frame with the previous one on a strided sample (every
    ``stride``-th pixel, no averaging, so sensor noise is kept, not smoothed away) and returns
    False once the content has not changed by more than ``threshold`` (mean absolute difference,
    grey levels 0..255) for ``timeout_s``. The first changed frame ends the freeze. Pure: the
    caller passes ``now`` (s, any monotonic clock). ``timeout_s`` 0 disables the check.
    """

    timeout_s: float = 0.5
    threshold: float = 0.1
    stride: int = 8
    frozen: bool = False
    freezes: int = 0
    last_change_s: float | None = None
    last_diff: float = float("nan")
    _previous: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not (self.timeout_s >= 0.0 and self.threshold >= 0.0 and self.stride >= 1):
            raise ValueError(
                f"freeze check needs timeout_s >= 0, threshold >= 0, stride >= 1 "
                f"(got {self.timeout_s}, {self.threshold}, {self.stride})"
            )

    def _sample(self, frame: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(frame[:: self.stride, :: self.stride])

    def update(self, frame: np.ndarray, now: float) -> bool:
        """Feed one frame; True when it may be published (content alive, or not frozen long enough)."""
        if self.timeout_s <= 0.0:
            return True
        sample = self._sample(frame)
        previous, self._previous = self._previous, sample
        if previous is None or previous.shape != sample.shape:
            changed = True  # the first frame, or a new size: that is new content
            self.last_diff = float("nan")
        else:
            self.last_diff = float(cv2.absdiff(previous, sample).mean())
            changed = self.last_diff > self.threshold
        if changed or self.last_change_s is None:
            self.last_change_s = now
            self.frozen = False
            return True
        if now - self.last_change_s >= self.timeout_s:
            if not self.frozen:
                self.freezes += 1
            self.frozen = True
        return not self.frozen

    def frozen_for(self, now: float) -> float:
        """Seconds the content has not changed (0 when it is changing or the check is off)."""
        if self.last_change_s is None or self.timeout_s <= 0.0:
            return 0.0
        return max(0.0, now - self.last_change_s)


def fit_to_size(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to (width, height) when both are set and differ; 0 keeps the native size."""
    if width <= 0 or height <= 0 or (frame.shape[1], frame.shape[0]) == (width, height):
        return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
