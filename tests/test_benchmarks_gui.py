"""benchmarks/bench_gui.py runs end to end on a tiny archive (300 rows, generated photos, one
run): the real service over a storage holding every row's file, each view's figures, each
filter's response, no row changing status while measured, and its report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
VIEWS = ("grid", "detail", "map", "stats", "ingest")


def test_bench_gui_tiny(tmp_path: Path) -> None:
    script, doc = BENCHMARKS / "bench_gui.py", tmp_path / "gui-bench.md"
    args = ["--rows", "300", "--runs", "1", "--warmup", "0"]
    args += ["--out", str(tmp_path), "--doc", str(doc)]
    args += ["--data", str(tmp_path / "no-photos")]  # generated templates: no data set needed
    subprocess.run([sys.executable, str(script), *args], check=True, capture_output=True)
    record = json.loads((tmp_path / "bench_gui.json").read_text())
    results = record["results"]
    assert record["command"].startswith("python ") and record["settings"]["rows"] == 300

    counts, status = results["archive"]["counts"], results["status_counts"]
    assert sum(status.values()) == 300 and not {"pending", "missing"} & set(status)
    assert status == {k: counts[k] for k in ("indexed", "failed", "unsupported") if k in counts}
    totals = results["filter_totals"]
    assert totals[""] == 300 and totals["kind=video"] == counts["video"]
    assert totals["corrected=true"] == counts["corrected"]
    assert totals["status=failed"] == counts.get("failed", 0)

    figures = results["figures_ms"]
    for view in VIEWS:
        ready = figures[f"{view}: view_ready_ms"]
        assert len(ready["runs"]) == 1 and 0 < ready["median"] < 60_000
        assert figures[f"{view}: first_contentful_paint_ms"]["median"] > 0
    assert figures["grid: first_images_ms"]["median"] > 0
    assert figures["filters: context (glacier)"]["median"] > 0
    assert totals["map:"] == counts["gps"] and 0 < totals["map:kind=video"] <= counts["video"]
    assert figures["map_filters: kind (video)"]["median"] > 0
    assert "| map, filter bar | filter: kind (video) |" in doc.read_text()
    assert "| grid | first contentful paint |" in doc.read_text()
