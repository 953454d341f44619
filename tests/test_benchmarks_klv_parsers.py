"""benchmarks/bench_klv_parsers.py end to end with a tiny stream: our decoder against the
standard's example and round trips (the other parsers run where installed, else are noted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from landrec.data.klv import TAGS

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
KLV_TESTS = Path(__file__).resolve().parent / "data" / "test_klv.py"


def test_the_benchmarks_example_is_the_standards_packet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmark carries the same bytes as the decoder's tests (MISB ST 0601.8's example)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_klv_parsers

    spec = importlib.util.spec_from_file_location("klv_tests", KLV_TESTS)
    assert spec is not None and spec.loader is not None
    klv_tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(klv_tests)
    assert bench_klv_parsers.STANDARD_PACKET == klv_tests.STANDARD_PACKET


def test_quick_parser_comparison(tmp_path: Path) -> None:
    script = BENCHMARKS / "bench_klv_parsers.py"
    tiny = ["--quick", "--round-trips", "5", "--packets", "20", "--out-dir", str(tmp_path)]
    subprocess.run([sys.executable, str(script), *tiny], check=True, capture_output=True)
    record = json.loads((tmp_path / "bench_klv_parsers.json").read_text())
    assert record["quick"] and record["machine"]["cpu_model"] and record["machine"]["cpu_count"]
    results = record["results"]
    ours = results["parsers"]["landrec"]
    example = ours["standard_packet"]
    assert example["crash"] is None and example["checksum_ok"] is True
    # every published value of the example packet, within its tag's resolution
    assert example["not_matched"] == []
    assert example["matched"] == example["published"] == 22
    assert results["round_trips"]["landrec"]["landrec"] == {
        "values": 5 * len(TAGS),
        "recovered": 5 * len(TAGS),
        "share": 1.0,
        "tags_missed": [],
        "crash": None,
    }
    assert ours["checksum"]["verdict"] == "flagged"
    robust = {case: cell["verdict"] for case, cell in ours["robustness"].items()}
    assert robust == dict.fromkeys(robust, "ok")
    assert ours["speed"]["packets"] == 20 and ours["speed"]["packets_per_s"] > 0
    for name in ("pymisb", "stanag4609", "klvdata"):  # measured, or skipped with the reason
        assert (name in results["parsers"]) != (name in results["missing"]), name
