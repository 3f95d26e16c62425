"""The rover's serial protocol to the motor MCU (pure: no I/O, no clocks).

Wire format of every frame (both directions)::

    0x00 | COBS( version | type | seq | payload | crc16 ) | 0x00

* ``version`` u8 = 1, ``type`` u8, ``seq`` u16 little-endian (wraps at 65536), then the payload of
  that type (little-endian fields), then CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no
  reflection, xorout 0) over everything before it, appended most-significant byte first.
* COBS (consistent overhead byte stuffing) removes every 0x00 from the frame, so 0x00 only ever
  separates frames. The sender puts 0x00 *before and after* each frame: garbage on the line then
  ends at the leading 0x00 and never spoils the next good frame.

The README's "Serial protocol" section is the specification for the firmware side; this module
and its tests are the reference implementation.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

PROTOCOL_VERSION = 1
TYPE_COMMAND = 0x01
TYPE_TELEMETRY = 0x81

# Command flags (u8).
FLAG_ESTOP = 0x01  # emergency stop: MCU cuts drive and brakes, latched while the flag is set
FLAG_BRAKE = 0x02  # brake request: hold the wheels (speed field ignored, treated as 0)
FLAG_YAW_RATE = 0x04  # steering field is a yaw rate (mrad/s, differential drive), else an angle (mrad)
FLAG_HEARTBEAT_LOST = 0x08  # the host has no fresh command source; this frame is a safety brake

# Telemetry fault flags (u16).
FAULT_ESTOP = 0x0001  # e-stop active (commanded or the hardware button)
FAULT_LINK_TIMEOUT = 0x0002  # MCU stopped because no valid command arrived within timeout_ms
FAULT_CRC_ERRORS = 0x0004  # MCU received frames with a bad CRC since the last telemetry
FAULT_OVERCURRENT = 0x0008
FAULT_UNDERVOLTAGE = 0x0010
FAULT_DRIVER = 0x0020  # motor driver fault
FAULT_BRAKING = 0x0040  # MCU is braking (brake flag, link timeout or e-stop)

FAULT_NAMES = {
    FAULT_ESTOP: "estop",
    FAULT_LINK_TIMEOUT: "link_timeout",
    FAULT_CRC_ERRORS: "crc_errors",
    FAULT_OVERCURRENT: "overcurrent",
    FAULT_UNDERVOLTAGE: "undervoltage",
    FAULT_DRIVER: "driver_fault",
    FAULT_BRAKING: "braking",
}

_HEADER = struct.Struct("<BBH")  # version, type, seq
_COMMAND = struct.Struct("<hhBBH")  # speed mm/s, steering mrad|mrad/s, brake %, flags, timeout ms
_TELEMETRY = struct.Struct("<HhhhHhHI")  # ack seq, wheel L/R mm/s, steering mrad, mV, mA, faults, uptime ms
CRC_SIZE = 2
COMMAND_FRAME_SIZE = _HEADER.size + _COMMAND.size + CRC_SIZE  # 14 bytes before COBS
TELEMETRY_FRAME_SIZE = _HEADER.size + _TELEMETRY.size + CRC_SIZE  # 24 bytes before COBS
MAX_FRAME_SIZE = 64  # a receiver drops any longer run of non-zero bytes as garbage


def _make_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc16_ccitt_false(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE, table-driven (check value for b"123456789" is 0x29B1)."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data``: the result holds no 0x00 byte and is at most len/254 + 1 longer."""
    out = bytearray([0])
    code_index = 0
    code = 1
    for byte in data:
        if byte == 0:
            out[code_index] = code
            code_index = len(out)
            out.append(0)
            code = 1
            continue
        out.append(byte)
        code += 1
        if code == 0xFF:
            out[code_index] = code
            code_index = len(out)
            out.append(0)
            code = 1
    out[code_index] = code
    return bytes(out)


