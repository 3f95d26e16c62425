"""DetectorStats (pure): counters, window percentiles and the window maximum that shows a stall."""

from __future__ import annotations

import pytest

from edge_rover.perception.detection.monitoring import ERROR, OK, WARN, DetectorStats, not_ready_status


def test_one_stall_shows_in_the_max_but_not_in_p99() -> None:
    stats = DetectorStats(window=300)
    stats.frames_in = 300
    for i in range(300):
        stall = i == 150
        stats.record(processing_ms=320.0 if stall else 10.0, age_ms=335.0 if stall else 12.0, pre_post_ms=0.3)
    level, message, values = stats.summary(frames_done_last_period=10, period_s=1.0)
    assert (level, message) == (OK, "running")
    assert float(values["processing_ms_p99"]) < 20.0  # one frame in 300 is below the 99th percentile
    assert float(values["processing_ms_max"]) == pytest.approx(320.0)
    assert float(values["age_ms_max"]) == pytest.approx(335.0)
    assert values["rate_hz"] == "10.0"


def test_the_window_forgets_an_old_stall() -> None:
    stats = DetectorStats(window=5)
    stats.frames_in = 10
    stats.record(400.0, 410.0, 0.3)
    for _ in range(5):
        stats.record(9.0, 11.0, 0.3)
    _, _, values = stats.summary(5, 1.0)
    assert float(values["processing_ms_max"]) == pytest.approx(9.0)


def test_no_frames_is_a_warning_without_latency_values() -> None:
    level, message, values = DetectorStats().summary(0, 1.0)
    assert level == WARN and "no images" in message
    assert "processing_ms_max" not in values


def test_not_ready_until_loaded_and_an_error_when_loading_failed() -> None:
    level, message = not_ready_status(False, None, 42.4)
    assert level == WARN and message.startswith("not ready") and "42 s" in message
    level, message = not_ready_status(False, RuntimeError("no libnvinfer"), 3.0)
    assert level == ERROR and "no libnvinfer" in message
    assert not_ready_status(True, None, 100.0) is None
