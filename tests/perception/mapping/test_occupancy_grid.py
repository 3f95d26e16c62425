"""Rolling occupancy grid: conventions, inflation, free footprint, shadows, decay, rolling."""

from __future__ import annotations

import numpy as np
import pytest

from edge_rover.calibration.calibration_io import load_camera_info, load_extrinsics
from edge_rover.common.camera_model import CameraRig
from edge_rover.perception.mapping.occupancy_grid import (
    FREE,
    OCCUPIED,
    UNKNOWN,
    GridConfig,
    GridObstacle,
    RollingGrid,
    camera_ground_footprint,
)
from edge_rover.perception.mapping.tracker import EgoMotion
from tests.conftest import REPO_ROOT

RIG = CameraRig(
    load_camera_info(str(REPO_ROOT / "config" / "camera_info.yaml")),
    load_extrinsics(str(REPO_ROOT / "config" / "extrinsics.yaml")),
)
CAMERA_XY = (0.2, 0.0)


def _grid(**kwargs) -> RollingGrid:
    return RollingGrid(GridConfig(resolution=0.1, ahead=20.0, behind=5.0, half_width=10.0, **kwargs))


def test_shape_origin_and_values_follow_nav_msgs_conventions() -> None:
    grid = _grid()
    assert grid.config.shape == (200, 250)  # rows along y, columns along x
    assert grid.config.origin == (-5.0, -10.0)
    values = grid.to_int8()
    assert values.dtype == np.int8 and np.all(values == UNKNOWN)
    # Row index grows with +y (left), column index with +x (forward).
    grid.update(0.0, [GridObstacle(3.0, 4.0, 0.2, 0.2)], None)
    col, row = grid.world_to_cell(3.0, 4.0)
    assert grid.to_int8()[round(row), round(col)] == OCCUPIED
    assert round(row) == 140 and round(col) == 80


def test_obstacles_are_inflated_by_width_plus_rover_half_width() -> None:
    grid = _grid(rover_half_width=0.4)
    grid.update(
        0.0, [GridObstacle(6.0, 0.0, width=1.0, depth=0.4)], camera_ground_footprint(RIG, 15.0), CAMERA_XY
    )
    radius = 0.5 + 0.4
    assert grid.value_at(6.0, 0.0) == OCCUPIED
    assert grid.value_at(6.0, radius - 0.1) == OCCUPIED
    assert grid.value_at(6.0, -(radius - 0.1)) == OCCUPIED
    assert grid.value_at(6.0 - radius - 0.2, 0.0) == FREE  # in front: seen free
    assert grid.value_at(6.0, radius + 0.2) == FREE


def test_free_inside_the_camera_footprint_unknown_elsewhere_and_in_shadows() -> None:
    footprint = camera_ground_footprint(RIG, 15.0)
    assert footprint is not None
    grid = _grid()
    grid.update(0.0, [GridObstacle(5.0, 0.0, 0.6, 0.6)], footprint, CAMERA_XY)
    assert grid.value_at(3.0, 0.0) == FREE
    assert grid.value_at(10.0, 3.0) == FREE
    assert grid.value_at(-2.0, 0.0) == UNKNOWN  # behind the rover
    assert grid.value_at(0.3, 0.0) == UNKNOWN  # below the camera's lowest ray
    assert grid.value_at(3.0, 6.0) == UNKNOWN  # outside the 90° field of view
    assert grid.value_at(18.0, 0.0) == UNKNOWN  # beyond free_range
    assert grid.value_at(9.0, 0.0) == UNKNOWN  # hidden behind the obstacle
    assert grid.value_at(9.0, 1.5) == FREE  # beside the shadow


def test_unobserved_cells_decay_to_free_then_unknown() -> None:
    grid = _grid(occupied_decay=0.5, known_decay=1.0)
    grid.update(0.0, [GridObstacle(5.0, 0.0, 0.5, 0.5)], None)
    assert grid.value_at(5.0, 0.0) == OCCUPIED
    grid.update(0.5, [], None)
    assert 1 <= grid.value_at(5.0, 0.0) < OCCUPIED  # evidence fading, still occupied-ish
    grid.update(3.0, [], None)
    assert grid.value_at(5.0, 0.0) == UNKNOWN


def test_re_observed_free_space_clears_an_old_obstacle() -> None:
    footprint = camera_ground_footprint(RIG, 15.0)
    grid = _grid()
    grid.update(0.0, [GridObstacle(5.0, 0.0, 0.5, 0.5)], footprint, CAMERA_XY)
    grid.update(0.1, [], footprint, CAMERA_XY)  # it walked away: its cells are seen free
    assert grid.value_at(5.0, 0.0) == FREE


@pytest.mark.parametrize("yaw_rate", [0.0, 0.3])
def test_memory_rolls_with_the_rover(yaw_rate: float) -> None:
    grid = _grid(occupied_decay=100.0, known_decay=100.0)
    grid.update(0.0, [GridObstacle(6.0, 1.0, 0.2, 0.2)], None)
    ego = EgoMotion(speed=2.0, yaw_rate=yaw_rate)
    grid.update(0.5, [], None, ego=ego)
    R, t = ego.transform(0.5)
    expected = R @ (np.array([6.0, 1.0]) - t)
    assert grid.value_at(*expected) >= 90
    assert grid.value_at(6.0, 1.0) != OCCUPIED or np.hypot(*(expected - [6.0, 1.0])) < 0.3


def test_time_backwards_resets_the_grid() -> None:
    grid = _grid()
    grid.update(5.0, [GridObstacle(5.0, 0.0, 0.5, 0.5)], None)
    grid.update(1.0, [], None)
    assert np.all(grid.to_int8() == UNKNOWN)


def test_footprint_is_none_when_the_camera_sees_only_sky() -> None:
    sky_rig = CameraRig(RIG.intrinsics, RIG.extrinsics.with_pitch_offset(-1.2))
    assert camera_ground_footprint(sky_rig, 15.0) is None


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        GridConfig(resolution=0.0)
    with pytest.raises(ValueError):
        GridConfig(occupied_decay=0.0)
