"""benchmarks/bench_telemetry.py runs end to end (no model, one short video) and compares what
it says it compares: the same video indexed with and without the telemetry extractor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_bench_telemetry_quick(tmp_path: Path) -> None:
    script = BENCHMARKS / "bench_telemetry.py"
    args = ["--run", "none", "--quick", "--seconds", "4", "--out-dir", str(tmp_path)]
    subprocess.run([sys.executable, str(script), *args], check=True)
    record = json.loads((tmp_path / "bench_telemetry.json").read_text())
    results = record["results"]
    assert record["quick"] and results["klv_packets"] == 4 * 30
    runs = results["runs"]
    assert sorted(r["variant"] for r in runs) == ["with", "with", "without", "without"]
    for run in runs:
        assert run["counts"]["indexed"] == 1 and run["wall_s"] > 0
        assert ("telemetry" in run["step_seconds_summed"]) == (run["variant"] == "with")
    assert (
        results["overhead"]
        == results["median_wall_s_with_telemetry"] / results["median_wall_s_without"] - 1
    )
