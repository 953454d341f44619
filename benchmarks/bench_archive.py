"""The archive service, embedded mode (SQLite): ingest throughput, API latency, sizes.

ingest   the photos of DATA (all splits) copied into an empty storage folder, then one
         `archive scan` pass in-process (detect -> hash -> metadata -> thumbnail -> classify
         -> commit), wall time and each step's share (steps run in threads: summed seconds)
video    generated videos (PyAV, mpeg4 640x360, 25 fps) indexed the same way: seconds of video
         per second
api      a database of ROWS synthetic rows (say so: generated, not indexed), the real API
         served by uvicorn in a subprocess, CLIENTS concurrent clients each requesting
         `GET /api/files?context=...` pages: p50/p99 latency
sizes    database bytes and thumbnail bytes per 1,000 indexed files

  python benchmarks/bench_archive.py --run runs/mobilenet_v2          # 7,444 photos, 100k rows
  python benchmarks/bench_archive.py --run RUN --quick                # 200 photos, 10k rows
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import archive_load
import common

BENCHMARK = "bench_archive"


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
    p.add_argument("--out-dir", type=Path, default=None)
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
    started = time.perf_counter()
    counts = scan(indexer)
    wall = time.perf_counter() - started
    steps = dict(indexer.seconds)
    indexer.close()
    return {"wall_s": wall, "counts": counts, "step_seconds_summed": steps}


def sizes(state: Path, files: int) -> dict[str, float]:
    import sqlite3

    database = state / "archive.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db_bytes = database.stat().st_size
    thumbs = sum(p.stat().st_size for p in (state / "thumbs").rglob("*.webp"))
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
    result = index_folder(storage, args.run, root / "state")
    result |= {"photos": n, "copy_s": copy_s, "photos_per_s": n / result["wall_s"]}
    result["sizes"] = sizes(root / "state", n)
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
    machine = common.machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
        root = Path(tmp)
        results = {"ingest": ingest(args, root), "video": videos(args, root)}
        rows = 10_000 if args.quick else args.rows
        results["api"] = archive_load.api_latency(root / "api", rows, args.clients, args.requests)
    notes = [
        "ingest: photos copied, then their mtime set 2 minutes back so the scan reads them at once",
        "step seconds are summed over the indexer's threads and overlap each other",
        "api: synthetic rows (random contexts, sizes, positions, dates), not indexed photos",
    ]
    settings = {
        "run": str(args.run),
        "data": str(args.data),
        "quick": args.quick,
        "clients": args.clients,
        "requests_per_client": args.requests,
        "rows": rows,
    }
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
