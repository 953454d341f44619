"""The issue's reliability tests, against real servers: a worker SIGKILLed mid-run, Redis
killed and restarted, PostgreSQL killed and restarted, the same files sent twice at once. Each
run must end with every file recorded exactly once with a final status, one tag per image.

Each takes 3 to 30 s (the file about 90 s on two loaded cores): marked `slow`; run them alone
with `python -m pytest -q tests/archive/distributed/test_reliability.py`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from conftest import write_image
from landrec.archive.db.models import File, Segment, Status, Tag, Worker
from landrec.archive.db.session import open_database
from landrec.archive.queue.app import INDEX_QUEUE, INDEX_TASK, configure
from landrec.archive.queue.dispatch import Dispatcher, queue_depths
from landrec.archive.scanner import register_storage

from ..servers import Postgres, Redis
from .conftest import flush

pytestmark = pytest.mark.slow

MANY = 520  # "500+ files"
KILL_AFTER = 60  # files indexed before the fault: mid-run, not at its start
VISIBILITY_S = "10"  # a killed worker's message is given to another within test time
RUN_TIMEOUT_S = 100.0
# A killed worker's message comes back after the visibility timeout plus kombu's sweep (a
# quarter of it): well within this (its default sweep, 100 s, would not be).
REDELIVERY_S = 60.0
RED, BLUE = (220, 30, 30), (30, 30, 220)


def photos(storage: Path, count: int, first: int = 0) -> None:
    """`count` tiny JPEGs, their times in the past (settled: no indexer waits for them)."""
    past = time.time() - 60
    for i in range(first, first + count):
        path = write_image(storage / f"img{i:04d}.jpg", BLUE if i % 2 else RED, seed=i)
        os.utime(path, (past, past))


def wait_for(
    check: Callable[[], bool], what: str, timeout_s: float = RUN_TIMEOUT_S, poll_s: float = 0.2
) -> None:
    """Poll `check` every `poll_s` until it holds; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s} s: {what}")
        time.sleep(poll_s)


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    """{status: rows}; {} while the database cannot be reached (it is being restarted)."""
    try:
        with sessions() as session:
            rows = session.execute(select(File.status, func.count()).group_by(File.status))
            return {str(s): int(n) for s, n in rows}
    except DBAPIError:
        return {}


def indexed(sessions: sessionmaker[Session]) -> int:
    return counts(sessions).get(Status.INDEXED.value, 0)


def busy(sessions: sessionmaker[Session], name: str) -> bool:
    """Whether worker `name` is in the middle of a task (its heartbeat says what it does)."""
    with sessions() as session:
        query = select(Worker.doing).where(Worker.name.startswith(f"{name}@"))
        return any(doing is not None for doing in session.scalars(query))


def worker_indexed(sessions: sessionmaker[Session], name: str) -> int:
    """The files that worker `name` (all its processes) gave a final status, per its rows."""
    with sessions() as session:
        query = select(func.coalesce(func.sum(Worker.indexed), 0)).where(
            Worker.name.startswith(f"{name}@")
        )
        return int(session.scalar(query) or 0)


def assert_exactly_once(sessions: sessionmaker[Session], files: int) -> None:
    """One row per file, each indexed; one tag per row, for the one model; no segment twice."""
    with sessions() as session:
        paths = session.scalars(select(File.path)).all()
        statuses = session.execute(select(File.status, func.count()).group_by(File.status))
        by_status = {str(s): int(n) for s, n in statuses}
        tags = session.execute(select(Tag.file_id, Tag.model_version)).all()
        files_tagged = session.scalar(select(func.count(func.distinct(Tag.file_id))))
        segment_key = (Segment.file_id, Segment.model_version, Segment.index, Segment.page)
        twice = session.execute(
            select(*segment_key).group_by(*segment_key).having(func.count() > 1)
        ).all()
    assert len(paths) == files and len(set(paths)) == files
    assert by_status == {Status.INDEXED.value: files}
    assert len({version for _, version in tags}) == 1
    assert len(tags) == files and files_tagged == files
    assert twice == []


class Scan:
    """`landrec archive scan --broker ... --wait` in a subprocess, as an operator runs it."""

    def __init__(self, tmp_path: Path, storage: Path, db: str, broker: str, model: Path) -> None:
        self.out, self.err = tmp_path / "scan.out", tmp_path / "scan.err"
        command = [
            sys.executable, "-m", "landrec.cli.main", "archive", "scan", "--storage",
            str(storage), "--db", db, "--broker", broker, "--model", str(model),
            "--visibility-timeout", VISIBILITY_S, "--wait", "--json",
        ]  # fmt: skip
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err)

    def running(self) -> bool:
        return self.process.poll() is None

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def result(self, timeout_s: float = RUN_TIMEOUT_S) -> dict:
        """Its JSON once it ends (every file final); fails with its stderr otherwise."""
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"scan --wait did not end in {timeout_s} s:\n{self.stderr()[-3000:]}")
        assert self.process.returncode == 0, self.stderr()[-3000:]
        return json.loads(self.out.read_text())

    def stop(self) -> None:
        if self.running():
            self.process.kill()
        self.process.wait()


