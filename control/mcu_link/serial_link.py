"""The host end of the serial link (pyserial, no rclpy): open with backoff, read frames, send.

``SerialLink.poll(now)`` never raises: a missing or vanished port is closed, reported in
``status`` and retried with exponential backoff; a port that comes back is reopened and the
stream decoder resynchronises on the next frame delimiter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from edge_rover.control.mcu_link.serial_protocol import Frame, StreamDecoder, encode

PortFactory = Callable[[str, int], Any]


def open_serial(url: str, baudrate: int) -> serial.SerialBase:
    """A real port or a pyserial URL (loop://, socket://, rfc2217://), non-blocking reads."""
    return serial.serial_for_url(url, baudrate=baudrate, timeout=0, write_timeout=0.05, exclusive=None)


@dataclass
class Backoff:
    initial: float = 0.1
    maximum: float = 2.0
    delay: float = 0.0
    next_try: float = 0.0
    attempts: int = 0

    def failed(self, now: float) -> None:
        self.attempts += 1
        self.delay = self.initial if self.delay == 0.0 else min(self.delay * 2.0, self.maximum)
        self.next_try = now + self.delay

    def succeeded(self) -> None:
        self.delay = 0.0
        self.next_try = 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_try


@dataclass
class LinkStatus:
    connected: bool = False
    last_error: str = "not opened yet"
    opens: int = 0  # successful opens (1 = first; more = reconnects)
    failures: int = 0  # failed opens and I/O errors
    bytes_in: int = 0
    bytes_out: int = 0
    frames_out: int = 0


class SerialLink:
    def __init__(
        self,
        url: str,
        baudrate: int = 115200,
        open_port: PortFactory = open_serial,
        backoff_initial: float = 0.1,
        backoff_max: float = 2.0,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self._open_port = open_port
        self._port: Any = None
        self.backoff = Backoff(backoff_initial, backoff_max)
        self.decoder = StreamDecoder()
        self.status = LinkStatus()

    def _fail(self, now: float, what: str, err: Exception) -> None:
        self.close()
        self.status.failures += 1
        self.status.last_error = f"{what} {self.url}: {err}"
        self.backoff.failed(now)

    def close(self) -> None:
        if self._port is not None:
            with contextlib.suppress(Exception):
                self._port.close()
        self._port = None
        self.status.connected = False

    def _ensure_open(self, now: float) -> bool:
        if self._port is not None:
            return True
        if not self.backoff.due(now):
            return False
        try:
            self._port = self._open_port(self.url, self.baudrate)
        except (serial.SerialException, OSError, ValueError) as err:
            self._fail(now, "cannot open", err)
            return False
        self.backoff.succeeded()
        self.decoder = StreamDecoder()  # drop any half frame from before the outage
        self.status.connected = True
        self.status.opens += 1
        self.status.last_error = ""
        return True

    def poll(self, now: float) -> list[Frame]:
        """Open if due, then read whatever has arrived → decoded frames (never raises)."""
        if not self._ensure_open(now):
            return []
        try:
            waiting = self._port.in_waiting
            data = self._port.read(max(waiting, 1)) if waiting else b""
        except (serial.SerialException, OSError, ValueError) as err:
            self._fail(now, "read from", err)
            return []
        self.status.bytes_in += len(data)
        return self.decoder.feed_all(data)

    def send(self, frame: Frame, now: float) -> bool:
        if not self._ensure_open(now):
            return False
        wire = encode(frame)
        try:
            self._port.write(wire)
        except (serial.SerialException, OSError, ValueError) as err:
            self._fail(now, "write to", err)
            return False
        self.status.bytes_out += len(wire)
        self.status.frames_out += 1
        return True
