"""The distributed mode's commands end to end (real PostgreSQL, Redis and worker subprocesses):
`migrate`, what `--broker` refuses, `status`, `retag` and `previews` done by a worker, a worker
that mounts the storage elsewhere, and Celery's own `inspect` against the workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from conftest import write_image
from landrec.archive.db import writes
from landrec.archive.db.models import File, Rendition, Status, Tag, Worker
from landrec.archive.db.session import open_archive
from landrec.archive.indexer import model_version

from ..conftest import write_colour_model
from .test_scan import BLUE, RED, landrec

DEADLINE_S = 60.0  # for the workers to finish what they were sent


@pytest.fixture(scope="module")
def swapped_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`colour_model` with its classes the other way round (blue, red): a new model version
    whose tags say which model made them."""
    path = tmp_path_factory.mktemp("swapped") / "swapped.onnx"
    return write_colour_model(path, ["blue", "red"], "swapped")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`landrec ...` in a subprocess, whatever its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "landrec.cli.main", *args], capture_output=True, text=True,
        timeout=120, env={**os.environ, **(env or {})},
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], Any], what: str, timeout: float = DEADLINE_S) -> Any:
    """`condition()`'s first true value, polled until the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"not done in {timeout} s: {what}")


def fill(storage: Path, n: int) -> None:
    """`n` tiny JPEGs, red and blue in turn (img00.jpg red, img01.jpg blue, ...)."""
    for i in range(n):
        write_image(storage / f"img{i:02d}.jpg", BLUE if i % 2 else RED, seed=i)


def scan(storage: Path, db: str, broker: str, model: Path, *more: str) -> dict:
    return landrec(
        "archive", "scan", "--storage", str(storage), "--db", db, "--broker", broker,
        "--model", str(model), "--json", *more,
    )  # fmt: skip


def count(db: str, query: Any) -> int:
    sessions = open_archive(db)
    try:
        with sessions() as session:
            return int(session.scalar(query) or 0)
    finally:
        sessions.kw["bind"].dispose()


def pending(db: str) -> int:
    return count(db, select(func.count()).where(File.status == Status.PENDING))


def totals(db: str) -> dict[str, tuple[int, int, int, int]]:
    """{worker name before the @: (indexed, failed, previews, retagged)} of the workers whose
    last task has ended (its heartbeat, written after the rows, is in)."""
    sessions = open_archive(db)
    try:
        with sessions() as session:
            rows = session.scalars(select(Worker).where(Worker.doing.is_(None)))
            return {
                w.name.split("@")[0]: (w.indexed, w.failed, w.previews, w.retagged) for w in rows
            }
    finally:
        sessions.kw["bind"].dispose()


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The error of a refused command: non-zero exit, one line on stderr, no traceback."""
    assert done.returncode != 0, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_migrate_makes_the_schema_then_finds_it_current(fresh_postgres: str) -> None:
    assert landrec("archive", "migrate", "--db", fresh_postgres, "--json") == {
        "from": None, "to": "0007",
    }  # fmt: skip
    assert landrec("archive", "migrate", "--db", fresh_postgres, "--json") == {
        "from": "0007", "to": "0007",
    }  # fmt: skip


def test_a_broker_with_sqlite_is_refused_in_one_line(tmp_path: Path, broker_url: str) -> None:
    (tmp_path / "storage").mkdir()
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    for command in (
        ["scan", "--storage", str(tmp_path / "storage")],
        ["retag", "--model", "m.onnx"],
        ["worker"],
    ):
        error = one_line_error(run("archive", *command, "--db", db, "--broker", broker_url))
        assert db in error and "postgresql" in error, error


def test_an_unreachable_broker_is_refused_in_one_line(
    tmp_path: Path, fresh_postgres: str, colour_model: Path
) -> None:
    storage = tmp_path / "storage"
    fill(storage, 1)
    broker = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    started = time.monotonic()
    done = run(
        "archive", "scan", "--storage", str(storage), "--db", fresh_postgres, "--broker", broker,
        "--model", str(colour_model),
    )  # fmt: skip
    error = one_line_error(done)
    assert broker in error and "broker" in error, error
    assert time.monotonic() - started < 30  # refused, not retried for ever
    for command in (["worker"], ["status", "--json"]):
        done = run("archive", *command, "--db", fresh_postgres, "--broker", broker)
        assert broker in one_line_error(done)


