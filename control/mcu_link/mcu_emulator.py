"""Motor-MCU emulator over a pseudo-terminal: obeys command frames, stops on link silence,
sends telemetry — the other end of ``serial_bridge`` for tests and the demo.

    python -m edge_rover.control.mcu_link.mcu_emulator --link /tmp/edge_rover_mcu
    # then: port:=/tmp/edge_rover_mcu

``McuModel`` is the firmware's behaviour as a pure model (commands in, telemetry out, ``now``
passed in); ``PtyMcu`` runs it on a pty in a thread and can simulate an unplug / replug.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import select
import signal
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

from edge_rover.control.mcu_link.serial_protocol import (
    FAULT_BRAKING,
    FAULT_CRC_ERRORS,
    FAULT_ESTOP,
    FAULT_LINK_TIMEOUT,
    FAULT_UNDERVOLTAGE,
    FLAG_BRAKE,
    FLAG_ESTOP,
    FLAG_YAW_RATE,
    CommandFrame,
    StreamDecoder,
    TelemetryFrame,
    encode_telemetry,
)

DEFAULT_TIMEOUT_MS = 200  # used until the first command says otherwise


@dataclass
class McuModel:
    track_width: float = 0.4  # m between the rear wheels
    wheelbase: float = 0.5
    accel: float = 1.5  # m/s² the drive follows set-points with
    brake_decel: float = 4.0  # m/s² when braking, timed out or e-stopped
    steering_rate: float = 2.0  # rad/s
    battery_mv: float = 12600.0
    speed: float = 0.0  # m/s, wheel centre
    yaw_rate: float = 0.0
    steering: float = 0.0  # rad
    last_command: CommandFrame | None = None
    last_command_time: float | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    crc_errors: bool = False
    uptime_start: float | None = None
    commands_applied: int = 0
    log: list[str] = field(default_factory=list)

    def on_command(self, frame: CommandFrame, now: float) -> None:
        self.last_command = frame
        self.last_command_time = now
        self.timeout_ms = frame.timeout_ms or DEFAULT_TIMEOUT_MS
        self.commands_applied += 1

    def link_timed_out(self, now: float) -> bool:
        return self.last_command_time is None or (now - self.last_command_time) * 1000.0 > self.timeout_ms

    def step(self, now: float, dt: float) -> None:
        if self.uptime_start is None:
            self.uptime_start = now
        cmd = self.last_command
        stopping = self.link_timed_out(now) or cmd is None or bool(cmd.flags & (FLAG_BRAKE | FLAG_ESTOP))
        target_speed, target_steer, target_yaw = 0.0, self.steering, 0.0
        if not stopping and cmd is not None:
            target_speed = cmd.speed_mm_s / 1000.0
            if cmd.flags & FLAG_YAW_RATE:
                target_yaw = cmd.steering / 1000.0
            else:
                target_steer = cmd.steering / 1000.0
        rate = self.brake_decel if stopping or abs(target_speed) < abs(self.speed) else self.accel
        if cmd is not None and cmd.flags & FLAG_ESTOP:
            rate = self.brake_decel * 2.0
        self.speed += max(-rate * dt, min(rate * dt, target_speed - self.speed))
        step = self.steering_rate * dt
        self.steering += max(-step, min(step, target_steer - self.steering))
        self.yaw_rate = target_yaw if not stopping else 0.0
        self.battery_mv = max(self.battery_mv - dt * (0.5 + 2.0 * abs(self.speed)), 0.0)

    def telemetry(self, seq: int, now: float) -> TelemetryFrame:
        half_diff = 0.5 * self.yaw_rate * self.track_width
        faults = 0
        cmd = self.last_command
        if cmd is not None and cmd.flags & FLAG_ESTOP:
            faults |= FAULT_ESTOP | FAULT_BRAKING
        if self.link_timed_out(now):
            faults |= FAULT_LINK_TIMEOUT | FAULT_BRAKING
        if cmd is not None and cmd.flags & FLAG_BRAKE:
            faults |= FAULT_BRAKING
        if self.crc_errors:
            faults |= FAULT_CRC_ERRORS
            self.crc_errors = False
        if self.battery_mv < 10500:
            faults |= FAULT_UNDERVOLTAGE
        return TelemetryFrame(
            seq=seq,
            ack_seq=cmd.seq if cmd is not None else 0,
            wheel_left_mm_s=round((self.speed - half_diff) * 1000.0),
            wheel_right_mm_s=round((self.speed + half_diff) * 1000.0),
            steering_mrad=round(self.steering * 1000.0),
            battery_mv=round(self.battery_mv),
            battery_ma=round(500 + 3000 * abs(self.speed)),
            faults=faults,
            uptime_ms=round((now - (self.uptime_start or now)) * 1000.0),
        )


class PtyMcu:
    """``McuModel`` on a pseudo-terminal, in a background thread. ``path`` is the device to open."""

    def __init__(
        self, link: str | os.PathLike | None = None, telemetry_hz: float = 50.0, model: McuModel | None = None
    ):
        self.model = model or McuModel()
        self.link = Path(link) if link else None
        self.period = 1.0 / telemetry_hz
        self.decoder = StreamDecoder()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self.device = ""
        self.telemetry_sent = 0
        self.noise: bytes = b""  # injected once before the next telemetry frame (tests)

    @property
    def path(self) -> str:
        return str(self.link) if self.link else self.device

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: the bytes are binary frames
        self._master, self._slave = master, slave
        self.device = os.ttyname(slave)
        if self.link:
            tmp = self.link.with_name(self.link.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.device)
            tmp.replace(self.link)

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    def start(self) -> PtyMcu:
        self._open_pty()
        self._thread = threading.Thread(target=self._run, name="mcu_emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        with self._lock:
            self._close_pty()

    def unplug(self) -> None:
        """The USB cable comes out: the device disappears, the host sees I/O errors."""
        with self._lock:
            self._close_pty()

    def replug(self) -> None:
        with self._lock:
            if self._master is None:
                self._open_pty()

    def _run(self) -> None:
        seq = 0
        last = time.monotonic()
        next_telemetry = last
        while not self._stop.is_set():
            with self._lock:
                master = self._master
            if master is None:
                time.sleep(0.01)
                continue
            timeout = max(0.0, min(next_telemetry - time.monotonic(), 0.01))
            try:
                ready, _, _ = select.select([master], [], [], timeout)
                data = os.read(master, 4096) if ready else b""
            except (OSError, ValueError):
                time.sleep(0.01)
                continue
            now = time.monotonic()
            with self._lock:
                errors_before = self.decoder.stats.bad_frames
                for frame in self.decoder.feed(data):
                    if isinstance(frame, CommandFrame):
                        self.model.on_command(frame, now)
                if self.decoder.stats.bad_frames != errors_before:
                    self.model.crc_errors = True
                self.model.step(now, now - last)
                last = now
                if now >= next_telemetry:
                    next_telemetry = max(next_telemetry + self.period, now)
                    out = self.noise + encode_telemetry(self.model.telemetry(seq, now))
                    self.noise = b""
                    seq = (seq + 1) & 0xFFFF
                    try:
                        os.write(master, out)
                        self.telemetry_sent += 1
                    except OSError:
                        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--link", default="/tmp/edge_rover_mcu", help="symlink to create to the pty device")
    parser.add_argument("--rate", type=float, default=50.0, help="telemetry rate (Hz)")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: run)")
    args = parser.parse_args(argv)
    mcu = PtyMcu(args.link, args.rate).start()
    print(f"MCU emulator on {mcu.device} (link {mcu.path}); telemetry at {args.rate:.0f} Hz", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        deadline = time.monotonic() + args.duration if args.duration > 0 else math.inf
        while not stop.is_set() and time.monotonic() < deadline:
            stop.wait(1.0)
            m = mcu.model
            print(
                f"speed {m.speed:+.2f} m/s steer {m.steering:+.2f} rad cmds {m.commands_applied} "
                f"timeout {'YES' if m.link_timed_out(time.monotonic()) else 'no'} "
                f"bad frames {mcu.decoder.stats.bad_frames}",
                flush=True,
            )
    except KeyboardInterrupt:
        pass
    finally:
        mcu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
