"""Serial link over real pyserial: the MCU emulator on a pty pair, loop://, unplug and replug."""

from __future__ import annotations

import itertools
import math
import time

import pytest

from edge_rover.control.mcu_link.bridge_logic import command_frame
from edge_rover.control.mcu_link.mcu_emulator import McuModel, PtyMcu
from edge_rover.control.mcu_link.odometry import OdometryEstimate, body_twist, integrate
from edge_rover.control.mcu_link.serial_link import Backoff, SerialLink
from edge_rover.control.mcu_link.serial_protocol import (
    FAULT_ESTOP,
    FAULT_LINK_TIMEOUT,
    FLAG_BRAKE,
    FLAG_ESTOP,
    FLAG_HEARTBEAT_LOST,
    FLAG_YAW_RATE,
    CommandFrame,
    TelemetryFrame,
)


def _pump(link: SerialLink, seconds: float, command: CommandFrame | None, period: float = 0.02) -> list:
    """Send ``command`` (if any) at 50 Hz for ``seconds`` and collect telemetry."""
    got = []
    end = time.monotonic() + seconds
    seq = 0
    while time.monotonic() < end:
        now = time.monotonic()
        if command is not None:
            link.send(
                CommandFrame(
                    seq,
                    *[
                        getattr(command, f)
                        for f in ("speed_mm_s", "steering", "brake_pct", "flags", "timeout_ms")
                    ],
                ),
                now,
            )
            seq += 1
        got.extend(f for f in link.poll(now) if isinstance(f, TelemetryFrame))
        time.sleep(period)
    return got


@pytest.fixture
def mcu(tmp_path):
    emulator = PtyMcu(tmp_path / "mcu").start()
    try:
        yield emulator
    finally:
        emulator.stop()


def test_emulator_obeys_commands_and_stops_on_link_silence(mcu: PtyMcu) -> None:
    link = SerialLink(mcu.path)
    try:
        drive = CommandFrame(0, 800, 100, 0, 0, 200)
        telemetry = _pump(link, 1.2, drive)
        assert telemetry, link.status
        last = telemetry[-1]
        assert last.wheel_left_mm_s > 600 and last.ack_seq > 0 and not last.faults & FAULT_LINK_TIMEOUT
        assert last.steering_mrad == 100
        # Silence: the MCU times out after timeout_ms and brakes to a stop by itself.
        telemetry = _pump(link, 0.8, None)
        assert telemetry[-1].faults & FAULT_LINK_TIMEOUT
        assert telemetry[-1].wheel_left_mm_s == 0
        assert link.decoder.stats.bad_frames == 0
    finally:
        link.close()


def test_garbage_on_the_line_loses_no_following_frame(mcu: PtyMcu) -> None:
    link = SerialLink(mcu.path)
    try:
        _pump(link, 0.2, None)
        sent_before = mcu.telemetry_sent
        mcu.noise = b"\x12\x34\xff\x00\x99garbage" + bytes(range(1, 80))
        telemetry = _pump(link, 0.4, None)
        sent = mcu.telemetry_sent - sent_before
        assert link.decoder.stats.bad_frames + link.decoder.stats.overruns >= 1
        # Every frame the emulator sent after the noise arrived (the last one may be in flight).
        assert len(telemetry) >= sent - 2
        seqs = [f.seq for f in telemetry]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert all(b - a == 1 for a, b in itertools.pairwise(seqs))
    finally:
        link.close()


def test_unplugged_port_is_retried_with_backoff_and_resumes_when_replugged(mcu: PtyMcu) -> None:
    link = SerialLink(mcu.path, backoff_initial=0.05, backoff_max=0.2)
    try:
        assert _pump(link, 0.3, CommandFrame(0, 300, 0, 0, 0, 200))
        assert link.status.connected and link.status.opens == 1
        mcu.unplug()
        _pump(link, 0.8, CommandFrame(0, 300, 0, 0, 0, 200))
        assert not link.status.connected
        assert link.status.failures >= 3  # it kept retrying...
        assert link.status.failures <= 0.8 / 0.05 + 2  # ...but not in a busy loop (backoff)
        assert link.backoff.delay == pytest.approx(0.2)
        assert str(mcu.path) in link.status.last_error
        mcu.replug()
        telemetry = _pump(link, 0.8, CommandFrame(0, 300, 0, 0, 0, 200))
        assert link.status.connected and link.status.opens == 2
        assert telemetry and telemetry[-1].ack_seq > 0
    finally:
        link.close()


def test_loop_url_round_trip_through_serial_link() -> None:
    link = SerialLink("loop://")
    try:
        now = 0.0
        for seq in range(5):
            assert link.send(CommandFrame(seq, seq * 100, -seq, 0, 0, 200), now)
        frames = link.poll(now)
        assert [f.seq for f in frames] == list(range(5))
        assert frames[3].speed_mm_s == 300 and frames[3].steering == -3
    finally:
        link.close()