class CobsError(ValueError):
    """A byte run that is not valid COBS."""


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS block (without delimiters); raises CobsError on malformed input."""
    out = bytearray()
    index = 0
    length = len(data)
    while index < length:
        code = data[index]
        if code == 0:
            raise CobsError("zero byte inside a COBS block")
        start, end = index + 1, index + code
        if end > length:
            raise CobsError(f"COBS code {code} at {index} runs past the end ({length} bytes)")
        block = data[start:end]
        if 0 in block:
            raise CobsError("zero byte inside a COBS block")
        out += block
        index = end
        if code != 0xFF and index < length:
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class CommandFrame:
    """Host → MCU, sent at a fixed rate (default 50 Hz)."""

    seq: int
    speed_mm_s: int  # signed forward speed set-point
    steering: int  # mrad (Ackermann angle) or mrad/s (yaw rate, FLAG_YAW_RATE)
    brake_pct: int  # 0..100 brake effort
    flags: int
    timeout_ms: int  # MCU brakes to a stop when no valid command arrives for this long

    @property
    def estop(self) -> bool:
        return bool(self.flags & FLAG_ESTOP)


@dataclass(frozen=True)
class TelemetryFrame:
    """MCU → host, sent at a fixed rate (default 50 Hz)."""

    seq: int
    ack_seq: int  # seq of the last valid command the MCU applied
    wheel_left_mm_s: int
    wheel_right_mm_s: int
    steering_mrad: int  # measured steering angle (0 on a differential-drive base)
    battery_mv: int
    battery_ma: int  # signed; positive = discharging
    faults: int
    uptime_ms: int

    def fault_names(self) -> list[str]:
        return [name for bit, name in FAULT_NAMES.items() if self.faults & bit]


Frame = CommandFrame | TelemetryFrame


def _clamp(value: float, lo: int, hi: int) -> int:
    return int(max(lo, min(hi, round(value))))


def _seal(frame_type: int, seq: int, payload: bytes) -> bytes:
    body = _HEADER.pack(PROTOCOL_VERSION, frame_type, seq & 0xFFFF) + payload
    crc = crc16_ccitt_false(body)
    return b"\x00" + cobs_encode(body + crc.to_bytes(2, "big")) + b"\x00"


def encode_command(frame: CommandFrame) -> bytes:
    payload = _COMMAND.pack(
        _clamp(frame.speed_mm_s, -32768, 32767),
        _clamp(frame.steering, -32768, 32767),
        _clamp(frame.brake_pct, 0, 100),
        frame.flags & 0xFF,
        _clamp(frame.timeout_ms, 0, 65535),
    )
    return _seal(TYPE_COMMAND, frame.seq, payload)


def encode_telemetry(frame: TelemetryFrame) -> bytes:
    payload = _TELEMETRY.pack(
        frame.ack_seq & 0xFFFF,
        _clamp(frame.wheel_left_mm_s, -32768, 32767),
        _clamp(frame.wheel_right_mm_s, -32768, 32767),
        _clamp(frame.steering_mrad, -32768, 32767),
        _clamp(frame.battery_mv, 0, 65535),
        _clamp(frame.battery_ma, -32768, 32767),
        frame.faults & 0xFFFF,
        frame.uptime_ms & 0xFFFFFFFF,
    )
    return _seal(TYPE_TELEMETRY, frame.seq, payload)


def encode(frame: Frame) -> bytes:
    return encode_command(frame) if isinstance(frame, CommandFrame) else encode_telemetry(frame)


class FrameError(ValueError):
    """A delimited block that is not a valid frame (COBS, CRC, version, type or length)."""


def parse_block(block: bytes) -> Frame:
    """One COBS block (between 0x00 delimiters) → a frame; raises FrameError with the reason."""
    try:
        raw = cobs_decode(block)
    except CobsError as err:
        raise FrameError(f"bad COBS: {err}") from err
    if len(raw) < _HEADER.size + CRC_SIZE:
        raise FrameError(f"frame too short ({len(raw)} bytes)")
    body, crc = raw[:-CRC_SIZE], int.from_bytes(raw[-CRC_SIZE:], "big")
    if crc16_ccitt_false(body) != crc:
        raise FrameError("bad CRC")
    version, frame_type, seq = _HEADER.unpack_from(body)
    if version != PROTOCOL_VERSION:
        raise FrameError(f"unsupported protocol version {version}")
    payload = body[_HEADER.size :]
    if frame_type == TYPE_COMMAND:
        if len(payload) != _COMMAND.size:
            raise FrameError(f"command payload is {len(payload)} bytes, expected {_COMMAND.size}")
        return CommandFrame(seq, *_COMMAND.unpack(payload))
    if frame_type == TYPE_TELEMETRY:
        if len(payload) != _TELEMETRY.size:
            raise FrameError(f"telemetry payload is {len(payload)} bytes, expected {_TELEMETRY.size}")
        return TelemetryFrame(seq, *_TELEMETRY.unpack(payload))
    raise FrameError(f"unknown frame type 0x{frame_type:02x}")


@dataclass
class DecoderStats:
    frames: int = 0
    bad_frames: int = 0  # delimited blocks that failed COBS/CRC/version/type/length
    overruns: int = 0  # runs longer than MAX_FRAME_SIZE dropped as garbage
    last_error: str = ""


class StreamDecoder:
    """Bytes in any chunking → frames. Never raises on input; bad runs are counted and skipped.

    Resynchronisation is by the 0x00 delimiter alone: a corrupt or partial frame spoils only the
    block it is in, and since every frame starts with 0x00 the next good frame always decodes.
    """

    def __init__(self, max_frame_size: int = MAX_FRAME_SIZE) -> None:
        self._buffer = bytearray()
        self._discarding = False
        self._max = max_frame_size
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> Iterator[Frame]:
        for byte in data:
            if byte != 0:
                if self._discarding:
                    continue
                self._buffer.append(byte)
                if len(self._buffer) > self._max:
                    self._buffer.clear()
                    self._discarding = True
                    self.stats.overruns += 1
                    self.stats.last_error = f"no delimiter within {self._max} bytes"
                continue
            block = bytes(self._buffer)
            self._buffer.clear()
            self._discarding = False
            if not block:
                continue
            try:
                frame = parse_block(block)
            except FrameError as err:
                self.stats.bad_frames += 1
                self.stats.last_error = str(err)
                continue
            self.stats.frames += 1
            yield frame

    def feed_all(self, data: bytes) -> list[Frame]:
        return list(self.feed(data))