@pytest.fixture
def scans(tmp_path: Path) -> Iterator[Callable[..., Scan]]:
    """Starts `Scan`s; any still running after the test is killed."""
    started: list[Scan] = []

    def start(*args) -> Scan:
        started.append(Scan(tmp_path, *args))
        return started[-1]

    yield start
    for scan in started:
        scan.stop()


@pytest.fixture
def own_redis() -> Iterator[Redis]:
    """A Redis of this test's own (append-only): killed and restarted on its port and data."""
    server = Redis(appendonly=True).start()
    yield server
    server.close()


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of this test's own: killed and restarted on its port and data."""
    server = Postgres().start()
    yield server
    server.close()


@pytest.fixture
def archive() -> Iterator[Callable[[str], sessionmaker[Session]]]:
    """Opens (and migrates, as `landrec archive migrate`) a database; its engine closed after
    the test."""
    opened: list[sessionmaker[Session]] = []

    def open_(db: str) -> sessionmaker[Session]:
        opened.append(open_database(db))
        return opened[-1]

    yield open_
    for sessions in opened:
        sessions.kw["bind"].dispose()


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "storage"


def two_workers(start_worker, db: str, broker: str, storage: Path, model: Path) -> list:
    options = (
        "--storage", str(storage), "--model", str(model), "--concurrency", "1",
        "--visibility-timeout", VISIBILITY_S,
    )  # fmt: skip
    workers = [start_worker(db, broker, *options, name=n, wait=False) for n in ("w1", "w2")]
    return [w.wait_ready() for w in workers]


def begin(storage: Path, db: str, broker: str, model: Path, archive, start_worker, scans):
    """A run under way: MANY photos, the archive's sessions, two workers ready and
    `scan --wait` started."""
    photos(storage, MANY)
    sessions = archive(db)
    workers = two_workers(start_worker, db, broker, storage, model)
    return sessions, workers, scans(storage, db, broker, model)


def test_a_worker_killed_mid_run_loses_and_doubles_nothing(
    storage: Path,
    archive,
    fresh_postgres: str,
    broker_url: str,
    colour_model: Path,
    start_worker,
    scans,
) -> None:
    sessions, (doomed, survivor), scan = begin(
        storage, fresh_postgres, broker_url, colour_model, archive, start_worker, scans
    )
    wait_for(  # sampled often: a worker's tasks are short, and it waits between them
        lambda: indexed(sessions) >= KILL_AFTER and busy(sessions, "w1"),
        f"{KILL_AFTER} files indexed and w1 in a task",
        poll_s=0.01,
    )
    doomed.kill()
    at_kill = indexed(sessions)
    assert at_kill < MANY, f"the run ended before the kill: {doomed.text()[-2000:]}"
    mid_task = busy(sessions, "w1")  # almost always: it was a moment ago
    survivor_before = worker_indexed(sessions, "w2")
    result = scan.result(timeout_s=REDELIVERY_S)
    assert result["seen"] == MANY and result["indexed"] == MANY
    assert_exactly_once(sessions, MANY)
    # Everything left at the kill was the survivor's.
    assert worker_indexed(sessions, "w2") - survivor_before >= MANY - at_kill
    # The killed worker's own message comes back from the broker (the same task, not merely
    # its rows sent again by the scan), even where the worker had recorded its files before
    # dying; the survivor runs it, changing nothing.
    lost = unfinished(doomed.text())
    assert lost or not mid_task, doomed.text()[-2000:]
    wait_for(
        lambda: lost <= succeeded(survivor.text()), f"{lost} given back", timeout_s=REDELIVERY_S
    )
    assert_exactly_once(sessions, MANY)


def received(log: str) -> set[str]:
    """The ids of the tasks a worker's log says it received."""
    return set(re.findall(r"Task \S+\[([0-9a-f-]+)\] received", log))


def succeeded(log: str) -> set[str]:
    return set(re.findall(r"Task \S+\[([0-9a-f-]+)\] succeeded", log))


def unfinished(log: str) -> set[str]:
    """The tasks a worker received and never finished (it was killed during them)."""
    return received(log) - succeeded(log)


