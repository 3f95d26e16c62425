"""Fuzz the serial protocol's parsers: random and mutated byte streams into the host and the MCU.

Both ends parse with ``serial_protocol.StreamDecoder``; what each does with a frame differs, so
both consumers run too:

* host: the serial bridge's telemetry path (``odometry.body_twist`` + ``integrate``, fault names);
* MCU: the emulator's firmware model (``McuModel.on_command``, ``step``, ``telemetry`` and its
  encoding back onto the wire).

Each stream is garbage or a damaged run of real frames, fed in random chunk sizes, followed by
one good *sentinel* frame sent as the sender sends every frame (0x00 before and after). Per stream:

* crash: any exception out of the decoder or the consumer;
* accepted with a bad CRC: an accepted frame whose body fails an independent (bitwise, not
  table-driven) CRC-16/CCITT-FALSE, re-checked from the frame's own bytes;
* accepted but never sent: an accepted frame that is neither an intact frame of the stream nor
  the sentinel, i.e. a corruption the CRC, length, version and type checks all missed (counted
  honestly; CRC-16 misses about 1 in 65 536 random multi-byte corruptions of a block of the right
  length);
* resync failure: the sentinel after the garbage was not decoded.

    python -m benchmarks.serial_fuzz [--streams 100000] [--seed 1]

Writes benchmarks/results/serial_fuzz.json and prints a Markdown table. Not a timed test;
tests/control/mcu_link/test_serial_fuzz.py runs a small fixed-seed version.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edge_rover.control.mcu_link.mcu_emulator import McuModel
from edge_rover.control.mcu_link.odometry import OdometryEstimate, body_twist, integrate
from edge_rover.control.mcu_link.serial_protocol import (
    CommandFrame,
    Frame,
    StreamDecoder,
    TelemetryFrame,
    encode,
    encode_telemetry,
)

RESULTS = Path(__file__).resolve().parent / "results" / "serial_fuzz.json"
KINDS = ("random", "random_no_zero", "mutated", "truncated", "spliced", "long_run")


def crc16_bitwise(data: bytes) -> int:
    """CRC-16/CCITT-FALSE bit by bit: an implementation independent of the protocol's table."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _raw_block(frame: Frame) -> bytes:
    """The frame's decoded bytes (header + payload + CRC), rebuilt from the accepted frame."""
    from edge_rover.control.mcu_link.serial_protocol import cobs_decode

    return cobs_decode(encode(frame).strip(b"\x00"))


def _random_command(rng: random.Random) -> CommandFrame:
    return CommandFrame(
        seq=rng.randrange(65536),
        speed_mm_s=rng.randint(-32768, 32767),
        steering=rng.randint(-32768, 32767),
        brake_pct=rng.randint(0, 100),
        flags=rng.randrange(256),
        timeout_ms=rng.randrange(65536),
    )


def _random_telemetry(rng: random.Random) -> TelemetryFrame:
    return TelemetryFrame(
        seq=rng.randrange(65536),
        ack_seq=rng.randrange(65536),
        wheel_left_mm_s=rng.randint(-32768, 32767),
        wheel_right_mm_s=rng.randint(-32768, 32767),
        steering_mrad=rng.randint(-32768, 32767),
        battery_mv=rng.randrange(65536),
        battery_ma=rng.randint(-32768, 32767),
        faults=rng.randrange(65536),
        uptime_ms=rng.randrange(1 << 32),
    )


def _mutate(data: bytearray, rng: random.Random) -> None:
    """1–8 random edits: bit flips, byte changes, deletions, insertions, zeros, duplications."""
    for _ in range(rng.randint(1, 8)):
        if not data:
            data.append(rng.randrange(256))
            continue
        at = rng.randrange(len(data))
        edit = rng.randrange(6)
        if edit == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif edit == 1:
            data[at] = rng.randrange(256)
        elif edit == 2:
            del data[at : at + rng.randint(1, 4)]
        elif edit == 3:
            data[at:at] = rng.randbytes(rng.randint(1, 4))
        elif edit == 4:
            data[at] = 0
        else:
            piece = data[at : at + rng.randint(1, 12)]
            data[rng.randrange(len(data) + 1) : 0] = piece


def _sent_whole(frames: list[bytes], stream: bytes) -> set[bytes]:
    """The frames whose whole COBS block is still in the stream (a frame cut only of its closing
    0x00 is ended by the next frame's leading 0x00: it was sent, and decoding it is right)."""
    return {f for f in frames if f.strip(b"\x00") in stream}


def make_stream(kind: str, rng: random.Random, make_frame) -> tuple[bytes, set[bytes]]:
    """(stream bytes without the sentinel, the encoded frames that were sent whole in it)."""
    frames = [encode(make_frame(rng)) for _ in range(rng.randint(1, 6))]
    if kind == "random":
        return rng.randbytes(rng.randint(0, 300)), set()
    if kind == "random_no_zero":  # no delimiter at all: overruns, then the sentinel's 0x00 ends them
        return rng.randbytes(rng.randint(1, 400)).replace(b"\x00", b"\x01"), set()
    if kind == "long_run":  # a stuck line: one byte repeated past MAX_FRAME_SIZE
        return bytes([rng.randrange(1, 256)]) * rng.randint(60, 600), set()
    if kind == "truncated":  # frames cut anywhere (an unplug mid-frame), no closing delimiter
        stream = b"".join(f[: rng.randrange(1, len(f))] for f in frames)
        return stream, _sent_whole(frames, stream)
    if kind == "spliced":  # good frames with garbage between them: each good one must survive
        parts = []
        for frame in frames:
            parts.append(rng.randbytes(rng.randint(0, 40)))
            parts.append(frame)
        return b"".join(parts), set(frames)
    data = bytearray(b"".join(frames))
    _mutate(data, rng)
    stream = bytes(data)
    return stream, _sent_whole(frames, stream)


