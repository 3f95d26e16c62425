"""Serial protocol: CRC-16/CCITT-FALSE vectors, COBS vectors, frame round trips, stream resync, fuzz."""

from __future__ import annotations

import random

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_rover.control.mcu_link.serial_protocol import (
    COMMAND_FRAME_SIZE,
    FLAG_BRAKE,
    FLAG_ESTOP,
    TELEMETRY_FRAME_SIZE,
    CobsError,
    CommandFrame,
    FrameError,
    StreamDecoder,
    TelemetryFrame,
    cobs_decode,
    cobs_encode,
    crc16_ccitt_false,
    encode,
    encode_command,
    parse_block,
)

# Published check values of CRC-16/CCITT-FALSE (a.k.a. CRC-16/IBM-3740).
CRC_VECTORS = [
    (b"123456789", 0x29B1),
    (b"", 0xFFFF),
    (b"A", 0xB915),
    (bytes(range(256)), None),  # self-consistency only, checked against the bitwise reference below
]


def _crc_bitwise(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


@pytest.mark.parametrize(("data", "expected"), CRC_VECTORS)
def test_crc16_ccitt_false_known_vectors(data: bytes, expected: int | None) -> None:
    if expected is not None:
        assert crc16_ccitt_false(data) == expected
    assert crc16_ccitt_false(data) == _crc_bitwise(data)


@given(st.binary(max_size=300))
@settings(max_examples=100, deadline=None)
def test_crc_table_matches_bitwise_reference_and_residue_is_zero(data: bytes) -> None:
    crc = crc16_ccitt_false(data)
    assert crc == _crc_bitwise(data)
    assert crc16_ccitt_false(data + crc.to_bytes(2, "big")) == 0  # appended MSB-first → residue 0


# Vectors from the COBS paper / Wikipedia.
COBS_VECTORS = [
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255)) + b"\x01"),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255)) + b"\x01"),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
]


@pytest.mark.parametrize(("raw", "encoded"), COBS_VECTORS)
def test_cobs_known_vectors(raw: bytes, encoded: bytes) -> None:
    assert cobs_encode(raw) == encoded
    assert cobs_decode(encoded) == raw


@given(st.binary(max_size=600))
@settings(max_examples=100, deadline=None)
def test_cobs_round_trip_has_no_zero(data: bytes) -> None:
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data


def test_cobs_rejects_truncated_block() -> None:
    with pytest.raises(CobsError):
        cobs_decode(b"\x05\x11\x22")


COMMAND = CommandFrame(
    seq=65535, speed_mm_s=-1500, steering=300, brake_pct=40, flags=FLAG_BRAKE, timeout_ms=200
)
TELEMETRY = TelemetryFrame(
    seq=7,
    ack_seq=65535,
    wheel_left_mm_s=-12,
    wheel_right_mm_s=1999,
    steering_mrad=-250,
    battery_mv=12600,
    battery_ma=-300,
    faults=0x41,
    uptime_ms=4_000_000_000,
)


def test_frames_round_trip_with_documented_sizes() -> None:
    for frame, size in ((COMMAND, COMMAND_FRAME_SIZE), (TELEMETRY, TELEMETRY_FRAME_SIZE)):
        wire = encode(frame)
        assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
        assert len(cobs_decode(wire[1:-1])) == size
        assert parse_block(wire[1:-1]) == frame
    assert TELEMETRY.fault_names() == ["estop", "braking"]


def test_command_byte_layout_matches_readme_spec() -> None:
    """The exact bytes a firmware author sees (README example)."""
    frame = CommandFrame(
        seq=0x0102, speed_mm_s=1000, steering=-100, brake_pct=0, flags=FLAG_ESTOP, timeout_ms=200
    )
    wire = encode_command(frame)
    raw = cobs_decode(wire[1:-1])
    assert raw[:12].hex(" ") == "01 01 02 01 e8 03 9c ff 00 01 c8 00"
    assert int.from_bytes(raw[12:], "big") == crc16_ccitt_false(raw[:12])


