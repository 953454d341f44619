"""benchmarks/bench_renditions.py runs end to end on the quick odd-format corpus (no model) and
reports what it says: each file's rendition, the share against the decoders' goal, transcoding
speed and preview bytes; the browser-ready MP4 is served as it is, a camera JPEG gets a preview,
the broken files get none and a reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
BROKEN = {"broken_empty.jpg", "broken_truncated.mp4", "broken_noise.mov"}


def test_bench_renditions_quick(tmp_path: Path) -> None:
    script = BENCHMARKS / "bench_renditions.py"
    doc = tmp_path / "renditions.md"
    args = ["--quick", "--out-dir", str(tmp_path), "--doc", str(doc)]
    subprocess.run([sys.executable, str(script), *args], check=True, capture_output=True)
    record = json.loads((tmp_path / "bench_renditions.json").read_text())
    results = record["results"]
    assert record["quick"] and record["command"].startswith("python ")
    assert set(results) >= {"archive", "coverage", "transcode", "preview_bytes", "files"}

    files = {f["name"]: f for f in results["files"]}
    assert files["mp4_h264_aac_faststart.mp4"]["rendition"] == "original"
    jpeg = files["jpeg_exif6.jpg"]  # 4000x3000: larger than a display-size preview
    assert jpeg["rendition"] == "ready" and jpeg["rendition_kind"] == "still"
    assert 0 < jpeg["preview_bytes"] < jpeg["bytes"]

    coverage = results["coverage"]
    goal = {name for name, f in files.items() if f["goal"]}
    assert goal == set(files) - BROKEN  # every other file decodes with one of the libraries
    assert coverage["goal_files"] == len(goal) and coverage["files"] == len(files)
    assert 0 < coverage["share_of_goal"] <= 1
    assert coverage["share_of_goal"] == coverage["goal_with_rendition"] / len(goal)
    assert set(coverage["without_rendition"]) >= BROKEN
    assert all(coverage["without_rendition"][name] for name in BROKEN)  # each with a reason

    speed = results["transcode"]["videos"]["mp4_h264_aac_faststart.mp4"]
    assert speed["video_s"] > 0 and speed["video_s_per_s"] == speed["video_s"] / speed["wall_s"]
    still = results["preview_bytes"]["still"]
    assert still["ready"] >= 1 and still["median_bytes"] <= still["max_bytes"]
    assert "| `jpeg_exif6.jpg` |" in doc.read_text()
