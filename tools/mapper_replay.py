"""A simulator bag through the real detector and obstacle_mapper nodes, compared with its ground truth.

What RViz shows with ``rviz/edge_rover.rviz`` on a replay is ``/obstacles/markers`` and
``/obstacle_map`` in ``base_link``; this checks those (and ``/obstacles``) against the bag's
``/sim/ground_truth``, without RViz:

    python -m edge_rover.tools.mapper_replay --scenario obstacle_beside_path --seconds 3 \
        --plot out/mapper_replay
    python -m edge_rover.tools.mapper_replay --bag out/runs/pedestrian_crossing/bag --plot out/mapper_replay

Without ``--bag`` it writes a simulator bag first (``edge_rover.simulation.bag_export.write_scenario_bag``:
camera images, camera_info, odometry, ground truth; oracle-driven). Then the shipped detector and
the obstacle mapper run as real nodes (in this process, one executor, real DDS, ``use_sim_time``)
and a player publishes the bag frame by frame, lock-step: ``/clock``, ``/camera/camera_info``,
``/odom``, then the image (as JPEG, which best-effort UDP carries reliably), and waits for the
mapper's output of that frame. Prints the comparison; ``--plot`` writes a PNG of the grid, the
markers' boxes and velocity arrows and the ground truth for a few frames.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = ROOT / "models" / "edge_rover_yolov8n_int8.onnx"
MAPPER_PARAMS = ROOT / "config" / "obstacle_mapper.yaml"
OCCUPIED = 50  # nav_msgs/OccupancyGrid evidence treated as occupied (README)


@dataclass
class TruthObject:
    object_id: str
    class_name: str
    x: float
    y: float
    yaw: float
    size: tuple[float, float, float]  # length, width, height
    visible: float  # 1 − occlusion; 0 when out of view


@dataclass
class MapperOutput:
    obstacles: list  # edge_rover.common.msgs.obstacles.Obstacle3D decoded from /obstacles
    cubes: list[tuple[float, float, float, float]]  # /obstacles/markers boxes: x, y, size x, size y
    arrows: list[tuple[float, float, float, float]]  # velocity arrows: start x, y, end x, y
    grid: np.ndarray  # int8 (rows, cols)
    resolution: float
    origin: tuple[float, float]


@dataclass
class ReplayFrame:
    stamp: float
    truth: list[TruthObject]
    output: MapperOutput | None = None  # None: the mapper published nothing for this frame


@dataclass
class Comparison:
    frames: int = 0
    frames_with_output: int = 0
    visible_objects: int = 0  # truth objects in view (visible ≥ min_visible), within max_range
    matched: int = 0  # ... with an obstacle of the same class within the gate
    errors_pct: list[float] = field(default_factory=list)  # position error, % of range (matched)
    truth_on_occupied: int = 0  # matched objects whose centre lies on an occupied cell
    false_obstacles: int = 0  # obstacles with no truth object (any, even hidden) within the gate
    obstacles: int = 0
    markers_consistent: int = 0  # frames whose CUBE markers sit exactly on the /obstacles

    def as_dict(self) -> dict:
        return {
            "frames": self.frames,
            "frames_with_output": self.frames_with_output,
            "visible_objects": self.visible_objects,
            "matched_pct": 100.0 * self.matched / max(self.visible_objects, 1),
            "median_position_error_pct": float(np.median(self.errors_pct)) if self.errors_pct else None,
            "truth_on_occupied_pct": 100.0 * self.truth_on_occupied / max(self.matched, 1),
            "obstacles": self.obstacles,
            "false_obstacles": self.false_obstacles,
            "markers_consistent_pct": 100.0 * self.markers_consistent / max(self.frames_with_output, 1),
        }


# -- bag → frames ----------------------------------------------------------------------------------


def write_simulator_bag(scenario: str, out: Path, seconds: float) -> Path:
    from edge_rover.simulation.bag_export import write_scenario_bag
    from edge_rover.simulation.scenarios import find_scenario

    write_scenario_bag(find_scenario(scenario), out, duration_s=seconds, overwrite=True)
    return out


def truth_from_msg(msg) -> list[TruthObject]:
    """/sim/ground_truth (vision_msgs/Detection3DArray, base_link) → objects."""
    from edge_rover.common.msgs.obstacles import obstacles_from_msg

    return [
        TruthObject(b.id, b.class_name, b.position[0], b.position[1], b.yaw, b.size, b.score)
        for b in obstacles_from_msg(msg)
    ]


def _output_from_msgs(obstacles_msg, markers_msg, grid_msg) -> MapperOutput:
    from edge_rover.common.msgs.grid import grid_from_msg
    from edge_rover.common.msgs.markers import marker_shapes
    from edge_rover.common.msgs.obstacles import obstacles_from_msg

    shapes, grid = marker_shapes(markers_msg), grid_from_msg(grid_msg)
    return MapperOutput(
        obstacles_from_msg(obstacles_msg),
        shapes.boxes,
        shapes.arrows,
        grid.cells,
        grid.resolution,
        grid.origin[:2],
    )


# -- the real nodes --------------------------------------------------------------------------------


def _mapper_parameters() -> dict:
    params = yaml.safe_load(MAPPER_PARAMS.read_text())["obstacle_mapper"]["ros__parameters"]
    # The package:// defaults need an installed package; the repository's files are the same.
    params["extrinsics_url"] = str(ROOT / "config" / "extrinsics.yaml")
    params["classes_url"] = str(ROOT / "config" / "classes.yaml")
    return params


def replay_through_nodes(
    bag: Path, model: Path = SHIPPED_MODEL, frame_timeout: float = 5.0, max_frames: int | None = None
) -> list[ReplayFrame]:
    """Play ``bag`` lock-step into the real detector + obstacle_mapper nodes; one entry per frame."""
    import rclpy
    from nav_msgs.msg import OccupancyGrid, Odometry
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.serialization import deserialize_message
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image
    from vision_msgs.msg import Detection3DArray
    from visualization_msgs.msg import MarkerArray

    from edge_rover.bags.reader import read_messages
    from edge_rover.common.graph import (
        CAMERA_IMAGE,
        CAMERA_IMAGE_COMPRESSED,
        CAMERA_INFO,
        CLOCK,
        GROUND_TRUTH,
        OBSTACLE_MAP,
        OBSTACLE_MARKERS,
        OBSTACLES,
        ODOM,
        graph_name,
        resolve,
    )
    from edge_rover.common.msgs.image import image_to_bgr
    from edge_rover.common.msgs.stamps import stamp_to_sec
    from edge_rover.common.qos import CLOCK_QOS, SENSOR_QOS
    from edge_rover.perception.detection.detector_node import DetectorNode
    from edge_rover.perception.mapping.obstacle_mapper_node import ObstacleMapperNode

    types = {CAMERA_INFO: CameraInfo, CAMERA_IMAGE: Image, ODOM: Odometry, GROUND_TRUTH: Detection3DArray}
    frames: dict[int, dict] = {}  # bag time → graph topic name → message
    for message in read_messages(bag, [resolve(t) for t in types]):
        name = graph_name(message.topic)
        frames.setdefault(message.stamp_ns, {})[name] = deserialize_message(message.data, types[name])
    ordered = [frames[k] for k in sorted(frames) if CAMERA_IMAGE in frames[k]]
    if max_frames is not None:
        ordered = ordered[:max_frames]

    context = rclpy.Context()
    rclpy.init(context=context)
    nodes = []
    try:
        sim_time = Parameter("use_sim_time", value=True)
        detector = DetectorNode(
            context=context,
            parameter_overrides=[
                sim_time,
                Parameter("model_path", value=str(model)),
                Parameter("transport", value="compressed"),
                Parameter("threads", value=1),
            ],
        )
        mapper = ObstacleMapperNode(
            context=context,
            parameter_overrides=[sim_time, *(Parameter(k, value=v) for k, v in _mapper_parameters().items())],
        )
        player = rclpy.create_node("mapper_replay_player", context=context)
        nodes = [detector, mapper, player]
        executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            executor.add_node(node)
        clock_pub = player.create_publisher(Clock, CLOCK, CLOCK_QOS)
        info_pub = player.create_publisher(CameraInfo, CAMERA_INFO, SENSOR_QOS)
        odom_pub = player.create_publisher(Odometry, ODOM, SENSOR_QOS)
        image_pub = player.create_publisher(CompressedImage, CAMERA_IMAGE_COMPRESSED, SENSOR_QOS)
        got: dict[str, dict[float, object]] = {"obstacles": {}, "markers": {}, "grid": {}}

        def keep(kind: str):
            return lambda msg: got[kind].__setitem__(round(stamp_to_sec(msg.header.stamp), 6), msg)

        def keep_markers(msg) -> None:
            if msg.markers:  # a DELETEALL first, stamped like the rest
                got["markers"][round(stamp_to_sec(msg.markers[0].header.stamp), 6)] = msg

        player.create_subscription(Detection3DArray, OBSTACLES, keep("obstacles"), SENSOR_QOS)
        player.create_subscription(OccupancyGrid, OBSTACLE_MAP, keep("grid"), SENSOR_QOS)
        player.create_subscription(MarkerArray, OBSTACLE_MARKERS, keep_markers, SENSOR_QOS)
        if not _spin_until(executor, lambda: image_pub.get_subscription_count() > 0, 10.0):
            raise RuntimeError("the detector did not subscribe to /camera/image_raw/compressed")

        out: list[ReplayFrame] = []
        for frame in ordered:
            image = frame[CAMERA_IMAGE]
            stamp = round(stamp_to_sec(image.header.stamp), 6)
            clock = Clock()
            clock.clock = image.header.stamp
            ok, jpeg = cv2.imencode(".jpg", image_to_bgr(image), [cv2.IMWRITE_JPEG_QUALITY, 95])
            if not ok:
                raise RuntimeError(f"cannot encode the frame at {stamp}")
            compressed = CompressedImage(format="jpeg", data=jpeg.tobytes())
            compressed.header = image.header
            done = lambda s=stamp: s in got["obstacles"] and s in got["grid"]  # noqa: E731
            for _attempt in range(2):  # best effort: one resend if the frame got lost
                clock_pub.publish(clock)
                _spin_until(executor, lambda: False, 0.01)
                if CAMERA_INFO in frame:
                    info_pub.publish(frame[CAMERA_INFO])
                if ODOM in frame:
                    odom_pub.publish(frame[ODOM])
                _spin_until(executor, lambda: False, 0.01)
                image_pub.publish(compressed)
                if _spin_until(executor, done, frame_timeout / 2):
                    break
            _spin_until(executor, lambda s=stamp: s in got["markers"], 0.2)
            truth = truth_from_msg(frame[GROUND_TRUTH]) if GROUND_TRUTH in frame else []
            output = None
            if done():
                markers = got["markers"].get(stamp, MarkerArray())
                output = _output_from_msgs(got["obstacles"][stamp], markers, got["grid"][stamp])
            out.append(ReplayFrame(stamp, truth, output))
        return out
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.shutdown(context=context)


def _spin_until(executor, predicate, timeout: float) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        executor.spin_once(timeout_sec=0.01)
    return bool(predicate())


# -- comparison ------------------------------------------------------------------------------------


def _gate(distance: float) -> float:
    return max(1.0, 0.15 * distance)


def _cell_value(out: MapperOutput, x: float, y: float) -> int:
    col = math.floor((x - out.origin[0]) / out.resolution)
    row = math.floor((y - out.origin[1]) / out.resolution)
    rows, cols = out.grid.shape
    if 0 <= row < rows and 0 <= col < cols:
        return int(out.grid[row, col])
    return -1


def compare(
    frames: Sequence[ReplayFrame], max_range: float = 15.0, min_visible: float = 0.5, skip: int = 5
) -> Comparison:
    """Obstacles, markers and grid of each frame (after ``skip`` frames: tracks need a few hits to
    be published) against the frame's ground truth."""
    result = Comparison()
    for frame in frames[skip:]:
        result.frames += 1
        out = frame.output
        if out is None:
            continue
        result.frames_with_output += 1
        result.obstacles += len(out.obstacles)
        cubes = sorted((round(c[0], 3), round(c[1], 3)) for c in out.cubes)
        tracks = sorted(
            (round(float(t.position[0]), 3), round(float(t.position[1]), 3)) for t in out.obstacles
        )
        result.markers_consistent += cubes == tracks
        for ob in out.obstacles:
            near = [np.hypot(ob.position[0] - t.x, ob.position[1] - t.y) for t in frame.truth]
            if not near or min(near) > _gate(math.hypot(*ob.position)):
                result.false_obstacles += 1
        for t in frame.truth:
            distance = math.hypot(t.x, t.y)
            if t.visible < min_visible or distance > max_range:
                continue
            result.visible_objects += 1
            same = [ob for ob in out.obstacles if ob.class_name == t.class_name]
            if not same:
                continue
            best = min(same, key=lambda ob: np.hypot(ob.position[0] - t.x, ob.position[1] - t.y))
            error = float(np.hypot(best.position[0] - t.x, best.position[1] - t.y))
            if error > _gate(distance):
                continue
            result.matched += 1
            result.errors_pct.append(100.0 * error / distance)
            result.truth_on_occupied += _cell_value(out, t.x, t.y) >= OCCUPIED
    return result


