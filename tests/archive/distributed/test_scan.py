"""`scan --broker --wait` end to end: real PostgreSQL, Redis and a worker subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from conftest import write_image
from landrec.archive.db.models import File, Status, Tag
from landrec.archive.db.session import open_archive

RED, BLUE = (220, 30, 30), (30, 30, 220)


def landrec(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "landrec.cli.main", *args], capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_scan_sent_to_a_worker_indexes_every_file_once(
    tmp_path: Path, fresh_postgres: str, broker_url: str, colour_model: Path, start_worker
) -> None:
    storage = tmp_path / "storage"
    for i in range(40):
        write_image(storage / f"img{i:02d}.jpg", BLUE if i % 2 else RED, seed=i)
    (storage / "notes.txt").write_text("not media")
    model = str(colour_model)
    landrec("archive", "migrate", "--db", fresh_postgres, "--json")
    start_worker(fresh_postgres, broker_url, "--storage", str(storage), "--model", model)
    counts = landrec(
        "archive", "scan", "--storage", str(storage), "--db", fresh_postgres, "--broker",
        broker_url, "--model", model, "--wait", "--json",
    )  # fmt: skip
    assert counts["seen"] == 41 and counts["sent"] == 41
    assert counts["indexed"] == 40 and counts["unsupported"] == 1
    sessions = open_archive(fresh_postgres)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == 40
        labels = dict(session.execute(select(File.path, File.context)).all())
        assert session.scalar(select(func.count()).where(File.status == Status.PENDING)) == 0
    assert labels["img01.jpg"] == "blue" and labels["img02.jpg"] == "red"
    deadline = time.monotonic() + 60  # the worker's counts are written after the rows
    while time.monotonic() < deadline:
        status = landrec(
            "archive", "status", "--db", fresh_postgres, "--broker", broker_url, "--json"
        )  # fmt: skip
        if sum(w["indexed"] for w in status["workers"]) == 41:
            break
        time.sleep(0.2)
    assert sum(w["indexed"] for w in status["workers"]) == 41
    assert status["queues"] == {"landrec.index": 0, "landrec.previews": 0}
