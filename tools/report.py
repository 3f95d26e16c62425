"""Run report from a recorded bag: HTML page + PNG plots + annotated GIF + a terminal summary.

    python -m edge_rover.tools.report out/last_run --out out/report [--metrics out/last_run_metrics.json]

Reads /safety/status (controller state, TTC, gap, brake, latency), /cmd_vel, /odom,
/camera/image_raw + /detections (annotated GIF), /obstacles and /sim/ground_truth (bird's-eye).
Works on any recording of the graph: missing topics just leave their plot out.
"""

from __future__ import annotations

import argparse
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image as PILImage
from rclpy.serialization import deserialize_message
from rosidl_runtime_py.utilities import get_message

from edge_rover.bags.reader import read_messages
from edge_rover.common.graph import (
    CAMERA_IMAGE,
    CMD_VEL,
    DETECTIONS,
    GROUND_TRUTH,
    OBSTACLE_MAP,
    OBSTACLES,
    ODOM,
    SAFETY_STATUS,
    graph_name,
)
from edge_rover.common.msgs.detections import detections_from_msg
from edge_rover.common.msgs.diagnostics import STAGE_KEYS, diagnostics_from_msg
from edge_rover.common.msgs.grid import grid_from_msg
from edge_rover.common.msgs.image import image_to_bgr
from edge_rover.common.msgs.obstacles import obstacles_from_msg
from edge_rover.common.msgs.odometry import odometry_from_msg
from edge_rover.common.msgs.stamps import stamp_to_sec
from edge_rover.common.msgs.twist import twist_from_msg

# The controller's /safety/status `state` vocabulary, in order of severity.
STATES = list(STAGE_KEYS.values())
BRAKING_STATES = {STAGE_KEYS[k] for k in ("PARTIAL_BRAKE", "FULL_BRAKE", "HOLD", "WATCHDOG_STOP")}


@dataclass
class RunSeries:
    """Time series pulled out of a run (t in seconds from the first message)."""

    t0: float | None = None
    status: list[dict[str, Any]] = field(default_factory=list)
    odom: list[tuple[float, float, float, float, float]] = field(default_factory=list)  # t, x, y, yaw, v
    cmd: list[tuple[float, float, float, float | None]] = field(default_factory=list)  # t, v, w, latency
    frames: list[tuple[float, float, np.ndarray]] = field(default_factory=list)  # t, stamp, image
    detections: dict[float, list[tuple[str, float, tuple[float, float, float, float]]]] = field(
        default_factory=dict
    )
    truth: list[tuple[float, np.ndarray]] = field(default_factory=list)  # t, (N,2) positions in base_link
    obstacles: list[tuple[float, np.ndarray]] = field(default_factory=list)
    obstacle_ids: list[list[str]] = field(default_factory=list)  # parallel to obstacles
    grids: list[tuple[float, np.ndarray, float, tuple[float, float]]] = field(
        default_factory=list
    )  # t, cells, res, origin

    def rel(self, stamp_ns: int) -> float:
        t = stamp_ns / 1e9
        if self.t0 is None:
            self.t0 = t
        return t - self.t0


