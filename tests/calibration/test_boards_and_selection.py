"""Board definitions, printable board images and coverage-based view selection."""

from __future__ import annotations

import numpy as np
import pytest

from edge_rover.calibration.board_image import charuco_image, checkerboard_image, main
from edge_rover.calibration.boards import BoardDetection, CharucoTarget, Checkerboard, SkipReason
from edge_rover.calibration.frame_selection import (
    CoverageSelector,
    ViewParameters,
    coverage_progress,
    view_parameters,
)


def test_printable_checkerboard_is_detected_at_the_printed_scale(tmp_path) -> None:
    board = Checkerboard(9, 6, 0.025)
    image = checkerboard_image(board, dpi=100)  # 0.025 m at 100 dpi = 98 px squares
    canvas = np.full((image.shape[0] + 40, image.shape[1] + 40), 128, np.uint8)
    canvas[20:-20, 20:-20] = image
    detection = board.detect(canvas)
    assert isinstance(detection, BoardDetection)
    spacing = np.linalg.norm(np.diff(detection.image_points.reshape(6, 9, 2), axis=1), axis=2)
    np.testing.assert_allclose(spacing, 98.0, atol=0.5)
    assert main(["--size", "9x6", "--square", "0.025", "--dpi", "150", "--out", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").stat().st_size > 0


def test_printable_charuco_is_detected_with_ids() -> None:
    target = CharucoTarget(7, 5, 0.04, 0.03)
    image = charuco_image(target, dpi=60)
    detection = target.detect(image)
    assert isinstance(detection, BoardDetection)
    assert len(detection.image_points) == target.corner_count == 24
    assert detection.object_points.shape == (24, 3)


def test_charuco_with_most_of_the_board_hidden_is_partial() -> None:
    target = CharucoTarget(7, 5, 0.04, 0.03)
    image = charuco_image(target, dpi=60)
    image[:, : int(image.shape[1] * 0.7)] = 255
    result = target.detect(image)
    assert not isinstance(result, BoardDetection)
    assert result.reason in (SkipReason.PARTIAL, SkipReason.NO_BOARD)


@pytest.mark.parametrize(
    ("args", "message"),
    [((6, 6, 0.02), "different inner-corner counts"), ((9, 6, -1.0), "square size"), ((1, 6, 0.02), "2x2")],
)
def test_bad_board_definitions_are_refused(args, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Checkerboard(*args)


def _synthetic_detection(board: Checkerboard, offset: tuple[float, float], scale: float) -> BoardDetection:
    points = board.object_points()
    image_points = points[:, :2] / board.square * scale + np.asarray(offset)
    return BoardDetection(image_points, points)


def test_view_parameters_position_size_and_skew() -> None:
    board = Checkerboard(9, 6, 0.025)
    centred = view_parameters(
        _synthetic_detection(board, (320 - 4 * 30, 240 - 2.5 * 30), 30), board.outline(), (640, 480)
    )
    assert centred.x == pytest.approx(0.5, abs=0.01) and centred.y == pytest.approx(0.5, abs=0.01)
    assert centred.skew == pytest.approx(0.0, abs=1e-6)
    assert centred.size == pytest.approx(np.sqrt(8 * 30 * 5 * 30 / (640 * 480)), rel=1e-6)
    left = view_parameters(_synthetic_detection(board, (20, 200), 30), board.outline(), (640, 480))
    assert left.x < 0.15 and left.y > 0.5


def test_selector_drops_repeats_and_tracks_coverage() -> None:
    selector = CoverageSelector(min_distance=0.2, max_views=3)
    a = ViewParameters(0.1, 0.1, 0.3, 0.0)
    assert selector.consider(a)
    assert not selector.consider(ViewParameters(0.15, 0.12, 0.3, 0.05))  # L1 0.12: a repeat
    assert selector.consider(ViewParameters(0.9, 0.9, 0.5, 0.6))
    assert selector.consider(ViewParameters(0.5, 0.5, 0.2, 0.2))
    assert not selector.consider(ViewParameters(0.1, 0.9, 0.4, 0.3))  # max_views reached
    progress = selector.progress()
    assert progress["x"] == 1.0  # 0.1 → 0.9 spans more than the 0.7 needed
    assert progress["size"] == 1.0 and progress["skew"] == 1.0
    assert selector.good_enough()
    assert coverage_progress([]) == {"x": 0.0, "y": 0.0, "size": 0.0, "skew": 0.0}


def test_incomplete_coverage_gives_a_hint_per_parameter() -> None:
    from edge_rover.calibration.intrinsics_cli import coverage_hints

    hints = coverage_hints({"x": 1.0, "y": 0.52, "size": 1.0, "skew": 0.3})
    assert len(hints) == 2
    assert hints[0].startswith("y coverage 52%") and "top and bottom" in hints[0]
    assert "tilted" in hints[1]