def test_missing_port_reports_and_backs_off() -> None:
    link = SerialLink("/nonexistent/tty_edge_rover", backoff_initial=0.1, backoff_max=0.4)
    delays = []
    now = 0.0
    for _ in range(40):
        link.poll(now)
        delays.append(link.backoff.delay)
        now += 0.05
    assert not link.status.connected and "cannot open" in link.status.last_error
    assert max(delays) == pytest.approx(0.4)
    assert 3 <= link.status.failures <= 8


def test_backoff_doubles_to_a_cap_and_resets() -> None:
    backoff = Backoff(0.1, 1.0)
    for expected in (0.1, 0.2, 0.4, 0.8, 1.0, 1.0):
        backoff.failed(0.0)
        assert backoff.delay == pytest.approx(expected)
    backoff.succeeded()
    assert backoff.due(0.0) and backoff.delay == 0.0


def test_bridge_command_frames_and_heartbeat() -> None:
    angle = command_frame(
        7, (0.5, 0.2), 0.01, 0.25, 200, cmd_vel_angular_z="steering_angle", drive="ackermann"
    )
    assert (angle.speed_mm_s, angle.steering, angle.flags, angle.brake_pct) == (500, 200, 0, 0)
    # Yaw rate → angle for an Ackermann MCU: δ = atan(L·ω/v).
    yaw = command_frame(7, (0.5, 0.4), 0.01, 0.25, 200, cmd_vel_angular_z="yaw_rate", drive="ackermann")
    assert yaw.steering == round(math.atan(0.5 * 0.4 / 0.5) * 1000)
    diff = command_frame(8, (0.5, 0.3), 0.01, 0.25, 200, cmd_vel_angular_z="yaw_rate", drive="differential")
    assert diff.flags & FLAG_YAW_RATE and diff.steering == 300
    for twist, age in (((0.5, 0.0), 0.3), (None, None), ((math.nan, 0.0), 0.0), ((0.5, 0.0), -1.0)):
        stale = command_frame(9, twist, age, 0.25, 200)
        assert stale.flags & FLAG_BRAKE and stale.flags & FLAG_HEARTBEAT_LOST and stale.speed_mm_s == 0
    hold = command_frame(10, (0.0, 0.0), 0.0, 0.25, 200)
    assert hold.flags & FLAG_BRAKE and not hold.flags & FLAG_HEARTBEAT_LOST
    estop = command_frame(11, (1.0, 0.0), 0.0, 0.25, 200, estop=True)
    assert estop.flags & FLAG_ESTOP


def test_mcu_model_estop_and_timeout() -> None:
    model = McuModel()
    for k in range(1, 50):
        model.on_command(CommandFrame(k, 1000, 0, 0, 0, 100), k * 0.01)
        model.step(k * 0.01, 0.01)
    assert model.speed > 0.5
    model.step(0.7, 0.01)  # 210 ms after the last command (timeout 100 ms)
    assert model.telemetry(0, 0.7).faults & FAULT_LINK_TIMEOUT
    for k in range(71, 200):
        model.step(k * 0.01, 0.01)
    assert model.speed == 0.0
    for k in range(200, 300):
        model.on_command(CommandFrame(k, 1000, 0, 0, 0, 100), k * 0.01)
        model.step(k * 0.01, 0.01)
    model.on_command(CommandFrame(300, 1000, 0, 0, FLAG_ESTOP, 100), 3.0)
    speeds = []
    for k in range(301, 320):
        model.on_command(CommandFrame(k, 1000, 0, 0, FLAG_ESTOP, 100), k * 0.01)
        model.step(k * 0.01, 0.01)
        speeds.append(model.speed)
    assert speeds[-1] == 0.0 and model.telemetry(1, 3.2).faults & FAULT_ESTOP


def test_odometry_integrates_a_circle() -> None:
    estimate = OdometryEstimate()
    speed, yaw_rate = body_twist(0.9, 1.1, 0.0, "differential", 0.4, 0.5)
    assert (speed, yaw_rate) == pytest.approx((1.0, 0.5))
    t = 0.0
    estimate = integrate(estimate, t, speed, yaw_rate)
    for _ in range(int(2 * math.pi / 0.5 / 0.01)):
        t += 0.01
        estimate = integrate(estimate, t, speed, yaw_rate)
    assert math.hypot(estimate.x, estimate.y) < 0.05  # back at the start after one full circle
    _ack_speed, ack_yaw = body_twist(1.0, 1.0, 0.3, "ackermann", 0.4, 0.5)
    assert ack_yaw == pytest.approx(math.tan(0.3) / 0.5)


def test_emulator_command_line_serves_telemetry(tmp_path) -> None:
    import subprocess
    import sys

    link_path = tmp_path / "mcu_cli"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_rover.control.mcu_link.mcu_emulator",
            "--link",
            str(link_path),
            "--duration",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "MCU emulator on /dev/pts/" in proc.stdout.readline()
        link = SerialLink(str(link_path))
        try:
            telemetry = _pump(link, 0.5, CommandFrame(0, 200, 0, 0, 0, 200))
            assert telemetry and telemetry[-1].battery_mv > 10000
        finally:
            link.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
