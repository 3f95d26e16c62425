"""nav_msgs/OccupancyGrid (``obstacle_map``) ↔ cells.

The mapper's grid, frame ``base_link``: ``data`` row-major from the ``info.origin`` corner, row =
y index, column = x index; values 0 (free) … 100 (occupied), -1 unknown, already inflated by the
rover half width (the controller allows for that with its ``grid_inflation``). ``info.resolution``
m per cell; ``info.origin`` = the pose of cell (0, 0)'s corner (x, y, yaw; the mapper's is
axis-aligned). ``map_load_time`` = the stamp. A grid whose data length does not match its
width × height, or whose resolution is not a positive finite number, raises ``ValueError``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from builtin_interfaces.msg import Time
from nav_msgs.msg import OccupancyGrid

from edge_rover.common.msgs.geometry import quaternion_from_yaw, yaw_from_quaternion


class Grid(NamedTuple):
    cells: np.ndarray  # (height, width) int8
    resolution: float  # m per cell
    origin: tuple[float, float, float]  # x, y, yaw of cell (0, 0)'s corner


def grid_to_msg(
    cells: np.ndarray, resolution: float, origin: tuple[float, ...], stamp: Time, frame_id: str
) -> OccupancyGrid:
    """``origin`` is (x, y) or (x, y, yaw)."""
    if cells.ndim != 2:
        raise ValueError(f"an occupancy grid needs 2-D cells, got shape {cells.shape}")
    if not (math.isfinite(resolution) and resolution > 0):
        raise ValueError(f"grid resolution must be a positive number of metres, got {resolution!r}")
    x, y, yaw = (*origin, 0.0)[:3]
    msg = OccupancyGrid()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.info.map_load_time = stamp
    msg.info.resolution = float(resolution)
    msg.info.height, msg.info.width = int(cells.shape[0]), int(cells.shape[1])
    msg.info.origin.position.x, msg.info.origin.position.y = float(x), float(y)
    msg.info.origin.orientation = quaternion_from_yaw(float(yaw))
    msg.data = np.asarray(cells).astype(np.int8).ravel().tobytes()
    return msg


def grid_from_msg(msg: OccupancyGrid) -> Grid:
    info = msg.info
    data = np.asarray(msg.data, dtype=np.int8)
    if data.size != info.width * info.height:
        raise ValueError(f"occupancy grid has {data.size} cells, header says {info.width}×{info.height}")
    if not (math.isfinite(info.resolution) and info.resolution > 0):
        raise ValueError(f"occupancy grid resolution {info.resolution!r} is not a positive number")
    origin = (
        float(info.origin.position.x),
        float(info.origin.position.y),
        yaw_from_quaternion(info.origin.orientation),
    )
    return Grid(data.reshape(info.height, info.width), float(info.resolution), origin)