def test_status_before_and_after_a_worker_indexed(
    tmp_path: Path, fresh_postgres: str, broker_url: str, colour_model: Path, start_worker
) -> None:
    storage = tmp_path / "storage"
    fill(storage, 6)
    landrec("archive", "migrate", "--db", fresh_postgres, "--json")
    before = landrec("archive", "status", "--db", fresh_postgres, "--broker", broker_url, "--json")
    assert before["workers"] == [] and before["files"] == {}
    assert (before["pending"], before["queued"], before["failed"]) == (0, 0, 0)
    assert before["queues"] == {"landrec.index": 0, "landrec.previews": 0}
    counts = scan(storage, fresh_postgres, broker_url, colour_model)  # sent, nobody takes it
    assert counts["sent"] == 6 and counts["pending"] == 6
    waiting = landrec("archive", "status", "--db", fresh_postgres, "--broker", broker_url, "--json")
    assert (waiting["pending"], waiting["queued"], waiting["workers"]) == (6, 6, [])
    assert waiting["queues"]["landrec.index"] == 1  # one message: a batch of 6

    start_worker(
        fresh_postgres, broker_url, "--model", str(colour_model), "--queues", "landrec.index"
    )
    wait_for(lambda: totals(fresh_postgres) == {"w1": (6, 0, 0, 0)}, "the worker indexing 6")
    after = landrec("archive", "status", "--db", fresh_postgres, "--broker", broker_url, "--json")
    assert after["files"] == {"indexed": 6} and (after["pending"], after["queued"]) == (0, 0)
    assert after["queues"] == {"landrec.index": 0, "landrec.previews": 0}
    [worker] = after["workers"]
    assert worker["name"].startswith("w1@") and worker["doing"] is None
    assert (worker["indexed"], worker["failed"], worker["previews"], worker["retagged"]) == (
        6, 0, 0, 0,
    )  # fmt: skip
    text = run("archive", "status", "--db", fresh_postgres).stdout  # for a person
    assert "files: 6 indexed" in text and "6 indexed (0 failed)" in text, text


def test_retag_is_done_by_a_worker(
    tmp_path: Path,
    fresh_postgres: str,
    broker_url: str,
    colour_model: Path,
    swapped_model: Path,
    start_worker,
) -> None:
    storage = tmp_path / "storage"
    fill(storage, 8)
    landrec("archive", "migrate", "--db", fresh_postgres, "--json")
    start_worker(
        fresh_postgres, broker_url, "--storage", str(storage), "--model", str(colour_model)
    )
    scan(storage, fresh_postgres, broker_url, colour_model, "--wait")
    new = model_version(swapped_model)
    sent = landrec(
        "archive", "retag", "--db", fresh_postgres, "--model", str(swapped_model), "--broker",
        broker_url, "--json",
    )  # fmt: skip
    assert sent["sent"] == 8
    tagged_new = select(func.count()).select_from(Tag).where(Tag.model_version == new)
    wait_for(lambda: totals(fresh_postgres)["w1"][3] == 8, "the worker retagging 8 files")
    assert count(fresh_postgres, tagged_new) == 8
    sessions = open_archive(fresh_postgres)
    with sessions() as session:
        labels = dict(session.execute(select(File.path, File.context)).all())
        versions = set(session.scalars(select(File.model_version)))
        assert session.scalar(select(func.count()).select_from(Tag)) == 16  # old ones kept
    sessions.kw["bind"].dispose()
    assert versions == {new}
    assert labels["img00.jpg"] == "blue" and labels["img01.jpg"] == "red"  # the new model's
    [worker] = landrec("archive", "status", "--db", fresh_postgres, "--json")["workers"]
    assert (worker["indexed"], worker["retagged"]) == (8, 8)


def test_previews_are_made_by_a_previews_worker(
    tmp_path: Path, fresh_postgres: str, broker_url: str, colour_model: Path, start_worker
) -> None:
    storage = tmp_path / "storage"
    fill(storage, 4)
    model = str(colour_model)
    landrec("archive", "migrate", "--db", fresh_postgres, "--json")
    start_worker(fresh_postgres, broker_url, "--storage", str(storage), "--model", model,
                 "--queues", "landrec.index")  # fmt: skip
    scan(storage, fresh_postgres, broker_url, colour_model, "--wait")
    start_worker(fresh_postgres, broker_url, "--storage", str(storage), "--model", model,
                 "--queues", "landrec.previews", name="p1")  # fmt: skip
    sent = landrec(
        "archive", "previews", "--storage", str(storage), "--db", fresh_postgres, "--broker",
        broker_url, "--json",
    )  # fmt: skip
    assert sent["waiting"] == 4 and sent["queue"] == {"pending": 4}
    done = select(func.count()).where(Rendition.status.in_(["ready", "original"]))
    wait_for(lambda: totals(fresh_postgres).get("p1", (0,) * 4)[2] == 4, "p1 making 4 previews")
    assert count(fresh_postgres, done) == 4
    status = landrec("archive", "status", "--db", fresh_postgres, "--broker", broker_url, "--json")
    by_name = {w["name"].split("@")[0]: w for w in status["workers"]}
    assert by_name["p1"]["previews"] == 4 and by_name["w1"]["previews"] == 0
    assert status["queues"]["landrec.previews"] == 0