# -- picture ---------------------------------------------------------------------------------------


def plot(frames: Sequence[ReplayFrame], path: Path, panels: int = 3) -> Path:
    """Grid + marker boxes + velocity arrows + ground truth, in base_link, for a few frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon, Rectangle

    with_output = [f for f in frames if f.output is not None]
    if not with_output:
        raise RuntimeError("no frame with mapper output to plot")
    picks = [with_output[round(i * (len(with_output) - 1) / max(panels - 1, 1))] for i in range(panels)]
    fig, axes = plt.subplots(1, len(picks), figsize=(5.2 * len(picks), 6.2), squeeze=False)
    t0 = frames[0].stamp
    for ax, frame in zip(axes[0], picks, strict=True):
        out = frame.output
        rows, cols = out.grid.shape
        shown = np.where(out.grid < 0, 0.5, 1.0 - out.grid.astype(float) / 100.0)  # unknown grey
        extent = (
            out.origin[0],
            out.origin[0] + cols * out.resolution,
            out.origin[1],
            out.origin[1] + rows * out.resolution,
        )
        # base_link x forward drawn upwards, y left drawn leftwards (as RViz's top-down view).
        ax.imshow(
            np.rot90(shown, 1)[:, ::-1], extent=(extent[3], extent[2], extent[0], extent[1]), cmap="gray",
            vmin=0, vmax=1, interpolation="nearest",
        )  # fmt: skip
        for t in frame.truth:
            c, s = math.cos(t.yaw), math.sin(t.yaw)
            corners = [
                (t.x + c * dx - s * dy, t.y + s * dx + c * dy)
                for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
                for dx, dy in [(dx * t.size[0] / 2, dy * t.size[1] / 2)]
            ]
            ax.add_patch(
                Polygon([(y, x) for x, y in corners], closed=True, fill=False, ec="tab:green", lw=1.5,
                        ls="-" if t.visible > 0 else ":")
            )  # fmt: skip
        for x, y, sx, sy in out.cubes:
            ax.add_patch(Rectangle((y - sy / 2, x - sx / 2), sy, sx, fill=False, ec="tab:red", lw=1.5))
        for x0, y0, x1, y1 in out.arrows:
            ax.annotate(
                "", xy=(y1, x1), xytext=(y0, x0), arrowprops={"arrowstyle": "->", "color": "tab:blue"}
            )
        for ob in out.obstacles:
            ax.text(ob.position[1], ob.position[0] + 0.9, f"#{ob.id} {ob.class_name}", fontsize=7,
                    color="tab:red", ha="center")  # fmt: skip
        ax.set_xlim(8, -8)
        ax.set_ylim(-1, 20)
        ax.set_aspect("equal")
        ax.set_xlabel("y (m, base_link; left is +)")
        ax.set_ylabel("x (m, base_link)")
        ax.set_title(f"t = {frame.stamp - t0:.2f} s", fontsize=10)
    handles = [
        Rectangle((0, 0), 1, 1, fill=False, ec="tab:green", label="ground truth (dotted: out of view)"),
        Rectangle((0, 0), 1, 1, fill=False, ec="tab:red", label="/obstacles/markers boxes"),
        Rectangle((0, 0), 1, 1, fc="black", label="/obstacle_map occupied (grey: unknown)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--bag", type=Path, help="replay this simulator bag (needs /sim/ground_truth)")
    source.add_argument("--scenario", default="obstacle_beside_path", help="write a bag of this scenario")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the written bag")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "mapper_replay", help="bag folder")
    parser.add_argument("--plot", type=Path, help="folder for mapper_replay.png")
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    args = parser.parse_args(argv)
    bag = args.bag or write_simulator_bag(args.scenario, args.work / "bag", args.seconds)
    frames = replay_through_nodes(bag, args.model)
    figures = compare(frames).as_dict()
    print(json.dumps(figures, indent=2))
    if args.plot is not None:
        print(f"picture: {plot(frames, args.plot / 'mapper_replay.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
