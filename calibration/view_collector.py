"""Frame-by-frame view collection for intrinsic calibration (shared by the CLI and the node).

Each frame is detected, filtered (unreadable, no board, at the border, blurred) and kept only if
it adds coverage; skipped frames are counted by reason so a user learns why a run is short.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from edge_rover.calibration.boards import Board, BoardDetection, Skip, SkipReason, to_gray
from edge_rover.calibration.frame_selection import CoverageSelector, view_parameters
from edge_rover.calibration.image_sources import Frame, ImageSizeGuard


@dataclass
class Collection:
    """What the frames so far gave."""

    detections: list[BoardDetection] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    image_size: tuple[int, int] | None = None
    preview_image: np.ndarray | None = None
    preview_detection: BoardDetection | None = None
    preview_offset: float = -1.0
    frames_seen: int = 0
    interrupted: bool = False

    def skip(self, reason: SkipReason, name: str) -> None:
        self.skipped.setdefault(reason.name.lower(), []).append(name)

    def skip_counts(self) -> dict[str, int]:
        return {reason: len(names) for reason, names in self.skipped.items()}


class ViewCollector:
    """Feed frames with :meth:`add`; read :attr:`found` and :meth:`covered` at any time."""

    def __init__(self, board: Board, selector: CoverageSelector, max_edge_width_px: float | None) -> None:
        self.board = board
        self.selector = selector
        self.max_edge_width_px = max_edge_width_px
        self.found = Collection()
        self._guard = ImageSizeGuard()

    def add(self, frame: Frame) -> SkipReason | None:
        """Process one frame; returns why it was skipped, or None when it became a view.

        Raises CalibrationError when its size differs from the first frame's.
        """
        found = self.found
        found.frames_seen += 1
        self._guard.check(frame)
        if frame.image is None or frame.image.size == 0:
            found.skip(SkipReason.UNREADABLE, frame.name)
            return SkipReason.UNREADABLE
        gray = to_gray(frame.image)
        image_size = (gray.shape[1], gray.shape[0])
        found.image_size = image_size
        detection = self.board.detect(gray, self.max_edge_width_px)
        if isinstance(detection, Skip):
            found.skip(detection.reason, frame.name)
            return detection.reason
        params = view_parameters(detection, self.board.outline(), image_size)
        if not self.selector.consider(params):
            found.skip(SkipReason.REDUNDANT, frame.name)
            return SkipReason.REDUNDANT
        found.detections.append(detection)
        found.names.append(frame.name)
        # Preview the view farthest from the centre: that is where distortion shows.
        offset = float(np.hypot(params.x - 0.5, params.y - 0.5))
        if offset > found.preview_offset:
            found.preview_image, found.preview_detection, found.preview_offset = (
                frame.image,
                detection,
                offset,
            )
        return None

    def covered(self, min_views: int) -> bool:
        """Enough views and every coverage parameter satisfied (or many views)."""
        return self.selector.good_enough() and len(self.found.detections) >= min_views

    def full(self) -> bool:
        return self.selector.max_views is not None and len(self.selector.kept) >= self.selector.max_views


def collect_views(
    frames: Iterable[Frame],
    board: Board,
    selector: CoverageSelector,
    max_edge_width_px: float | None,
    stop_when_covered: bool = False,
    min_views: int = 0,
) -> Collection:
    """Run a whole source through a :class:`ViewCollector` (Ctrl-C ends a live capture early)."""
    collector = ViewCollector(board, selector, max_edge_width_px)
    try:
        for frame in frames:
            collector.add(frame)
            if stop_when_covered and collector.covered(min_views):
                break
    except KeyboardInterrupt:  # live capture ends with Ctrl-C: calibrate what was collected
        collector.found.interrupted = True
    return collector.found
