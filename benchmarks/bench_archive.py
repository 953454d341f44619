"""The archive service, embedded mode (SQLite): ingest throughput, API latency, sizes.

ingest   the photos of DATA (all splits) copied into an empty storage folder, then one
         `archive scan` pass (detect -> hash -> decode -> metadata -> thumbnail -> classify
         -> commit) in a child process, wall time, each step's share (steps run in threads:
         summed seconds) and the child's peak RSS; then the model alone on ONNX Runtime
         (batch 32, preprocessed arrays) in this process, and the scan's rate over it
video    generated videos (PyAV, mpeg4 640x360, 25 fps) indexed the same way: seconds of video
         per second
api      a database of ROWS synthetic rows (say so: generated, not indexed), the real API
         served by uvicorn in a subprocess, CLIENTS concurrent clients each requesting
         `GET /api/files?context=...` pages: p50/p99 latency
sizes    database bytes and thumbnail bytes per 1,000 indexed files

  python benchmarks/bench_archive.py --run runs/mobilenet_v2          # 7,444 photos, 100k rows
  python benchmarks/bench_archive.py --run RUN --quick                # 200 photos, 10k rows
  python benchmarks/bench_archive.py --run RUN --parts ingest --photos 1000   # RSS at 1k
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import archive_load
import common

BENCHMARK = "bench_archive"
PARTS = ("ingest", "video", "api")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="run folder (or checkpoint)")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA)
    p.add_argument("--photos", type=int, default=None, help="at most this many (default all)")
    p.add_argument("--rows", type=int, default=100_000, help="synthetic rows for the API test")
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--requests", type=int, default=100, help="requests per client")
    p.add_argument("--videos", type=int, default=4, help="generated videos of 20 s")
    p.add_argument("--quick", action="store_true", help="200 photos, 10k rows, 1 video")
    p.add_argument("--parts", default=",".join(PARTS), help="comma-separated, of " + str(PARTS))
    p.add_argument("--seconds", type=float, default=3.0, help="model-only timed seconds")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--scan-child", nargs=2, type=Path, help=argparse.SUPPRESS)  # STORAGE STATE
    return p.parse_args(argv)


def copy_photos(data: Path, storage: Path, limit: int | None) -> tuple[int, float]:
    photos = sorted(p for p in data.rglob("*") if p.suffix.lower() in common.IMAGE_SUFFIXES)
    photos = photos[:limit] if limit else photos
    started = time.perf_counter()
    for i, path in enumerate(photos):
        target = storage / path.relative_to(data).parent / f"{i:05d}{path.suffix.lower()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return len(photos), time.perf_counter() - started


def settle(storage: Path) -> None:
    """Files copied a minute ago: the scan reads them at once (no growing-file wait)."""
    old = time.time() - 120
    for path in storage.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))


def index_folder(storage: Path, run: Path, state: Path) -> dict[str, Any]:
    from landrec.archive.commands import open_indexer
    from landrec.archive.scanner import scan
    from landrec.archive.settings import make_settings

    settings = make_settings(storage, model=run, state_dir=state, stable_s=0.0)
    indexer = open_indexer(settings)
    started, cpu = time.perf_counter(), time.process_time()
    counts = scan(indexer)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    steps, step_cpu = dict(indexer.seconds), dict(indexer.times.cpu_seconds)
    indexer.close()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "counts": counts,
        "step_seconds_summed": steps,
        "step_cpu_seconds_summed": step_cpu,
    }


def index_in_child(storage: Path, run: Path, state: Path) -> dict[str, Any]:
    """`index_folder` in a fresh process: its peak RSS is the scan's alone."""
    argv = [sys.executable, __file__, "--run", str(run), "--scan-child", str(storage), str(state)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the scan failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scan_child(storage: Path, run: Path, state: Path) -> None:
    result = index_folder(storage, run, state)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def model_only(run: Path, data: Path, seconds: float) -> dict[str, Any]:
    """Images/s of the run's model alone on ONNX Runtime, batch 32 of preprocessed photos."""
    import numpy as np

    from landrec.api import Predictor

    predictor = Predictor(run, "onnx")
    photos = common.sample_files(data / "test", 32)
    batch = np.stack([predictor.model_input(predictor.decode(p)) for p in photos])
    return common.measure(lambda: predictor.classifier.logits(batch), 32, seconds)


def scan_ceiling(result: dict[str, Any], alone: dict[str, Any]) -> dict[str, float]:
    """The highest scan_over_model_only the CPU allows: every core busy with the model's own
    CPU per image plus the other steps' (their thread CPU in this scan, `classify`'s left out:
    its thread is one of ONNX Runtime's), per photo."""
    photos, cores = result["photos"], os.cpu_count() or 1
    steps = result["step_cpu_seconds_summed"]
    other_ms = 1000 * sum(v for k, v in steps.items() if k != "classify") / photos
    model_ms = alone["cpu_ms_per_image"]
    bound = cores / (alone["images_per_s"] * (model_ms + other_ms) / 1000)
    return {
        "scan_over_model_only": min(1.0, bound),
        "model_cpu_ms_per_image": model_ms,
        "other_steps_cpu_ms_per_photo": other_ms,
        "scan_cpu_ms_per_photo": 1000 * result["cpu_s"] / photos,
    }


def sizes(state: Path, files: int) -> dict[str, float]:
    import sqlite3

    database = state / "archive.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db_bytes = database.stat().st_size
    made = (state / "thumbs").rglob("*")
    thumbs = sum(p.stat().st_size for p in made if p.suffix in (".jpg", ".webp"))
    return {
        "database_bytes": db_bytes,
        "thumbnail_bytes": thumbs,
        "database_kib_per_1000_files": db_bytes / 1024 / files * 1000,
        "thumbnails_mib_per_1000_files": thumbs / 2**20 / files * 1000,
    }


def ingest(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    storage = root / "storage"
    storage.mkdir()
    limit = 200 if args.quick else args.photos
    n, copy_s = copy_photos(args.data, storage, limit)
    settle(storage)
    load = os.getloadavg()
    result = index_in_child(storage, args.run, root / "state")
    result |= {"photos": n, "copy_s": copy_s, "photos_per_s": n / result["wall_s"]}
    result["load_average_at_start"] = load
    result["sizes"] = sizes(root / "state", n)
    alone = model_only(args.run, args.data, args.seconds)
    result["model_only_ort_batch32"] = alone
    result["scan_over_model_only"] = result["photos_per_s"] / alone["images_per_s"]
    result["ceiling"] = scan_ceiling(result, alone)
    return result


def videos(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    storage = root / "videos"
    count = 1 if args.quick else args.videos
    seconds = archive_load.write_videos(storage, count, seconds=20)
    settle(storage)
    result = index_folder(storage, args.run, root / "video-state")
    return result | {
        "videos": count,
        "video_seconds": seconds,
        "video_s_per_s": seconds / result["wall_s"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scan_child:
        storage, state = args.scan_child
        scan_child(storage, args.run, state)
        return 0
    parts = [p for p in args.parts.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        raise SystemExit(f"--parts: unknown {sorted(unknown)}; choose from {PARTS}")
    machine = common.machine_info()
    rows = 10_000 if args.quick else args.rows
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
        root = Path(tmp)
        if "ingest" in parts:
            results["ingest"] = ingest(args, root)
        if "video" in parts:
            results["video"] = videos(args, root)
        if "api" in parts:
            results["api"] = archive_load.api_latency(
                root / "api", rows, args.clients, args.requests
            )
    notes = [
        "ingest: photos copied, then their mtime set 2 minutes back so the scan reads them at once",
        "ingest: the scan runs in a child process (peak_rss_mib: its ru_maxrss); the model alone "
        "is timed after it in this process, scan_over_model_only is the ratio of the two rates",
        "step seconds are summed over the indexer's threads and overlap each other (waiting for "
        "a core included); step CPU seconds: the running thread's CPU time (classify: the "
        "calling thread's, not ONNX Runtime's pool); cpu_s: the whole scan process's",
        "ceiling: min(1, cores / (model-only images/s x (the model's process CPU per image "
        "alone + the other steps' thread CPU per photo in this scan)))",
        "api: synthetic rows (random contexts, sizes, positions, dates), not indexed photos",
    ]
    settings = {
        "run": str(args.run),
        "data": str(args.data),
        "quick": args.quick,
        "clients": args.clients,
        "requests_per_client": args.requests,
        "rows": rows,
        "parts": parts,
        "photos": args.photos,
    }
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
