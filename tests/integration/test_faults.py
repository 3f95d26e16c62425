"""Fault injection through the real graph: `sim.launch.py` runs sim + detector + obstacle_mapper +
controller as separate processes on real DDS, and the test breaks things while it runs.

Faults, in one run (one graph start keeps this test cheap on a 2-core machine):
1. sim time jumps backwards (the scenario is short and `end_action:=restart` starts it again at
   its first stamp): nothing crashes, the mapper resets its tracker, the controller reports the
   clock jump (watchdog stop) and drives again once its inputs are fresh;
2. the detector is killed with SIGKILL: the controller's /safety/status goes to the watchdog stop
   naming the stale input and /cmd_vel commands braking to zero speed;
3. the launch file respawns the detector (a new /detections publisher), and driving resumes only
   after the inputs have been fresh for `recovery_time`.

Reaction times are read from message content (the status' input ages and decision times, sim
time), never from the wall clock; they are printed for the README's fault table.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.ros_helpers import running_process, shared_memory_transport, spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FRAME_PERIOD = 0.05  # the scenario's step_s; the controller's watchdog counts in it
STALE_PERIODS = 3.0  # config/controller.yaml
STALE_AFTER = FRAME_PERIOD * STALE_PERIODS
RECOVERY_TIME = 0.5  # config/controller.yaml


def _short_scenario(tmp_path: Path) -> Path:
    """clear_road cut to 3 s, so that `end_action:=restart` jumps sim time back early in the run."""
    scenario = yaml.safe_load((REPO_ROOT / "config" / "scenarios" / "clear_road.yaml").read_text())
    scenario["name"] = "clear_road_short"
    scenario["duration_s"] = 3.0
    path = tmp_path / "clear_road_short.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc; the launch process starts each node as its child)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def _wait_gone(pids: list[int], timeout_s: float = 20.0) -> None:
    """Wait until the graph's node processes have exited (launch can exit before its children on a
    loaded machine): a later test's participants must not find this graph's still in the domain."""
    deadline = time.monotonic() + timeout_s
    while any((Path("/proc") / str(pid)).exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)


def _node_pid(launch_pid: int, executable: str) -> int | None:
    for pid in _children(launch_pid):
        try:
            argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.decode(errors="replace").endswith(f"/{executable}") for arg in argv[:2]):
            return pid
    return None


def _drain(proc: object) -> list[str]:
    """Collect a process' output as it comes (a full pipe would stall it); the list fills live."""
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    return lines


class Probe:
    """Records /safety/status and /cmd_vel (message content only) and watches /detections publishers."""

    def __init__(self, context: object) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import Twist
        from rclpy.executors import SingleThreadedExecutor

        from edge_rover.common.qos import RELIABLE_QOS

        self.node = rclpy.create_node("fault_probe", context=context)
        self.statuses: list[dict[str, str]] = []
        self.cmds: list[float] = []
        self.node.create_subscription(DiagnosticArray, "/safety/status", self._on_status, RELIABLE_QOS)
        self.node.create_subscription(Twist, "/cmd_vel", lambda m: self.cmds.append(m.linear.x), RELIABLE_QOS)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.logs: list[list[str]] = []  # process outputs, their tails go into failure messages

    def _on_status(self, msg: object) -> None:
        for status in msg.status:
            self.statuses.append({kv.key: kv.value for kv in status.values})

    def detection_publishers(self) -> int:
        return len(self.node.get_publishers_info_by_topic("/detections"))

    def wait(self, predicate, timeout_s: float, what: str, *procs) -> None:
        def dead() -> bool:
            return any(p.poll() is not None for p in procs)

        if not spin_until(self.executor, lambda: predicate() or dead(), timeout_s):
            pytest.fail(f"timed out waiting for {what}; last status: {self.statuses[-1:]}\n{self._tails()}")
        if dead():
            codes = [p.returncode for p in procs]
            pytest.fail(f"a process exited while waiting for {what} (exit codes {codes})\n{self._tails()}")

    def _tails(self) -> str:
        return "\n".join("".join(log[-30:]) for log in self.logs)

    def driving_since(self, index: int) -> bool:
        return any(s["state"] == "drive" and float(s["cmd_speed"]) > 0.0 for s in self.statuses[index:])


