"""Report and Rerun export from a real bag of graph messages: plots/GIF/HTML are written, the
summary reflects the run, and the .rrd holds every entity with one image per recorded frame."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray

from edge_rover.bags.writer import BagWriter
from edge_rover.common.msgs.detections import detections_to_msg
from edge_rover.common.msgs.diagnostics import Status, diagnostics_to_msg
from edge_rover.common.msgs.grid import grid_to_msg
from edge_rover.common.msgs.image import bgr_to_image
from edge_rover.common.msgs.obstacles import Obstacle3D, obstacles_to_msg
from edge_rover.common.msgs.odometry import odometry_to_msg
from edge_rover.common.msgs.stamps import sec_to_stamp
from edge_rover.common.msgs.twist import twist_stamped_to_msg
from edge_rover.tools.report import load_run, make_report

FRAMES = 24
T0 = 1000.0


def _status(t: float, state: str, ttc: float, brake: float) -> DiagnosticArray:
    values = {"state": state, "ttc": f"{ttc:.3f}", "gap": f"{ttc * 2:.3f}", "brake": f"{brake:.2f}",
              "ego_speed": "2.0", "cmd_steering_angle": "0.0", "latency": "0.030"}  # fmt: skip
    return diagnostics_to_msg(Status(name="controller: safety", level=0, values=values), sec_to_stamp(t))


@pytest.fixture(scope="module")
def run_bag(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("run") / "bag"
    with BagWriter(path) as bag:
        for i in range(FRAMES):
            t = T0 + i / 10
            ns = round(t * 1e9)
            bag.write(
                "/camera/image_raw",
                bgr_to_image(np.full((480, 640, 3), i * 8, np.uint8), sec_to_stamp(t), "cam"),
                ns,
            )
            stamp = sec_to_stamp(t)
            dets = detections_to_msg([(295.0, 240.0, 345.0, 360.0)], [0.9], ["person"], stamp, "cam")
            bag.write("/detections", dets, ns + 10_000_000)
            obs = Obstacle3D("7", "person", 0.9, (10.0 - i * 0.3, 0.0), (0.5, 0.5, 1.7))
            bag.write("/obstacles", obstacles_to_msg([obs], stamp, "base_link"), ns + 20_000_000)
            odom = odometry_to_msg(
                (i * 0.2, 0.0, 0.0), 2.0 if i < 15 else 0.0, 0.0, stamp, "odom", "base_link"
            )
            bag.write("/odom", odom, ns + 5_000_000)
            state = "drive" if i < 10 else ("partial" if i < 15 else "full")
            bag.write(
                "/safety/status", _status(t, state, 5.0 - i * 0.2, 0.0 if i < 10 else 1.0), ns + 30_000_000
            )
            cmd = twist_stamped_to_msg(2.0 if i < 10 else 0.0, 0.0, stamp, "base_link")
            bag.write("/cmd_vel", cmd, ns + 40_000_000)
            cells = np.array([-1] * 100 + [0] * 95 + [100] * 5, np.int8).reshape(10, 20)
            bag.write(
                "/obstacle_map", grid_to_msg(cells, 0.5, (0.0, 0.0), stamp, "base_link"), ns + 25_000_000
            )
    return path


def test_report_writes_pictures_and_a_true_summary(run_bag: Path, tmp_path: Path) -> None:
    summary = make_report(run_bag, tmp_path / "report", {"collided": False})
    for name in ("timeline.png", "birdseye.png", "camera.gif", "index.html", "summary.json"):
        assert (tmp_path / "report" / name).stat().st_size > 200, name
    assert summary["time_to_first_brake_s"] == pytest.approx(
        1.03, abs=0.02
    )  # first partial brake at frame 10
    assert summary["latency_p50_ms"] == pytest.approx(40.0, abs=1.0)  # cmd written 40 ms after its stamp
    assert set(summary["states_seen"]) == {"drive", "partial", "full"}
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["scenario"] == {"collided": False}


def test_rerun_recording_has_every_entity_and_one_image_per_frame(run_bag: Path, tmp_path: Path) -> None:
    pytest.importorskip("rerun")
    from rerun.chunk import RrdReader

    from edge_rover.tools.rerun_export import export

    series = load_run(run_bag, max_frames=10_000, frame_stride=1, grid_stride=1)
    path = export(series, tmp_path / "run.rrd")
    rows: dict[str, int] = {}
    for chunk in RrdReader(path).stream():
        rows[str(chunk.entity_path)] = rows.get(str(chunk.entity_path), 0) + chunk.num_rows
    assert rows["/camera/image"] == FRAMES
    assert rows["/camera/image/detections"] == FRAMES
    assert rows["/world/base_link/obstacles"] == FRAMES
    assert rows["/grid"] == FRAMES
    for entity in ("/plots/speed", "/plots/brake", "/plots/ttc", "/plots/latency", "/plots/steering",
                   "/world/odom/rover_path"):  # fmt: skip
        assert rows.get(entity, 0) > 0, (entity, sorted(rows))


def test_first_brake_counts_from_the_first_drive_not_the_start_up_stop() -> None:
    from edge_rover.tools.report import RunSeries, summarize

    states = ["stop", "stop", "drive", "drive", "warn", "partial", "full"]
    series = RunSeries(status=[{"t": 0.5 * i, "state": s} for i, s in enumerate(states)])
    assert summarize(series)["time_to_first_brake_s"] == 2.5
    never_drove = RunSeries(status=[{"t": 0.5 * i, "state": "stop"} for i in range(4)])
    assert summarize(never_drove)["time_to_first_brake_s"] is None
