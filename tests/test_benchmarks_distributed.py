"""benchmarks/bench_distributed.py runs end to end in --quick mode on 40 generated photos (three
of its four modes, to stay under a minute): every mode indexes every photo, PostgreSQL's
statements and WAL are counted per file, and the record names the command and holds the
10-million-file estimate with its arithmetic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import write_image

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
PHOTOS = 40


def test_bench_distributed_quick(tmp_path: Path, red_blue_checkpoint: Path) -> None:
    data = tmp_path / "data"
    for i in range(PHOTOS):  # an image-folder layout, as the real photos'
        split, label = ("train", "red") if i % 2 else ("test", "blue")
        colour = (220, 30, 30) if label == "red" else (30, 30, 220)
        write_image(data / split / label / f"{i:02d}.jpg", colour, seed=i)
    out = tmp_path / "out"
    args = ["--quick", "--run", red_blue_checkpoint, "--data", data, "--out-dir", out]
    args += ["--capacity-s", "1", "--modes", "embedded", "1 worker", "2 workers"]
    script = [sys.executable, str(BENCHMARKS / "bench_distributed.py"), *map(str, args)]
    done = subprocess.run(script, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]

    record = json.loads((out / "bench_distributed.json").read_text())
    assert record["command"].startswith("python ") and record["quick"]
    assert record["machine"]["load_average_at_start"] is not None
    results = record["results"]
    assert results["photos"] == PHOTOS
    modes = results["modes"]
    assert set(modes) == {"embedded", "1 worker", "2 workers"}
    assert modes["embedded"]["counts"]["indexed"] == PHOTOS
    for name, mode in modes.items():
        assert mode["photos_per_s"] > 0 and mode["load_average_at_start"], name
        if name == "embedded":
            continue
        assert mode["counts"]["indexed"] == PHOTOS and mode["counts"]["sent"] == PHOTOS, name
        workers = [k for k in mode["cpu_s"] if k.startswith("worker ")]
        assert len(workers) == (2 if name == "2 workers" else 1), name
        assert all(mode["cpu_s"][k] > 0 for k in workers), name
        assert mode["statements"]["INSERT tags"]["calls"] >= 1, name
        assert mode["postgres"]["wal_per_file"]["wal_bytes"] > 0, name
        assert 0 < mode["first_file_s"] <= mode["last_file_s"] <= mode["wall_s"] + 2, name
    capacity = results["postgres_capacity"]
    assert all(r["commits_per_s"] > 0 for r in capacity["pgbench_one_row_insert"])
    estimate = results["estimate_10M"]
    assert estimate["worker_machine_photos_per_s"] > 0 and len(estimate["arithmetic"]) >= 5