def test_values_are_clamped_not_wrapped() -> None:
    frame = CommandFrame(seq=1, speed_mm_s=10**6, steering=-(10**6), brake_pct=900, flags=0, timeout_ms=-5)
    decoded = parse_block(encode(frame)[1:-1])
    assert (decoded.speed_mm_s, decoded.steering, decoded.brake_pct, decoded.timeout_ms) == (
        32767,
        -32768,
        100,
        0,
    )


def test_bad_crc_version_and_type_are_rejected_with_reason() -> None:
    raw = bytearray(cobs_decode(encode(COMMAND)[1:-1]))
    flipped = bytearray(raw)
    flipped[5] ^= 0x10
    with pytest.raises(FrameError, match="bad CRC"):
        parse_block(cobs_encode(bytes(flipped)))
    for index, value, reason in ((0, 2, "version"), (1, 0x42, "unknown frame type")):
        body = bytearray(raw[:-2])
        body[index] = value
        sealed = bytes(body) + crc16_ccitt_false(bytes(body)).to_bytes(2, "big")
        with pytest.raises(FrameError, match=reason):
            parse_block(cobs_encode(sealed))


def test_decoder_resynchronises_after_garbage_partial_and_corrupt_frames() -> None:
    frames = [
        CommandFrame(seq=i, speed_mm_s=i * 10, steering=0, brake_pct=0, flags=0, timeout_ms=200)
        for i in range(4)
    ]
    wires = [encode(f) for f in frames]
    corrupt = bytearray(wires[1])
    corrupt[4] ^= 0xFF  # a flipped byte inside frame 1
    stream = (
        b"\x13\x37garbage"  # line noise before anything
        + wires[0][: len(wires[0]) // 2]  # a partial frame (e.g. port opened mid-frame)
        + wires[0]
        + bytes(corrupt)
        + bytes(range(1, 200))  # a long run without delimiter (overrun)
        + wires[2]
        + b"\x00\x00\x00"
        + wires[3]
    )
    decoder = StreamDecoder()
    got: list = []
    # Arbitrary chunking must not matter.
    rng = random.Random(3)
    index = 0
    while index < len(stream):
        step = rng.randint(1, 9)
        got.extend(decoder.feed(stream[index : index + step]))
        index += step
    assert got == [frames[0], frames[2], frames[3]]
    assert decoder.stats.bad_frames >= 2
    assert decoder.stats.overruns == 1


@given(noise=st.binary(max_size=400), tail=st.binary(max_size=50))
@settings(max_examples=150, deadline=None)
def test_fuzz_decoder_never_raises_never_yields_bad_frame_and_keeps_next_good(
    noise: bytes, tail: bytes
) -> None:
    decoder = StreamDecoder()
    for frame in decoder.feed(noise):
        # Anything decoded from noise must still be a frame whose CRC checks (re-encode round trip).
        assert parse_block(encode(frame)[1:-1]) == frame
    good = TelemetryFrame(
        seq=42,
        ack_seq=1,
        wheel_left_mm_s=1,
        wheel_right_mm_s=2,
        steering_mrad=3,
        battery_mv=12000,
        battery_ma=5,
        faults=0,
        uptime_ms=9,
    )
    got = decoder.feed_all(encode(good) + tail)
    assert got[:1] == [good]


def test_loop_url_through_real_pyserial_with_noise() -> None:
    port = serial.serial_for_url("loop://", timeout=0.05)
    try:
        decoder = StreamDecoder()
        for seq in range(20):
            port.write(encode(CommandFrame(seq, seq, 0, 0, 0, 200)))
            if seq % 3 == 0:
                port.write(bytes([0x55, 0xAA, seq]))  # noise between frames
        data = port.read(4096)
        got = decoder.feed_all(data)
        assert [f.seq for f in got] == list(range(20))
    finally:
        port.close()