def stale_trip(status: dict[str, str]) -> bool:
    """A watchdog stop freshly tripped by a stale input. While latched the reason says "latched", so
    the tail of an earlier transient stop is not mistaken for the stop a fault causes."""
    return status["state"] == "stop" and "stale" in status["reason"] and "latched" not in status["reason"]


def _age(status: dict[str, str], name: str) -> float | None:
    value = status.get(f"age_{name}", "none")
    return None if value == "none" else float(value)


def test_graph_survives_clock_jump_and_detector_kill_and_respawns_it(ros_context, tmp_path: Path) -> None:
    """One retry, for one known cause only: after a SIGKILL, Fast DDS's shared-memory transport
    sometimes never reconnects the respawned detector (about 1 run in 8 here; docs/faults.md).
    Any other failure, or the same one twice, fails the test."""
    try:
        _graph_fault_run(ros_context, tmp_path / "attempt1")
    except pytest.fail.Exception as first:
        if "timed out waiting" not in str(first):
            raise
        print(f"\nretrying once after a timeout (known shared-memory reconnect issue): {str(first)[:300]}")
        _graph_fault_run(ros_context, tmp_path / "attempt2")


def _graph_fault_run(ros_context: object, tmp_path: Path) -> None:
    tmp_path.mkdir(parents=True, exist_ok=True)
    probe = Probe(ros_context)
    scenario = _short_scenario(tmp_path)
    cmd = ["ros2", "launch", "edge_rover", "sim.launch.py", f"scenario:={scenario}", "lock_step:=true",
           "end_action:=restart", f"frame_period:={FRAME_PERIOD}"]  # fmt: skip
    # lock_step: the simulator waits (1 s wall at most) for each frame's detections, so sim time
    # advances with the pipeline, not with this loaded machine's wall clock; with the detector
    # dead it still advances one frame per second, so the controller sees it go stale.
    with shared_memory_transport() as shm_env, running_process(cmd, env=shm_env) as launch:
        lines = _drain(launch)
        probe.logs.append(lines)
        # --- start-up: the graph drives
        probe.wait(lambda: probe.driving_since(0), 90.0, "the controller to drive", launch)

        # --- fault: sim time jumps back when the scenario restarts
        mark = len(probe.statuses)
        probe.wait(
            lambda: any("clock jumped back" in s["reason"] for s in probe.statuses[mark:]),
            60.0,
            "the controller to report the clock jump",
            launch,
        )
        jump = next(
            i for i in range(mark, len(probe.statuses)) if "clock jumped back" in probe.statuses[i]["reason"]
        )
        assert probe.statuses[jump]["state"] == "stop"
        probe.wait(lambda: probe.driving_since(jump), 60.0, "driving again after the clock jump", launch)
        resumed = next(i for i in range(jump, len(probe.statuses)) if probe.statuses[i]["state"] == "drive")
        jump_hold = float(probe.statuses[resumed]["decision_time"]) - float(
            probe.statuses[jump]["decision_time"]
        )

        # --- fault: the detector dies (SIGKILL: no goodbye on DDS)
        detector = _node_pid(launch.pid, "detector")
        assert detector is not None, "no detector process under the launch"
        probe.wait(
            lambda: bool(probe.statuses) and float(probe.statuses[-1]["cmd_speed"]) > 0.5,
            60.0,
            "driving at speed",
            launch,
        )
        mark, cmd_mark = len(probe.statuses), len(probe.cmds)
        os.kill(detector, signal.SIGKILL)
        wall_killed = time.monotonic()

        probe.wait(
            lambda: any(stale_trip(s) for s in probe.statuses[mark:]),
            60.0,
            "the watchdog stop after the detector died",
            launch,
        )
        stop = next(i for i in range(mark, len(probe.statuses)) if stale_trip(probe.statuses[i]))
        first_stop = probe.statuses[stop]
        # The cycle before the stop was still within the threshold: the stop is the first decision
        # past it, and it names an input that went stale with the detector: its own /detections,
        # or the frames/obstacles downstream of it (which ages first is a race of one cycle).
        downstream = ("detections", "frames", "obstacles")
        assert any(name in first_stop["reason"] for name in downstream), first_stop
        stale_ages = [a for a in (_age(first_stop, name) for name in downstream) if a is not None]
        overshoot = max(stale_ages) - STALE_AFTER
        # The stop is the first decision past the threshold: the one before still saw fresh
        # inputs and drove, or held a transient stop's latch on fresh inputs (sim time advances
        # in whole frames, so the overshoot is 0 or a frame).
        assert overshoot >= -1e-6, first_stop
        before = probe.statuses[stop - 1]
        assert before["state"] != "stop" or "latched" in before["reason"], before
        assert all((_age(before, n) or 0.0) <= STALE_AFTER + 1e-6 for n in ("frames", "obstacles")), before
        # The stop commands braking to standstill, on /safety/status and on /cmd_vel.
        probe.wait(
            lambda: (
                any(float(s["cmd_speed"]) == 0.0 for s in probe.statuses[stop:])
                and min(probe.cmds[cmd_mark:], default=1.0) < 1e-3
            ),
            60.0,
            "zero speed",
            launch,
        )
        assert all(s["state"] == "stop" for s in probe.statuses[stop:]), "drove on stale inputs"
        assert float(first_stop["brake"]) > 0.0 or float(first_stop["cmd_speed"]) == 0.0, first_stop

        # --- recovery: launch respawns the detector, driving resumes after fresh inputs
        probe.wait(
            lambda: (
                _node_pid(launch.pid, "detector") not in (None, detector) and probe.detection_publishers() > 0
            ),
            60.0,
            "the respawned detector's /detections publisher",
            launch,
        )
        respawned_after = time.monotonic() - wall_killed  # informative only, never asserted
        probe.wait(lambda: probe.driving_since(stop), 90.0, "driving after the detector came back", launch)
        back = next(i for i in range(stop, len(probe.statuses)) if probe.statuses[i]["state"] == "drive")
        latched = [s for s in probe.statuses[stop:back] if "latched" in s["reason"]]
        assert latched, "resumed without the recovery latch"
        assert all((_age(probe.statuses[back], n) or 0.0) <= STALE_AFTER for n in ("frames", "obstacles")), (
            probe.statuses[back]
        )
        assert launch.poll() is None
        # What the graph logged while it ran (its shutdown at the end of the test is not a fault).
        output = "".join(lines)
        nodes = _children(launch.pid)
    _wait_gone(nodes)
    assert "tracker and grid reset" in output, "the mapper did not reset its tracker on the clock jump"
    assert "Traceback" not in output, output[-3000:]
    reset_line = next(line for line in output.splitlines() if "tracker and grid reset" in line)
    print(
        f"\nclock jump back: stop at once, driving again after {jump_hold:.3f} s sim"
        f"\ndetector killed: first watchdog stop {abs(overshoot) * 1000:.0f} ms past the "
        f"{STALE_AFTER * 1000:.0f} ms threshold (sim time); reason: {first_stop['reason']!r}"
        f"\ndetector respawned ~{respawned_after:.1f} s (wall) after SIGKILL; driving resumed after "
        f"{len(latched)} latched cycles"
        f"\nmapper: {reset_line.split(': ', 1)[-1]}"
    )


