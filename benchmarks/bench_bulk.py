"""POST /api/files/bulk, the whole route (FastAPI's TestClient, no network), on a synthetic
SQLite archive: correct, clear and re-index 10,000 ids, and correct every file a filter
matches; median of the timed runs after one warm-up.

  python benchmarks/bench_bulk.py                       # 100,000 rows, 5 runs
  python benchmarks/bench_bulk.py --rows 2000 --runs 1  # a quick check
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from archive_load import synthetic_database
from common import REPO, machine_info, write_results

CLASSES = ["coast", "desert", "forest", "glacier", "mountain"]
IDS = 10_000  # ids per request


def client_over(root: Path, rows: int) -> Any:
    """A TestClient over a fresh archive of `rows` synthetic indexed rows, and its sessions."""
    from fastapi.testclient import TestClient

    from landrec.archive.db.session import open_database
    from landrec.archive.settings import LOCAL_HOSTS, make_settings
    from landrec.archive.web import create_app

    (root / "storage").mkdir()
    hosts = (*LOCAL_HOSTS, "testserver")
    settings = make_settings(root / "storage", state_dir=root / "state", allowed_hosts=hosts)
    synthetic_database(settings.db_url, rows)
    sessions = open_database(settings.db_url)
    return TestClient(create_app(settings, sessions, classes=CLASSES)), sessions


def one_run(client: Any, sessions: Any, ids: list[int]) -> dict[str, tuple[float, dict]]:
    """Each action timed once: {label: (ms, the answer)}; the archive indexed again after."""
    from sqlalchemy import update

    from landrec.archive.db.models import File

    def post(body: dict) -> tuple[float, dict]:
        started = time.perf_counter()
        response = client.post("/api/files/bulk", json=body)
        ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{body['action']}: {response.status_code} {response.text}")
        return ms, response.json()

    n = f"{len(ids):,} ids"
    out = {
        f"correct {n}": post({"action": "correct", "context": "glacier", "ids": ids}),
        f"clear {n}": post({"action": "clear", "ids": ids}),
        f"reindex {n}": post({"action": "reindex", "ids": ids}),
    }
    with sessions() as session:  # indexed again, untimed: the next run starts the same
        session.execute(update(File).values(status="indexed", sha256="x"))
        session.commit()
    body = {"action": "correct", "context": "mountain", "filter": {"context": "coast"}}
    out["correct by a filter (context=coast)"] = post(body)
    post({"action": "clear", "filter": {"corrected": True}})  # untimed: undo it
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "docs/benchmarks")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as tmp:
        client, sessions = client_over(Path(tmp), args.rows)
        ids = list(range(1, args.rows + 1, max(1, args.rows // IDS)))[:IDS]
        one_run(client, sessions, ids)  # warm-up: the database's pages in the OS cache
        runs = [one_run(client, sessions, ids) for _ in range(args.runs)]
        client.close()
    results: dict[str, Any] = {}
    for label in runs[0]:
        times = [run[label][0] for run in runs]
        answer = runs[-1][label][1]
        results[label] = {
            "median_ms": statistics.median(times),
            "min_ms": min(times),
            "max_ms": max(times),
            "runs_ms": times,
            "matched": answer["matched"],
            "changed": answer["changed"],
        }
    settings = {"rows": args.rows, "runs": args.runs, "ids": len(ids), "backend": "SQLite"}
    notes = [
        "The whole route in-process (TestClient): validation, the filter, one transaction, the "
        "audit row; no network.",
        "One warm-up run first; the archive is set back to indexed between runs (untimed).",
    ]
    write_results("bench_bulk", args.out, machine_info(), settings, results, notes)


if __name__ == "__main__":
    main()
