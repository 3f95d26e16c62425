"""Fault injection through the real graph, part 2: a bag with a gap, and a frozen camera.

1. A rosbag2 (MCAP, simulator frames) whose camera stream stops for GAP_S is replayed by the
   replay node (/clock, use_sim_time) into detector → obstacle_mapper → controller, each a process
   on real DDS. During the gap the controller's watchdog stops the rover naming the stale input
   and /cmd_vel brakes to zero; the mapper resets its tracker (gap > max_gap); after the gap the
   rover drives again only once the inputs have been fresh for `recovery_time`.
2. The real camera node reads a folder of simulator frames; the test freezes the camera by
   rewriting every file with the same picture (a driver repeating its last buffer). The camera
   stops publishing and reports "camera frozen" on /diagnostics, the controller stops ("stale");
   restoring the frames thaws it and the rover drives again after `recovery_time`.

Assertions are on message content (statuses' decision times and input ages, stamps, diagnostics,
logs), never on wall-clock durations; reaction times are printed (`-s`) for the README table.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.integration.test_faults import Probe, _children, _drain, _wait_gone, stale_trip
from tests.ros_helpers import running_process

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SIZE = (320, 240)  # small frames: they cross UDP (the test transport) whole
FPS = 10.0
FRAME_PERIOD = 1.0 / FPS
STALE_PERIODS = 3.0  # config/controller.yaml
STALE_AFTER = FRAME_PERIOD * STALE_PERIODS
RECOVERY_TIME = 0.5  # config/controller.yaml
CONTROL_PERIOD = 0.02  # config/controller.yaml rate_hz 50
BEFORE_S, GAP_S, AFTER_S = 4.0, 3.0, 3.0
FREEZE_TIMEOUT = 0.5  # camera default


def _launch_file(path: Path, use_sim_time: bool, extra_nodes: str) -> Path:
    """A launch file of the pipeline (launch_helpers, respawn and all) plus ``extra_nodes``, with
    the controller's watchdog told the frame period of these 10 fps inputs."""
    path.write_text(
        "from launch import LaunchDescription\n"
        "from launch_ros.actions import Node\n"
        "from edge_rover.common.launch_helpers import PACKAGE, node_params, pipeline_nodes\n\n\n"
        "def generate_launch_description():\n"
        f"    extra = [{extra_nodes}]\n"
        f"    overrides = {{'controller': {{'frame_period': {FRAME_PERIOD}}}}}\n"
        f"    return LaunchDescription(extra + pipeline_nodes({use_sim_time}, None, overrides))\n"
    )
    return path


def _node(executable: str, params: dict) -> str:
    return (
        f"Node(package=PACKAGE, executable={executable!r}, name={executable!r}, output='screen', "
        f"emulate_tty=True, parameters=node_params({executable!r}, {params!r}))"
    )


def _gap_bag(path: Path) -> tuple[float, float]:
    """Simulator frames at FPS with no camera message for GAP_S; returns (last stamp before the
    gap, first stamp after it)."""
    from edge_rover.bags.writer import BagWriter
    from edge_rover.common.msgs.image import bgr_to_image, intrinsics_to_camera_info
    from edge_rover.common.msgs.stamps import sec_to_stamp
    from edge_rover.simulation.closed_loop import default_rig
    from edge_rover.simulation.frames import scenario_frames

    start = 1_700_000_000.0
    before, after = round(BEFORE_S * FPS), round(AFTER_S * FPS)
    stamps = [start + i / FPS for i in range(before)]
    stamps += [stamps[-1] + GAP_S + i / FPS for i in range(after)]
    intrinsics = default_rig(*SIZE).intrinsics
    frames = scenario_frames("static_obstacle", len(stamps), *SIZE)
    with BagWriter(path, storage="mcap") as bag:
        for t, frame in zip(stamps, frames, strict=True):
            stamp, stamp_ns = sec_to_stamp(t), round(t * 1e9)
            bag.write("/camera/image_raw", bgr_to_image(frame, stamp, "camera_optical_frame"), stamp_ns)
            info = intrinsics_to_camera_info(intrinsics, stamp, "camera_optical_frame")
            bag.write("/camera/camera_info", info, stamp_ns)
    return stamps[before - 1], stamps[before]


def _first(statuses: list[dict[str, str]], start: int, predicate) -> int | None:
    return next((i for i in range(start, len(statuses)) if predicate(statuses[i])), None)