def _detections(stamp: object, boxes: list[tuple[float, float, float, float, str]]) -> object:
    """A Detection2DArray as the detector publishes it; boxes are (cx, cy, w, h, class) in pixels."""
    from edge_rover.common.msgs.detections import detections_to_msg

    corners = [(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2) for cx, cy, w, h, _ in boxes]
    names = [name for *_, name in boxes]
    return detections_to_msg(corners, [0.9] * len(boxes), names, stamp, "camera_optical_frame")


def test_nan_detections_and_a_frozen_camera_end_in_a_safe_reported_state(ros_context) -> None:
    """obstacle_mapper + controller as processes (wall clock); the test plays camera + detector.

    NaN box: the mapper drops that box (counted), keeps publishing finite obstacles, nothing
    crashes. Frozen camera (frames keep coming, stamps stop advancing): the mapper drops the
    too-old frames, the controller's watchdog stops the rover naming the stale input; fresh stamps
    again → it drives after the recovery latch.
    """
    import math

    from sensor_msgs.msg import CameraInfo
    from vision_msgs.msg import Detection2DArray, Detection3DArray

    from edge_rover.calibration.calibration_io import load_camera_info
    from edge_rover.common.msgs.image import intrinsics_to_camera_info
    from edge_rover.common.msgs.stamps import sec_to_stamp
    from edge_rover.common.qos import SENSOR_QOS

    probe = Probe(ros_context)
    node = probe.node
    pub_info = node.create_publisher(CameraInfo, "/camera/camera_info", SENSOR_QOS)
    pub_det = node.create_publisher(Detection2DArray, "/detections", SENSOR_QOS)
    obstacles: list[object] = []
    node.create_subscription(Detection3DArray, "/obstacles", obstacles.append, SENSOR_QOS)
    intrinsics = load_camera_info(f"file://{REPO_ROOT / 'config' / 'camera_info.yaml'}")
    frozen: list[float] = []  # empty: live stamps; [t]: every frame carries stamp t
    boxes: list[tuple[float, float, float, float, str]] = []

    def frame() -> None:
        stamp = sec_to_stamp(frozen[0] if frozen else node.get_clock().now().nanoseconds * 1e-9)
        pub_info.publish(intrinsics_to_camera_info(intrinsics, stamp, "camera_optical_frame"))
        pub_det.publish(_detections(stamp, boxes))

    node.create_timer(0.05, frame)
    # stale_periods 5 at 20 Hz: 250 ms, so a loaded 2-core machine's scheduling jitter is no fault.
    ctrl = ["ros2", "run", "edge_rover", "controller", "--ros-args", "-p", "frame_period:=0.05",
            "-p", "stale_periods:=5.0"]  # fmt: skip
    mapper = ["ros2", "run", "edge_rover", "obstacle_mapper"]
    with running_process(mapper) as mapper_proc, running_process(ctrl) as ctrl_proc:
        probe.logs += [_drain(mapper_proc), _drain(ctrl_proc)]
        probe.wait(lambda: probe.driving_since(0), 60.0, "the controller to drive", ctrl_proc, mapper_proc)

        # --- NaN box in the detections (beside a valid cone far ahead)
        mark_obstacles = len(obstacles)
        boxes[:] = [(float("nan"), 300.0, 40.0, float("nan"), "person"), (320.0, 250.0, 10.0, 12.0, "cone")]
        probe.wait(
            lambda: len(obstacles) > mark_obstacles + 20, 30.0, "/obstacles after NaN boxes", mapper_proc
        )
        boxes[:] = []
        assert mapper_proc.poll() is None and ctrl_proc.poll() is None
        for msg in obstacles[mark_obstacles:]:
            for det in msg.detections:
                pose = det.results[0].pose.pose.position if det.results else det.bbox.center.position
                assert all(math.isfinite(v) for v in (pose.x, pose.y, det.bbox.size.x, det.bbox.size.y)), det
        assert not any("non-finite" in s["reason"] for s in probe.statuses)

        # --- camera freeze: stamps stop advancing
        mark = len(probe.statuses)
        frozen.append(node.get_clock().now().nanoseconds * 1e-9)
        probe.wait(
            lambda: any(s["state"] == "stop" and "stale" in s["reason"] for s in probe.statuses[mark:]),
            30.0,
            "the watchdog stop on a frozen camera",
            ctrl_proc,
            mapper_proc,
        )
        stop = next(
            i for i in range(mark, len(probe.statuses))
            if probe.statuses[i]["state"] == "stop" and "stale" in probe.statuses[i]["reason"]
        )  # fmt: skip
        freeze_stop = float(probe.statuses[stop]["decision_time"]) - frozen[0]
        assert "obstacles" in probe.statuses[stop]["reason"], probe.statuses[stop]
        frozen.clear()
        probe.wait(
            lambda: probe.driving_since(stop), 30.0, "driving after the camera thawed", ctrl_proc, mapper_proc
        )
        back = next(i for i in range(stop, len(probe.statuses)) if probe.statuses[i]["state"] == "drive")
        assert any("latched" in s["reason"] for s in probe.statuses[stop:back])
        assert mapper_proc.poll() is None and ctrl_proc.poll() is None
    print(
        f"\nNaN box: dropped by the mapper, {len(obstacles) - mark_obstacles} finite /obstacles after it"
        f"\ncamera frozen: watchdog stop {freeze_stop:.3f} s after the last fresh stamp "
        f"(mapper max_detection_age 0.5 s + controller stale_after 0.25 s); reason: "
        f"{probe.statuses[stop]['reason']!r}"
    )