def _chunks(data: bytes, rng: random.Random) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        size = rng.choice((1, 2, 3, 7, 16, 64, 4096))
        out.append(data[at : at + size])
        at += size
    return out


@dataclass
class EndResult:
    streams: int = 0
    bytes_fed: int = 0
    frames_accepted: int = 0
    crashes: int = 0
    accepted_bad_crc: int = 0
    accepted_never_sent: int = 0
    resync_failures: int = 0
    intact_frames_lost: int = 0  # an intact frame inside a stream (spliced kind) not decoded
    bad_blocks: int = 0
    overruns: int = 0
    by_kind: dict = field(default_factory=Counter)
    first_crash: str = ""


class HostConsumer:
    """What the serial bridge does with telemetry (pure parts of serial_bridge_node._on_telemetry)."""

    def __init__(self) -> None:
        self.odom = OdometryEstimate()
        self.now = 0.0

    def consume(self, frame: Frame) -> None:
        if not isinstance(frame, TelemetryFrame):
            return
        self.now += 0.02
        drive = "differential" if frame.seq % 2 else "ackermann"  # both of the bridge's drive modes
        speed, yaw_rate = body_twist(
            frame.wheel_left_mm_s / 1000.0,
            frame.wheel_right_mm_s / 1000.0,
            frame.steering_mrad / 1000.0,
            drive,
            0.4,
            0.5,
        )
        self.odom = integrate(self.odom, self.now, speed, yaw_rate)
        frame.fault_names()


class McuConsumer:
    """The emulator firmware model: apply commands, step, answer with telemetry on the wire."""

    def __init__(self) -> None:
        self.model = McuModel()
        self.now = 0.0
        self.seq = 0

    def consume(self, frame: Frame) -> None:
        self.now += 0.02
        if isinstance(frame, CommandFrame):
            self.model.on_command(frame, self.now)
        self.model.step(self.now, 0.02)
        encode_telemetry(self.model.telemetry(self.seq, self.now))
        self.seq = (self.seq + 1) & 0xFFFF


def fuzz_end(end: str, streams: int, seed: int) -> EndResult:
    """``end`` "host" (telemetry in) or "mcu" (commands in); ``streams`` streams from ``seed``."""
    rng = random.Random(f"{end}:{seed}")
    make_frame = _random_telemetry if end == "host" else _random_command
    result = EndResult()
    decoder = StreamDecoder()  # one long-lived decoder, as on a real link
    consumer = HostConsumer() if end == "host" else McuConsumer()
    for index in range(streams):
        kind = KINDS[index % len(KINDS)]
        garbage, intact = make_stream(kind, rng, make_frame)
        sentinel = encode(make_frame(rng))
        stream = garbage + sentinel
        sent = intact | {sentinel}
        result.streams += 1
        result.by_kind[kind] += 1
        result.bytes_fed += len(stream)
        decoded: list[bytes] = []
        try:
            for chunk in _chunks(stream, rng):
                for frame in decoder.feed(chunk):
                    consumer.consume(frame)
                    decoded.append(_check_accepted(frame, sent, result))
        except Exception:  # the finding itself: the decoder promises never to raise
            result.crashes += 1
            result.first_crash = result.first_crash or traceback.format_exc(limit=3)
            decoder, consumer = StreamDecoder(), HostConsumer() if end == "host" else McuConsumer()
            continue
        if not decoded or decoded[-1] != sentinel:
            result.resync_failures += 1
        result.intact_frames_lost += len(intact - set(decoded)) if kind == "spliced" else 0
    result.bad_blocks = decoder.stats.bad_frames
    result.overruns = decoder.stats.overruns
    return result


def _check_accepted(frame: Frame, sent: set[bytes], result: EndResult) -> bytes:
    result.frames_accepted += 1
    raw = _raw_block(frame)
    if crc16_bitwise(raw[:-2]) != int.from_bytes(raw[-2:], "big"):
        result.accepted_bad_crc += 1
    wire = encode(frame)
    if wire not in sent:
        result.accepted_never_sent += 1
    return wire


def run(streams: int, seed: int) -> dict:
    started = time.perf_counter()
    ends = {end: fuzz_end(end, streams, seed) for end in ("host", "mcu")}
    return {
        "benchmark": "serial_fuzz",
        "command": f"python -m benchmarks.serial_fuzz --streams {streams} --seed {seed}",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "parameters": {"streams_per_end": streams, "seed": seed, "kinds": list(KINDS)},
        "elapsed_s": round(time.perf_counter() - started, 1),
        "results": {end: {**asdict(r), "by_kind": dict(r.by_kind)} for end, r in ends.items()},
    }


def table(report: dict) -> str:
    rows = [
        "| end | streams | bytes | frames accepted | crashes | accepted with bad CRC | accepted, never sent "
        "| resync failures | intact frames lost | bad blocks | overruns |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for end, r in report["results"].items():
        rows.append(
            f"| {end} | {r['streams']} | {r['bytes_fed']} | {r['frames_accepted']} | {r['crashes']} | "
            f"{r['accepted_bad_crc']} | {r['accepted_never_sent']} | {r['resync_failures']} | "
            f"{r['intact_frames_lost']} | {r['bad_blocks']} | {r['overruns']} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=100_000, help="streams per end (host, MCU)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report = run(args.streams, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    print(f"\n{args.streams} streams per end, seed {args.seed}, {report['elapsed_s']} s; wrote {args.out}")
    failed = any(
        r["crashes"] or r["accepted_bad_crc"] or r["resync_failures"] for r in report["results"].values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
