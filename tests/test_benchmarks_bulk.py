"""benchmarks/bench_bulk.py runs end to end on a small archive: every action answers with what
it matched and changed, and the record names the command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_bench_bulk_small(tmp_path: Path) -> None:
    args = ["--rows", "2000", "--runs", "1", "--out", str(tmp_path)]
    script = BENCHMARKS / "bench_bulk.py"
    subprocess.run([sys.executable, str(script), *args], check=True, capture_output=True)
    record = json.loads((tmp_path / "bench_bulk.json").read_text())
    assert record["command"].startswith("python ") and record["settings"]["ids"] == 2000
    results = record["results"]
    reindexed = results["reindex 2,000 ids"]
    assert reindexed["matched"] == reindexed["changed"] == 2000
    corrected = results["correct 2,000 ids"]
    assert corrected["matched"] == 2000 and 0 < corrected["changed"] <= 2000
    assert 0 < results["correct by a filter (context=coast)"]["matched"] < 2000
    assert all(r["median_ms"] > 0 for r in results.values())