def test_mcu_that_stops_answering_is_reported_and_the_link_recovers(ros_context, tmp_path: Path) -> None:
    """serial_bridge (process) ↔ MCU emulator (process, real pty). SIGSTOP freezes the MCU with
    its port still open (a hung firmware, not a pulled cable): the bridge reports ERROR "no
    telemetry from the MCU" and keeps running; SIGCONT → telemetry and odometry flow again."""
    import sys

    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry

    from edge_rover.common.qos import RELIABLE_QOS

    probe = Probe(ros_context)
    node = probe.node
    diags: list[dict[str, str]] = []
    odom: list[float] = []

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if "serial" in status.name or any(kv.key == "telemetry_age" for kv in status.values):
                diags.append({"message": status.message, **{kv.key: kv.value for kv in status.values}})

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, RELIABLE_QOS)
    node.create_subscription(Odometry, "/odom", lambda m: odom.append(m.twist.twist.linear.x), RELIABLE_QOS)
    pub_cmd = node.create_publisher(Twist, "/cmd_vel", RELIABLE_QOS)
    forward = Twist()
    forward.linear.x = 0.5
    node.create_timer(0.05, lambda: pub_cmd.publish(forward))
    link = tmp_path / "mcu"
    emulator = [sys.executable, "-m", "edge_rover.control.mcu_link.mcu_emulator", "--link", str(link)]
    bridge = ["ros2", "run", "edge_rover", "serial_bridge", "--ros-args", "-p", f"port:={link}"]
    with running_process(emulator) as mcu:
        probe.logs.append(_drain(mcu))
        probe.wait(link.exists, 20.0, "the emulator's pty link", mcu)
        with running_process(bridge) as bridge_proc:
            probe.logs.append(_drain(bridge_proc))
            probe.wait(
                lambda: bool(diags) and diags[-1]["message"] == "link up" and bool(odom) and odom[-1] > 0.3,
                30.0,
                "the bridge driving the MCU",
                bridge_proc,
            )
            mark = len(diags)
            os.kill(mcu.pid, signal.SIGSTOP)  # the MCU hangs: port open, nothing answers
            try:
                probe.wait(
                    lambda: any("no telemetry" in d["message"] for d in diags[mark:]),
                    30.0,
                    "the bridge to report the silent MCU",
                    bridge_proc,
                )
            finally:
                os.kill(mcu.pid, signal.SIGCONT)
            first = next(d for d in diags[mark:] if "no telemetry" in d["message"])
            silent_age = float(first["telemetry_age"])
            assert silent_age > 0.5  # telemetry_timeout
            mark = len(diags)
            probe.wait(
                lambda: any(d["message"] == "link up" for d in diags[mark:]),
                30.0,
                "telemetry again",
                bridge_proc,
            )
            n_odom = len(odom)
            probe.wait(lambda: len(odom) > n_odom + 5 and odom[-1] > 0.3, 30.0, "odometry again", bridge_proc)
            assert bridge_proc.poll() is None
    print(
        f"\nMCU hung: reported after telemetry age {silent_age:.3f} s (timeout 0.5 s); recovered on SIGCONT"
    )