def _float(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def load_run(bag: Path, max_frames: int = 400, frame_stride: int = 3, grid_stride: int = 5) -> RunSeries:
    series = RunSeries()
    classes: dict[str, type] = {}
    image_index = 0
    grid_index = 0
    for message in read_messages(bag):
        msg_class = classes.setdefault(message.type_name, get_message(message.type_name))
        msg = deserialize_message(message.data, msg_class)
        t = series.rel(message.stamp_ns)
        topic = graph_name(message.topic)  # a run recorded in a namespace reads the same
        if topic == SAFETY_STATUS and msg.status:
            series.status.append({"t": t, **diagnostics_from_msg(msg)[0].values})
        elif topic == ODOM:
            odom = odometry_from_msg(msg)
            series.odom.append((t, odom.x, odom.y, odom.yaw, odom.speed))
        elif topic == CMD_VEL:
            speed, angular_z = twist_from_msg(msg)
            latency = None
            if hasattr(msg, "header") and msg.header.stamp.sec > 0:
                latency = message.stamp_ns / 1e9 - stamp_to_sec(msg.header.stamp)
            series.cmd.append((t, speed, angular_z, latency))
        elif topic == CAMERA_IMAGE:
            image_index += 1
            if image_index % frame_stride == 0 and len(series.frames) < max_frames:
                frame = image_to_bgr(msg)
                scale = 320 / frame.shape[1]
                small = cv2.resize(frame, (320, round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
                series.frames.append((t, stamp_to_sec(msg.header.stamp), small))
        elif topic == DETECTIONS:
            found = detections_from_msg(msg)
            series.detections[round(stamp_to_sec(msg.header.stamp), 6)] = [
                (name, float(score), ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1))
                for (x1, y1, x2, y2), score, name in zip(
                    found.boxes.tolist(), found.scores, found.names, strict=True
                )
            ]
        elif topic in (GROUND_TRUTH, OBSTACLES):
            boxes = obstacles_from_msg(msg)
            points = np.array([b.position for b in boxes], dtype=np.float64).reshape(-1, 2)
            if topic == GROUND_TRUTH:
                series.truth.append((t, points))
            else:
                series.obstacles.append((t, points))
                series.obstacle_ids.append([b.id for b in boxes])
        elif topic == OBSTACLE_MAP:
            grid_index += 1
            if grid_index % grid_stride == 0:
                grid = grid_from_msg(msg)
                series.grids.append((t, grid.cells, grid.resolution, grid.origin[:2]))
    return series


def summarize(series: RunSeries, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    states = [s.get("state", "") for s in series.status]
    # The rover brakes while it waits for its inputs at start-up; the first brake that counts comes
    # after it first drove.
    first_drive = next((i for i, s in enumerate(series.status) if s.get("state") == "drive"), None)
    first_brake = (
        None
        if first_drive is None
        else next((s["t"] for s in series.status[first_drive:] if s.get("state") in BRAKING_STATES), None)
    )
    latencies = np.array([c[3] for c in series.cmd if c[3] is not None and c[3] >= 0])
    latency_source = "/cmd_vel stamp → bag time"
    if latencies.size == 0:  # unstamped Twist: use the controller's own measured input latency
        latency_source = "controller input age (its clock; sim time moves in whole frame steps)"
        # The controller reports its cap (max_latency, 0.5 s) until the first obstacles arrive:
        # that is "no input yet", not a latency, so it is left out.
        latencies = np.array(
            [v for s in series.status if np.isfinite(v := _float(s.get("latency", "nan"))) and v < 0.499]
        )
    gaps = np.array([_float(s.get("gap", "nan")) for s in series.status])
    summary: dict[str, Any] = {
        "duration_s": round(max([s["t"] for s in series.status] + [c[0] for c in series.cmd] + [0.0]), 2),
        "commands": len(series.cmd),
        "time_to_first_brake_s": None if first_brake is None else round(first_brake, 2),
        "full_brake_time_s": round(_time_in(series, STAGE_KEYS["FULL_BRAKE"]), 2),
        "watchdog_stop_time_s": round(_time_in(series, STAGE_KEYS["WATCHDOG_STOP"]), 2),
        "min_gap_seen_m": None if not np.isfinite(gaps).any() else round(float(np.nanmin(gaps)), 2),
        "latency_p50_ms": None
        if latencies.size == 0
        else round(float(np.percentile(latencies, 50)) * 1e3, 1),
        "latency_p99_ms": None
        if latencies.size == 0
        else round(float(np.percentile(latencies, 99)) * 1e3, 1),
        "latency_source": latency_source,
        "states_seen": sorted(set(states)),
    }
    if metrics:
        summary["scenario"] = metrics
    return summary


def _time_in(series: RunSeries, state: str) -> float:
    total = 0.0
    for a, b in zip(series.status, series.status[1:], strict=False):
        if a.get("state") == state:
            total += b["t"] - a["t"]
    return total


def plot_timeline(series: RunSeries, path: Path) -> Path:
    fig, axes = plt.subplots(5, 1, figsize=(10, 11), sharex=True)
    if series.odom:
        o = np.array(series.odom)
        axes[0].plot(o[:, 0], o[:, 4], label="measured speed (odom)")
    if series.cmd:
        c = np.array([(t, v, w) for t, v, w, _ in series.cmd])
        axes[0].plot(c[:, 0], c[:, 1], label="commanded speed", alpha=0.8)
        axes[2].plot(c[:, 0], c[:, 2], label="yaw rate command")
    axes[0].set_ylabel("m/s")
    if series.status:
        t = np.array([s["t"] for s in series.status])
        brake = np.array([_float(s.get("brake", "nan")) for s in series.status])
        stage = np.array(
            [STATES.index(s["state"]) if s.get("state") in STATES else -1 for s in series.status]
        )
        axes[1].plot(t, brake, label="brake command (0..1)")
        label = "state: " + " < ".join(STATES)
        axes[1].step(t, stage / (len(STATES) - 1), where="post", label=label, alpha=0.7)
        steer = np.array([_float(s.get("cmd_steering_angle", "nan")) for s in series.status])
        axes[2].plot(t, steer, label="steering angle (rad)")
        ttc = np.array([_float(s.get("ttc", "nan")) for s in series.status])
        axes[3].plot(t, np.clip(ttc, 0, 10), label="TTC (s, clipped at 10)")
        gap = np.array([_float(s.get("gap", "nan")) for s in series.status])
        axes[3].plot(t, np.clip(gap, 0, 30) / 3, label="gap / 3 (m)", alpha=0.6)
        latency = np.array([_float(s.get("latency", "nan")) for s in series.status]) * 1e3
        axes[4].plot(t, latency, label="controller input latency (ms)")
    lat = [(t, lat * 1e3) for t, _, _, lat in series.cmd if lat is not None]
    if lat:
        arr = np.array(lat)
        axes[4].plot(arr[:, 0], arr[:, 1], label="image stamp → /cmd_vel (ms)", alpha=0.7)
    for ax, label in zip(axes, ["speed", "braking", "steering", "TTC / gap", "latency"], strict=True):
        ax.set_title(label, loc="left", fontsize=9)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_birdseye(series: RunSeries, path: Path) -> Path:
    """Rover path (odom frame) with ground-truth and tracked obstacles placed through the rover pose."""
    fig, ax = plt.subplots(figsize=(8, 6))
    odom = np.array(series.odom) if series.odom else np.zeros((0, 5))
    if len(odom):
        ax.plot(odom[:, 1], odom[:, 2], "k-", label="rover path")

    def to_world(t: float, pts: np.ndarray) -> np.ndarray:
        if len(odom) == 0 or len(pts) == 0:
            return pts
        i = min(np.searchsorted(odom[:, 0], t), len(odom) - 1)
        x, y, yaw = odom[i, 1:4]
        c, s = math.cos(yaw), math.sin(yaw)
        return np.column_stack([x + c * pts[:, 0] - s * pts[:, 1], y + s * pts[:, 0] + c * pts[:, 1]])

    for data, style, label in (
        (series.truth, "g.", "ground truth"),
        (series.obstacles, "r.", "tracked obstacles"),
    ):
        pts = [to_world(t, p) for t, p in data[::3] if len(p)]
        if pts:
            allp = np.vstack(pts)
            ax.plot(allp[:, 0], allp[:, 1], style, markersize=2, label=label, alpha=0.6)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("bird's-eye view (odom frame)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def annotated_gif(series: RunSeries, path: Path, fps: float = 8.0) -> Path | None:
    if not series.frames:
        return None
    images = []
    for t, stamp, frame in series.frames:
        canvas = frame.copy()
        scale = canvas.shape[1] / 640.0
        for name, score, (cx, cy, w, h) in series.detections.get(round(stamp, 6), []):
            x1, y1 = int((cx - w / 2) * scale), int((cy - h / 2) * scale)
            x2, y2 = int((cx + w / 2) * scale), int((cy + h / 2) * scale)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 255, 0), 1)
            cv2.putText(
                canvas,
                f"{name} {score:.2f}",
                (x1, max(8, y1 - 2)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.3,
                (0, 255, 0),
                1,
            )
        cv2.putText(canvas, f"t={t:5.2f}s", (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        images.append(PILImage.fromarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)))
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def write_html(summary: dict[str, Any], files: dict[str, Path | None], path: Path) -> Path:
    def cell(value: Any) -> str:
        return html.escape(json.dumps(value) if isinstance(value, dict | list) else str(value))

    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{cell(v)}</td></tr>" for k, v in summary.items())
    blocks = "".join(
        f"<h2>{html.escape(title)}</h2><img src='{p.name}' style='max-width:100%'>"
        for title, p in files.items()
        if p
    )
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>edge_rover run report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}th{text-align:left;padding-right:1em}</style>"
        f"</head><body><h1>edge_rover run report</h1><table>{rows}</table>{blocks}</body></html>"
    )
    return path


def make_report(bag: Path, out: Path, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    series = load_run(bag)
    summary = summarize(series, metrics)
    files = {
        "Speed, braking, steering, TTC and latency": plot_timeline(series, out / "timeline.png"),
        "Bird's-eye view": plot_birdseye(series, out / "birdseye.png"),
        "Camera with detections": annotated_gif(series, out / "camera.gif"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    write_html(summary, files, out / "index.html")
    return summary


def _fmt(value: Any, unit: str, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:.{digits}f} {unit}".rstrip()
    return f"{value} {unit}".rstrip()


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The run for a person: one screen, units, no raw dictionaries."""
    lines = []
    m = summary.get("scenario")
    if m:
        lines += [
            f"  scenario     {m.get('scenario', '?')}: {_fmt(m.get('duration_s'), 's', 1)} simulated, "
            f"progress {_fmt(m.get('progress_m'), 'm', 1)}, mean speed {_fmt(m.get('mean_speed'), 'm/s')}",
            f"  safety       collided: {_fmt(bool(m.get('collided')), '')}, "
            f"min gap {_fmt(m.get('min_gap_m'), 'm')}, stopped {_fmt(m.get('stop_gap_m'), 'm')} before "
            f"the target, left the road: {_fmt(m.get('left_road_s') is not None, '')}",
            f"  braking      first brake at {_fmt(m.get('first_brake_s'), 's')}, reaction "
            f"{_fmt(m.get('reaction_time_s'), 's')}, braking {_fmt(m.get('braking_s'), 's', 1)} "
            f"(of it for nothing: {_fmt(m.get('false_braking_s'), 's', 1)})",
        ]
    lines += [
        f"  controller   {summary.get('commands', 0)} commands, full brake "
        f"{_fmt(summary.get('full_brake_time_s'), 's', 1)}, watchdog stop "
        f"{_fmt(summary.get('watchdog_stop_time_s'), 's', 1)}, "
        f"states: {', '.join(summary.get('states_seen', []))}",
        f"  latency      p50 {_fmt(summary.get('latency_p50_ms'), 'ms', 1)}, p99 "
        f"{_fmt(summary.get('latency_p99_ms'), 'ms', 1)} ({summary.get('latency_source', '')})",
    ]
    return lines


def print_summary(summary: dict[str, Any]) -> None:
    print("\n".join(summary_lines(summary)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bag", type=Path)
    parser.add_argument("--out", type=Path, default=Path("out/report"))
    parser.add_argument("--metrics", type=Path, help="scenario metrics JSON written by the simulator")
    args = parser.parse_args(argv)
    metrics = json.loads(args.metrics.read_text()) if args.metrics and args.metrics.is_file() else None
    summary = make_report(args.bag, args.out, metrics)
    print_summary(summary)
    print(f"\nreport: {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
