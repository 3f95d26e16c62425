"""DiagnosticArray and the RViz markers: round trips and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("diagnostic_msgs")

from edge_rover.common.msgs.diagnostics import (
    ERROR,
    STAGE_KEYS,
    Status,
    diagnostics_from_msg,
    diagnostics_to_msg,
    format_value,
)
from edge_rover.common.msgs.markers import marker_shapes, obstacle_markers
from edge_rover.common.msgs.obstacles import Obstacle3D
from edge_rover.common.msgs.stamps import sec_to_stamp

STAMP = sec_to_stamp(3.0)


def test_diagnostics_round_trip() -> None:
    status = Status(
        "controller: safety", ERROR, "FULL_BRAKE: gap", {"state": "full", "ttc": "0.500"}, "edge_rover"
    )
    msg = diagnostics_to_msg(status, STAMP)
    assert msg.status[0].level == bytes([ERROR])
    assert diagnostics_from_msg(msg) == [status]
    assert diagnostics_from_msg(diagnostics_to_msg(Status("x", bytes([1])), STAMP))[0].level == 1


def test_bad_level_and_value_formats() -> None:
    with pytest.raises(ValueError, match="level"):
        diagnostics_to_msg(Status("x", 7), STAMP)
    assert [format_value(v) for v in (None, math.inf, math.nan, 0.12345)] == ["none", "inf", "nan", "0.123"]
    assert set(STAGE_KEYS.values()) == {"drive", "warn", "partial", "full", "hold", "stop"}


def test_obstacle_markers_read_back() -> None:
    obstacles = [
        Obstacle3D("4", "person", 0.9, (5.0, 1.0), (0.4, 0.6, 1.7), velocity=(0.0, -1.0)),
        Obstacle3D("9", "unknown_thing", 0.5, (8.0, -2.0), (1.0, 1.0, 1.0)),
    ]
    msg = obstacle_markers(obstacles, [2.5, math.inf], STAMP, "base_link")
    assert msg.markers[0].action == msg.markers[0].DELETEALL
    labels = [m.text for m in msg.markers if m.ns == "labels"]
    assert labels == ["#4 person TTC 2.5s", "#9 unknown_thing TTC --"]
    shapes = marker_shapes(msg)
    np.testing.assert_allclose(shapes.boxes, [(5.0, 1.0, 0.4, 0.6), (8.0, -2.0, 1.0, 1.0)])
    np.testing.assert_allclose(shapes.arrows[0], (5.0, 1.0, 5.0, 0.0))
    assert marker_shapes(obstacle_markers([], [], STAMP, "base_link")) == ([], [])
    with pytest.raises(ValueError):
        obstacle_markers(obstacles, [1.0], STAMP, "base_link")  # one TTC per obstacle
