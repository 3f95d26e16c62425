"""Frames for calibration from a folder of images, a video file or a live camera.

Each source yields ``Frame(name, image)`` (``image`` None when a file cannot be decoded, so it
is counted rather than crashing the run) and knows its length when it can, for the progress bar.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_rover.common.camera_model import CalibrationError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm")


@dataclass(frozen=True)
class Frame:
    name: str
    image: np.ndarray | None


class ImageSizeGuard:
    """Refuses frames whose size differs from the first one (a calibration is per resolution)."""

    def __init__(self) -> None:
        self.size: tuple[int, int] | None = None
        self.first_name = ""

    def check(self, frame: Frame) -> None:
        if frame.image is None:
            return
        size = (int(frame.image.shape[1]), int(frame.image.shape[0]))
        if self.size is None:
            self.size, self.first_name = size, frame.name
        elif size != self.size:
            raise CalibrationError(
                f"images of mixed sizes: {frame.name} is {size[0]}x{size[1]} but {self.first_name} is "
                f"{self.size[0]}x{self.size[1]}; a calibration holds for one resolution — calibrate each "
                "size separately (or scale the result with CameraIntrinsics.scaled)"
            )


class FolderSource:
    def __init__(self, folder: str | Path, pattern: str = "*") -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise CalibrationError(f"image folder not found: {self.folder}")
        self.paths = sorted(
            p for p in self.folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not self.paths:
            raise CalibrationError(
                f"no images ({', '.join(IMAGE_SUFFIXES)}) in {self.folder} matching {pattern!r}"
            )

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        for path in self.paths:
            # 8-bit BGR whatever the file holds, and EXIF orientation ignored: the camera node
            # publishes raw sensor frames, so the calibration must be of the raw orientation.
            yield Frame(path.name, cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION))


class VideoSource:
    """Every ``stride``-th frame of a video file (consecutive frames are near-duplicates)."""

    def __init__(self, path: str | Path, stride: int = 1) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CalibrationError(f"video file not found: {self.path}")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.stride = stride
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise CalibrationError(f"cannot open video {self.path} (unsupported codec?)")
        self.frame_count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        capture.release()

    def __len__(self) -> int:
        return (self.frame_count + self.stride - 1) // self.stride

    def __iter__(self) -> Iterator[Frame]:
        capture = cv2.VideoCapture(str(self.path))
        try:
            index = 0
            while True:
                ok = capture.grab()
                if not ok:
                    return
                if index % self.stride == 0:
                    ok, image = capture.retrieve()
                    yield Frame(f"{self.path.name}#{index}", image if ok else None)
                index += 1
        finally:
            capture.release()


class CameraSource:
    """A live camera (OpenCV device index or GStreamer/V4L2 string) until ``max_frames``."""

    def __init__(
        self, device: str, max_frames: int, width: int | None = None, height: int | None = None
    ) -> None:
        self.device = int(device) if device.isdigit() else device
        self.max_frames = max_frames
        self.width, self.height = width, height

    def __len__(self) -> int:
        return self.max_frames

    def __iter__(self) -> Iterator[Frame]:
        capture = cv2.VideoCapture(self.device)
        if not capture.isOpened():
            raise CalibrationError(f"cannot open camera {self.device!r}")
        if self.width and self.height:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        try:
            for index in range(self.max_frames):
                ok, image = capture.read()
                if not ok:
                    raise CalibrationError(
                        f"camera {self.device!r} stopped delivering frames at frame {index}"
                    )
                yield Frame(f"camera#{index}", image)
        finally:
            capture.release()