def send_previews(db: str, broker: str) -> tuple[dict, int]:
    """`archive previews --broker` (no worker): what it printed, and the previews queue's
    depth then (`archive status`)."""
    sent = landrec(
        "archive", "previews", "--storage", ".", "--db", db, "--broker", broker, "--json"
    )  # fmt: skip
    status = landrec("archive", "status", "--db", db, "--broker", broker, "--json")
    return sent, status["queues"]["landrec.previews"]


def test_previews_sends_a_message_for_every_pending_preview(
    fresh_postgres: str, broker_url: str
) -> None:
    # `previews --broker` runs once (no loop tops the queue up later, as `serve` does): each
    # message makes one preview, so every pending one needs its message.
    n = 300
    landrec("archive", "migrate", "--db", fresh_postgres, "--json")
    sessions = open_archive(fresh_postgres)
    with sessions() as session:
        now = writes.utcnow()
        session.add_all(
            File(
                path=f"{i}.jpg",
                size=1,
                mtime=1.0,
                first_seen=now,
                status="indexed",
                kind="image",
                sha256=f"{i:064x}",
            )
            for i in range(n)
        )
        session.commit()
    sessions.kw["bind"].dispose()
    sent, depth = send_previews(fresh_postgres, broker_url)
    assert sent["waiting"] == n and sent["queue"] == {"pending": n}
    assert depth == n


def test_previews_sends_messages_only_for_previews_a_worker_can_take(
    fresh_postgres: str, broker_url: str
) -> None:
    # A pending preview of a file gone since (missing) can never be claimed: a message for it
    # would be sent again and again. A preview left `running` by a worker killed mid-way is
    # taken over once stale: it needs a message, or it stays `running` for ever.
    landrec("archive", "migrate", "--db", fresh_postgres, "--json")
    sessions = open_archive(fresh_postgres)
    now = writes.utcnow()
    states = {  # file status, rendition status, rendition last updated
        "ready.jpg": ("indexed", "pending", now),
        "gone.jpg": ("missing", "pending", now),
        "deleted.jpg": ("missing", "pending", now),
        "orphan.jpg": ("indexed", "running", now - timedelta(hours=1)),
        "busy.jpg": ("indexed", "running", now),
    }
    with sessions() as session:
        for i, (path, (status, rendition, updated)) in enumerate(states.items()):
            row = File(path=path, size=1, mtime=1.0, first_seen=now, status=status,
                       kind="image", sha256=f"{i:064x}")  # fmt: skip
            session.add(row)
            session.flush()
            session.add(Rendition(file_id=row.id, sha256=row.sha256, kind="still",
                                  status=rendition, updated_at=updated))  # fmt: skip
        session.commit()
    sessions.kw["bind"].dispose()
    sent, depth = send_previews(fresh_postgres, broker_url)
    assert sent["waiting"] == 2  # ready.jpg, orphan.jpg
    assert depth == 2


def test_a_worker_reaching_the_storage_at_another_path_indexes_it(
    tmp_path: Path, fresh_postgres: str, broker_url: str, colour_model: Path, start_worker
) -> None:
    site = tmp_path / "site"
    fill(site / "storage" / "flight 1", 6)
    scan(site / "storage", fresh_postgres, broker_url, colour_model)  # registered, sent
    # The server's path is gone on the worker's machine: it mounts the storage elsewhere.
    moved = site.rename(tmp_path / "moved")
    (tmp_path / "mnt").symlink_to(moved, target_is_directory=True)
    start_worker(fresh_postgres, broker_url, "--storage", str(tmp_path / "mnt" / "storage"),
                 "--model", str(colour_model))  # fmt: skip
    wait_for(lambda: pending(fresh_postgres) == 0, "the worker indexing 6 files")
    sessions = open_archive(fresh_postgres)
    with sessions() as session:
        rows = session.execute(select(File.path, File.status, File.context)).all()
    sessions.kw["bind"].dispose()
    assert sorted(rows) == [
        (f"flight 1/img{i:02d}.jpg", "indexed", "blue" if i % 2 else "red") for i in range(6)
    ]


def test_celery_inspect_answers_for_the_running_worker(
    tmp_path: Path, fresh_postgres: str, broker_url: str, colour_model: Path, start_worker
) -> None:
    (tmp_path / "storage").mkdir()
    landrec("archive", "migrate", "--db", fresh_postgres, "--json")
    worker = start_worker(fresh_postgres, broker_url, "--storage", str(tmp_path / "storage"),
                          "--model", str(colour_model))  # fmt: skip
    name = f"w1@{socket.gethostname()}"  # the worker's --name w1@%h
    command = [sys.executable, "-m", "celery", "--app", "landrec.archive.queue.app", "inspect"]
    done = subprocess.run(
        [*command, "ping", "--destination", name, "--timeout", "20"], capture_output=True,
        text=True, timeout=60, env={**os.environ, "LANDREC_BROKER": broker_url},
    )  # fmt: skip  # (with a destination, it returns as soon as that worker answers)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{name}: OK" in done.stdout and "pong" in done.stdout, done.stdout
    assert worker.process.poll() is None