def test_redis_killed_and_restarted_mid_run_loses_and_doubles_nothing(
    storage: Path,
    archive,
    fresh_postgres: str,
    own_redis: Redis,
    colour_model: Path,
    start_worker,
    scans,
) -> None:
    broker = own_redis.url
    sessions, workers, scan = begin(
        storage, fresh_postgres, broker, colour_model, archive, start_worker, scans
    )
    wait_for(lambda: indexed(sessions) >= KILL_AFTER, f"{KILL_AFTER} files indexed")
    own_redis.stop(signal.SIGKILL)
    assert indexed(sessions) < MANY, "the run ended before the kill: give it more files"
    # New files arrive while the broker is down (the watcher registers them): the scan's loop
    # tries to send them, fails, and must keep them for when the broker is back.
    late = 24
    photos(storage, late, first=MANY)
    register_storage(sessions, storage)
    wait_for(lambda: "trying again" in scan.stderr() or not scan.running(), "a send refused")
    assert scan.running(), f"scan --wait died with the broker:\n{scan.stderr()[-3000:]}"
    own_redis.start()
    result = scan.result()
    assert result["indexed"] == MANY + late
    assert_exactly_once(sessions, MANY + late)
    assert all(w.process.poll() is None for w in workers)  # reconnected, not exited


def test_postgres_killed_and_restarted_mid_run_workers_reconnect_and_finish(
    storage: Path,
    archive,
    own_postgres: Postgres,
    broker_url: str,
    colour_model: Path,
    start_worker,
    scans,
) -> None:
    db = own_postgres.create_database("archive")
    sessions, workers, scan = begin(
        storage, db, broker_url, colour_model, archive, start_worker, scans
    )
    wait_for(lambda: indexed(sessions) >= KILL_AFTER, f"{KILL_AFTER} files indexed")
    own_postgres.stop(signal.SIGKILL)  # a crash: recovered from the write-ahead log
    wait_for(
        lambda: any("Retry in" in w.text() for w in workers), "a task retried for the database"
    )
    wait_for(lambda: "trying again" in scan.stderr() or not scan.running(), "the scan's outage")
    assert scan.running(), f"scan --wait died with the database:\n{scan.stderr()[-3000:]}"
    own_postgres.start()
    result = scan.result()
    assert result["indexed"] == MANY
    assert_exactly_once(sessions, MANY)
    assert all(w.process.poll() is None for w in workers)


def at_once(job: Callable[[], object]) -> list[object]:
    """`job` run by two threads released together (the watcher and a rescan); their results."""
    start, results = threading.Barrier(2), []

    def run() -> None:
        start.wait()
        results.append(job())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 2, "a thread failed (its traceback is above)"
    return results


def test_the_same_files_sent_twice_at_once_make_one_row_and_one_tag_each(
    storage: Path, archive, fresh_postgres: str, broker_url: str, colour_model: Path, start_worker
) -> None:
    files = 64
    storage.mkdir()
    sessions = archive(fresh_postgres)
    two_workers(start_worker, fresh_postgres, broker_url, storage, colour_model)
    app = configure(broker_url, float(VISIBILITY_S))

    def settled(count: int) -> Callable[[], bool]:
        def check() -> bool:
            with sessions() as session:
                busy = session.scalar(select(func.count()).where(Worker.doing.is_not(None)))
            done = indexed(sessions) == count
            return done and not busy and not any(queue_depths(app).values())

        return check

    # The same new files registered twice at once, and their ids sent twice at once: the two
    # idle workers take one message each and index the same files side by side.
    photos(storage, files)
    at_once(lambda: register_storage(sessions, storage))
    with sessions() as session:
        ids = list(session.scalars(select(File.id).order_by(File.id)))
    assert len(ids) == files
    at_once(lambda: app.send_task(INDEX_TASK, args=[ids], queue=INDEX_QUEUE))
    wait_for(settled(files), "the files indexed, the queues empty and the workers idle")
    assert_exactly_once(sessions, files)
    # More files, sent by two dispatchers at once (the server's loop and a scan): each row
    # claimed by one of them only.
    photos(storage, files, first=files)
    register_storage(sessions, storage)
    dispatcher = Dispatcher(sessions, app, batch_size=32)
    assert sum(at_once(dispatcher.index)) == files  # type: ignore[arg-type]
    wait_for(settled(2 * files), "the new files indexed, the queues empty and the workers idle")
    assert_exactly_once(sessions, 2 * files)


def test_messages_the_broker_lost_are_sent_again(
    storage: Path,
    archive,
    fresh_postgres: str,
    redis_server: Redis,
    broker_url: str,
    colour_model: Path,
    start_worker,
    scans,
) -> None:
    files = 64
    photos(storage, files)
    sessions = archive(fresh_postgres)
    register_storage(sessions, storage)
    app = configure(broker_url, float(VISIBILITY_S))
    assert Dispatcher(sessions, app).index() == files
    flush(redis_server)  # a broker that lost its data (no persistence, a new machine)
    start_worker(
        fresh_postgres, broker_url, "--storage", str(storage), "--model", str(colour_model)
    )
    # Every row is marked sent: only the resend of rows whose message looks lost finishes this.
    result = scans(storage, fresh_postgres, broker_url, colour_model).result()
    assert result["indexed"] == files
    assert_exactly_once(sessions, files)