def test_node_with_a_configuration_error_is_respawned_only_with_backoff(tmp_path: Path) -> None:
    """A controller with an out-of-range parameter exits 1 at start; the launch respawns it, but
    only every RESPAWN_DELAY_S, so a configuration error is a slow, readable loop, not a CPU hog."""
    from edge_rover.common.launch_helpers import RESPAWN_DELAY_S

    launch_file = tmp_path / "bad_controller.launch.py"
    launch_file.write_text(
        "from launch import LaunchDescription\n"
        "from edge_rover.common.launch_helpers import pipeline_nodes\n\n\n"
        "def generate_launch_description():\n"
        "    bad = {'controller': {'rate_hz': 1000.0}}\n"
        "    return LaunchDescription(pipeline_nodes(False, ['controller'], bad))\n"
    )
    window_s = 2.5 * RESPAWN_DELAY_S
    with running_process(["ros2", "launch", str(launch_file)]) as launch:
        lines = _drain(launch)
        time.sleep(window_s)  # a window to count restarts in; the bound below holds on any machine load
        output = "".join(lines)
    deaths = [line for line in output.splitlines() if "process has died" in line]
    assert deaths, output[-3000:]
    assert all("exit code 1" in line for line in deaths), deaths
    assert "rate_hz" in output, output[-3000:]  # the one clear line naming the bad parameter
    # Starts are at least RESPAWN_DELAY_S apart: within the window at most 1 + window/delay deaths.
    assert len(deaths) <= 1 + int(window_s / RESPAWN_DELAY_S), deaths
    print(
        f"\nconfiguration error: {len(deaths)} exits (code 1) in {window_s:.1f} s "
        f"with a {RESPAWN_DELAY_S} s backoff"
    )
