"""A small fixed-seed run of benchmarks/serial_fuzz.py (the full one feeds 100,000 streams per end).

Random, truncated, spliced and mutated byte streams in random chunk sizes through the host and
MCU parsers and their consumers: no exception, no accepted frame with a bad CRC, no accepted frame
that was not sent whole, and the first good frame after the garbage always decoded.
"""

from __future__ import annotations

import pytest

from benchmarks.serial_fuzz import KINDS, crc16_bitwise, fuzz_end
from edge_rover.control.mcu_link.serial_protocol import crc16_ccitt_false


def test_independent_crc_agrees_with_the_protocol() -> None:
    assert crc16_bitwise(b"123456789") == 0x29B1 == crc16_ccitt_false(b"123456789")


@pytest.mark.parametrize("end", ["host", "mcu"])
def test_fuzzed_streams_never_crash_nor_pass_a_bad_frame_and_always_resync(end: str) -> None:
    result = fuzz_end(end, streams=3000, seed=7)
    assert result.streams == 3000 and set(result.by_kind) == set(KINDS)
    assert result.crashes == 0, result.first_crash
    assert result.accepted_bad_crc == 0
    assert result.accepted_never_sent == 0
    assert result.resync_failures == 0
    assert result.intact_frames_lost == 0
    # the streams really were hostile: most blocks were refused, long runs overran
    assert result.bad_blocks > 1000 and result.overruns > 100
    assert result.frames_accepted >= 3000  # at least every sentinel


def test_the_checks_can_fail_a_decoder_that_skips_its_crc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: with the CRC check turned off, mutated frames are accepted and counted."""
    import edge_rover.control.mcu_link.serial_protocol as protocol

    monkeypatch.setattr(
        protocol, "crc16_ccitt_false", lambda body, crc=0xFFFF: int.from_bytes(b"\0\0", "big")
    )
    result = fuzz_end("mcu", streams=600, seed=7)
    assert result.accepted_bad_crc > 0  # the independent CRC catches every frame
    assert result.accepted_never_sent > 0  # and damaged frames got through