def test_bag_with_a_gap_stops_the_rover_resets_the_tracker_and_resumes_after_recovery(
    ros_context, tmp_path: Path
) -> None:
    from vision_msgs.msg import Detection3DArray

    from edge_rover.common.qos import SENSOR_QOS

    last_before, first_after = _gap_bag(tmp_path / "gap_bag")
    replay = _node(
        "bag_replay",
        {"bag": str(tmp_path / "gap_bag"), "wait_for_subscribers": 1, "wait_timeout": 120.0,
         "exit_at_end": False},
    )  # fmt: skip
    launch_file = _launch_file(tmp_path / "gap.launch.py", True, replay)
    probe = Probe(ros_context)
    tracked: list[tuple[float, int]] = []  # (stamp, number of obstacles)
    probe.node.create_subscription(
        Detection3DArray,
        "/obstacles",
        lambda m: tracked.append((m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, len(m.detections))),
        SENSOR_QOS,
    )
    st = probe.statuses
    with running_process(["ros2", "launch", str(launch_file)]) as launch:
        lines = _drain(launch)
        probe.logs.append(lines)
        probe.wait(lambda: probe.driving_since(0), 90.0, "driving before the gap", launch)
        assert float(st[-1]["decision_time"]) < last_before, "the rover only drove after the gap began"
        probe.wait(
            lambda: any(float(s["decision_time"]) > first_after + RECOVERY_TIME + 1.0 for s in st),
            60.0,
            "the bag to play past the gap",
            launch,
        )
        output = "".join(lines)
        nodes = _children(launch.pid)
        assert launch.poll() is None
    _wait_gone(nodes)
    assert "Traceback" not in output, output[-3000:]

    # The watchdog stop: the first decision past the staleness threshold after the last frame,
    # naming the stale input; before it the rover drove on fresh inputs.
    # (a fresh trip: a transient stop's latch carried past the last frame is not the gap's stop)
    stop = _first(st, 0, lambda s: stale_trip(s) and float(s["decision_time"]) > last_before)
    assert stop is not None, st[-5:]
    first_stop = st[stop]
    stop_time = float(first_stop["decision_time"])
    assert "frames" in first_stop["reason"] or "obstacles" in first_stop["reason"], first_stop
    assert stop_time < first_after, "no stop during the gap"
    assert st[stop - 1]["state"] == "drive" or "latched" in st[stop - 1]["reason"], st[stop - 1]
    reaction = stop_time - last_before
    # the last frame's detections arrive a little after its stamp: the stop comes after the
    # threshold (counted from the frame's stamp) and at most one control period plus the
    # pipeline's delay later
    assert reaction >= STALE_AFTER - 1e-6, first_stop
    # /cmd_vel brakes to standstill during the gap, and nothing drives until the inputs are back
    in_gap = [s for s in st[stop:] if float(s["decision_time"]) < first_after]
    assert all(s["state"] == "stop" for s in in_gap), [s for s in in_gap if s["state"] != "stop"][:2]
    zero = next(s for s in in_gap if float(s["cmd_speed"]) == 0.0)
    assert 0.0 in probe.cmds or min(probe.cmds) < 1e-3
    # the tracker reset on the first frame after the gap (gap > max_gap 2 s), logged by the mapper
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)  # emulate_tty colours the log lines
    resets = [line for line in plain.splitlines() if "tracker and grid reset: gap of" in line]
    assert resets, output[-3000:]
    gap_logged = float(resets[0].split("gap of ")[1].split(" s")[0])
    assert gap_logged == pytest.approx(first_after - last_before, abs=0.02)
    # back to driving only after the inputs were fresh for recovery_time
    back = _first(st, stop, lambda s: s["state"] == "drive")
    assert back is not None, st[-5:]
    back_time = float(st[back]["decision_time"])
    assert back_time >= first_after + RECOVERY_TIME - CONTROL_PERIOD, st[back]
    assert any("latched" in s["reason"] for s in st[stop:back])
    tracks_before = max((n for t, n in tracked if t <= last_before), default=0)
    print(
        f"\nbag gap {first_after - last_before:.1f} s: watchdog stop {reaction:.3f} s (sim) after the last "
        f"frame (threshold {STALE_AFTER:.2f} s), reason {first_stop['reason']!r}; speed 0 commanded at "
        f"+{float(zero['decision_time']) - last_before:.2f} s"
        f"\nmapper: {resets[0].split('reset: ', 1)[-1]} (tracks before the gap: {tracks_before})"
        f"\ndriving again {back_time - first_after:.3f} s (sim) after the first frame after the gap"
    )


def _level(status: object) -> int:
    return status.level[0] if isinstance(status.level, bytes) else int(status.level)


