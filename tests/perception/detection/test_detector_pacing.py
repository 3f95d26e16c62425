"""The pacing benchmark runs the shipped real model both ways and reports ordered percentiles
(benchmarks/detector_pacing.py; its figures are in docs/models.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import detector_pacing
from benchmarks.detector import IMAGES, SHARED


@pytest.mark.skipif(not all((SHARED / "images" / n).is_file() for n in IMAGES), reason="needs ../shared/data")
def test_one_block_each_way_writes_both_modes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "pacing.json"
    assert detector_pacing.main(["--blocks", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"back_to_back", "paced_30fps"}
    for row in report["results"].values():
        assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]
    assert "| paced_30fps |" in capsys.readouterr().out