def _write_atomically(path: Path, image: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp")  # not an image extension: never listed by the folder source
    ok, png = cv2.imencode(".png", image)
    assert ok
    tmp.write_bytes(png.tobytes())
    os.replace(tmp, path)


def test_frozen_camera_stops_publishing_the_rover_stops_and_drives_after_it_thaws(
    ros_context, tmp_path: Path
) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CameraInfo

    from edge_rover.common.msgs.stamps import stamp_to_sec
    from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
    from edge_rover.simulation.frames import scenario_frames

    folder = tmp_path / "frames"
    folder.mkdir()
    frames = list(scenario_frames("clear_road", 12, *SIZE))
    paths = [folder / f"{i:03d}.png" for i in range(len(frames))]
    for path, frame in zip(paths, frames, strict=True):
        _write_atomically(path, frame)
    camera = _node(
        "camera",
        {"source": str(folder), "loop": True, "fps": FPS, "width": SIZE[0], "height": SIZE[1],
         "freeze_timeout_s": FREEZE_TIMEOUT},
    )  # fmt: skip
    launch_file = _launch_file(tmp_path / "camera.launch.py", False, camera)
    probe = Probe(ros_context)
    node, st = probe.node, probe.statuses
    infos: list[float] = []
    camera_diags: list[tuple[int, str]] = []
    node.create_subscription(
        CameraInfo, "/camera/camera_info", lambda m: infos.append(stamp_to_sec(m.header.stamp)), SENSOR_QOS
    )
    node.create_subscription(
        DiagnosticArray,
        "/diagnostics",
        lambda m: camera_diags.extend(
            (s.level[0] if isinstance(s.level, bytes) else s.level, s.message)
            for s in m.status
            if s.name == "camera"
        ),
        RELIABLE_QOS,
    )

    def now() -> float:
        return node.get_clock().now().nanoseconds * 1e-9

    with running_process(["ros2", "launch", str(launch_file)]) as launch:
        lines = _drain(launch)
        probe.logs.append(lines)
        # (and the probe hearing the camera: its discovery of the camera's writer can lag the graph's)
        probe.wait(
            lambda: probe.driving_since(0) and bool(infos),
            90.0,
            "the rover to drive on the live camera (and the probe to hear it)",
            launch,
        )

        # --- freeze: every file becomes the same picture (a driver repeating its last buffer)
        mark, diag_mark = len(st), len(camera_diags)
        frozen_at = now()
        for path in paths:
            _write_atomically(path, frames[0])
        probe.wait(
            lambda: any(level == 2 and "camera frozen" in msg for level, msg in camera_diags[diag_mark:]),
            30.0,
            "the camera's ERROR diagnostics",
            launch,
        )
        frozen_msg = next(msg for level, msg in camera_diags[diag_mark:] if "camera frozen" in msg)
        # the camera publishes nothing while frozen: no camera_info for a whole second (read after
        # a short settle, so a frame already in flight when the diagnostics came is counted)
        settle = now()
        probe.wait(lambda: now() > settle + 0.3, 5.0, "in-flight frames to land", launch)
        last_info = max(infos)
        probe.wait(lambda: now() > last_info + 1.0, 5.0, "a second of frozen camera", launch)
        assert max(infos) == last_info, "the camera kept publishing a frozen view"

        # The watchdog stop that the silence causes: a fresh trip ("latched" not yet in the reason)
        # decided after the last frame. A loaded machine may add a transient stale stop while the
        # frozen frames still flowed; its latch can release in the last 0.3 s of those frames (all
        # inputs younger than the threshold: a correct drive decision), so it does not count here.
        def silence_stop(s: dict) -> bool:
            return stale_trip(s) and float(s["decision_time"]) > last_info

        probe.wait(lambda: any(silence_stop(s) for s in st[mark:]), 30.0, "the watchdog stop", launch)
        stop = _first(st, mark, silence_stop)
        stop_time = float(st[stop]["decision_time"])
        assert stop_time - last_info < 2.0, "the watchdog took too long to stop after the camera went silent"
        moving = [s for s in st[stop:] if s["state"] != "stop"]
        assert not moving, f"drove on a frozen camera (last frame {last_info:.6f}): {st[stop]}, {moving[:2]}"
        # and no drive decision, before or after, rested on frames older than the threshold
        old_frames = [s for s in st if s["state"] == "drive" and float(s["age_frames"]) > STALE_AFTER]
        assert not old_frames, old_frames[:2]

        # --- thaw: the frames change again
        mark = len(st)
        thawed_at = now()
        for path, frame in zip(paths, frames, strict=True):
            _write_atomically(path, frame)
        probe.wait(lambda: probe.driving_since(mark), 30.0, "driving after the camera thawed", launch)
        back = _first(st, mark, lambda s: s["state"] == "drive")
        back_time = float(st[back]["decision_time"])
        first_fresh = min(t for t in infos if t > last_info)
        assert back_time >= first_fresh + RECOVERY_TIME - CONTROL_PERIOD, (st[back], first_fresh)
        assert any("latched" in s["reason"] for s in st[mark:back])
        assert launch.poll() is None
        output = "".join(lines)
        nodes = _children(launch.pid)
    _wait_gone(nodes)
    assert "Traceback" not in output, output[-3000:]
    assert "camera frozen: identical frames for" in output and "camera content changes again" in output
    print(
        f"\ncamera frozen (same picture repeated): last frame published {last_info - frozen_at:.3f} s after "
        f"the freeze, watchdog stop {stop_time - frozen_at:.3f} s after it (freeze_timeout "
        f"{FREEZE_TIMEOUT} s + staleness {STALE_AFTER:.2f} s), reason {st[stop]['reason']!r}; "
        f"diagnostics: {frozen_msg!r}"
        f"\nthawed: first frame {first_fresh - thawed_at:.3f} s after, driving {back_time - thawed_at:.3f} s "
        "after (wall)"
    )
