"""The tasks a worker runs: index a batch of rows (one model call for the batch's images), make
one preview, retag a batch with a given model. Each is idempotent, keyed by the rows and their
content hash: a message delivered twice, or after another worker did the work, changes nothing.
A database or broker that drops out (a restart) fails the task, which is retried with
exponential back-off; the rows stay pending meanwhile, so nothing is lost even when the retries
run out (the dispatcher sends them again)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

from celery.signals import celeryd_after_setup, worker_process_init
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from landrec.api import Predictor
from landrec.archive.db import reads, writes
from landrec.archive.db.models import Status
from landrec.archive.db.session import make_engine, make_sessionmaker
from landrec.archive.indexer import Indexer, model_version, open_predictor
from landrec.archive.queue.app import INDEX_TASK, PREVIEW_TASK, RETAG_TASK, app
from landrec.archive.renditions.worker import build_pending
from landrec.archive.settings import ArchiveSettings

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0  # how often each worker process writes that it is alive
# The database or the broker gone for a while (a restart, the network); an error of the
# statement itself is a bug: not retried.
RETRIED = (OperationalError, InterfaceError, ConnectionError)
RETRY = {
    "autoretry_for": RETRIED,
    "retry_backoff": 2,  # 2, 4, 8 ... seconds, jittered
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 30,  # about half an hour of outage; after that the dispatcher resends
}


@dataclass
class Setup:
    """What `landrec archive worker` was given; every process of the worker builds its own
    engine and model from it (after the fork: connections never cross processes)."""

    settings: ArchiveSettings  # its `workers`: the decoding threads of each process
    model_threads: int | None = None  # ONNX Runtime's per process (None: one per core)


_setup: Setup | None = None


def install(setup: Setup) -> None:
    """Set up this worker before its processes start."""
    global _setup
    _setup = setup


@dataclass
class State:
    """One worker process's database sessions, indexer and models."""

    setup: Setup
    sessions: sessionmaker[Session]
    indexer: Indexer
    models: dict[str, tuple[Predictor, str]] = field(default_factory=dict)

    def model(self, path: str) -> tuple[Predictor, str]:
        """The predictor and version of a retag's model, loaded once per process."""
        if path not in self.models:
            predictor = open_predictor(self.setup.settings, path, self.setup.model_threads)
            self.models[path] = (predictor, model_version(path))
        return self.models[path]


@cache
def state() -> State:
    if _setup is None:
        raise RuntimeError("landrec archive worker: tasks.install() was not called")
    settings = _setup.settings
    sessions = make_sessionmaker(make_engine(settings.db_url))
    predictor = None
    if settings.model is not None:
        predictor = open_predictor(settings, model_threads=_setup.model_threads)
    return State(_setup, sessions, Indexer(settings, sessions, predictor))


_node: str | None = None  # the worker's name (`landrec@host`), known before the pool forks


@celeryd_after_setup.connect
def _named(sender: object, **_: object) -> None:
    global _node
    _node = str(sender)


@worker_process_init.connect
def _start_heartbeat(**_: object) -> None:
    """Each pool process says it is alive every `HEARTBEAT_S`, busy or idle, from the start."""
    threading.Thread(target=_beat, name="landrec-heartbeat", daemon=True).start()


def _beat() -> None:
    if _setup is None:
        return
    sessions = make_sessionmaker(make_engine(_setup.settings.db_url))  # its own connection
    try:  # the rows of this worker's earlier processes (a restart) that stopped beating
        with sessions() as session:
            stale = writes.utcnow() - timedelta(seconds=3 * HEARTBEAT_S)
            writes.forget_workers(session, f"{_node or 'worker'}/", stale)
    except Exception:
        log.warning("old heartbeats not pruned", exc_info=True)
    while True:
        try:
            with sessions() as session:
                writes.worker_alive(session, worker_name(), os.getpid())
        except Exception:  # the database restarting: the next beat tries again
            log.warning("heartbeat not written", exc_info=True)
        time.sleep(HEARTBEAT_S)


def worker_name(task=None) -> str:
    """`landrec@host/pid`: the worker and its process."""
    node = _node or (task.request.hostname if task is not None else None) or "worker"
    return f"{node}/{os.getpid()}"


@contextmanager
def heartbeat(task, doing: str, done: dict[str, int]) -> Iterator[None]:
    """The worker's row says what it does, then adds `done` (filled by the task) once it
    ends."""
    me, sessions = worker_name(task), state().sessions
    with sessions() as session:
        writes.worker_seen(session, me, os.getpid(), doing)
    try:
        yield
    finally:  # a task that raised (to be retried) is not "doing" any more either
        with sessions() as session:
            writes.worker_seen(session, me, os.getpid(), None, **done)


@app.task(name=INDEX_TASK, bind=True, **RETRY)
def index(self, ids: list[int]) -> int:
    """Index these rows (those still pending); returns how many got a final status."""
    here = state()
    with here.sessions() as session:
        todo = reads.pending_among(session, ids)
    done = {"indexed": 0, "failed": 0}
    with heartbeat(self, f"indexing {len(todo)} files", done):
        if todo:
            here.indexer.process(todo)
        with here.sessions() as session:
            after = reads.statuses(session, todo)
            still = [i for i, status in after.items() if status == Status.PENDING.value]
            writes.unqueue(session, still)  # deferred or to try again: the next dispatch
        done["indexed"] = len(after) - len(still)
        done["failed"] = sum(status == Status.FAILED.value for status in after.values())
    return done["indexed"]


@app.task(name=PREVIEW_TASK, bind=True, **RETRY)
def preview(self) -> dict[str, int]:
    """Make the next pending preview, if any (claimed atomically: two workers never make the
    same one); {outcome: 1} or {}."""
    here = state()
    done = {"previews": 0}
    with heartbeat(self, "making a preview", done):
        made = build_pending(here.setup.settings, here.sessions, limit=1, queue=False)
        done["previews"] = sum(made.values())
    return made


@app.task(name=RETAG_TASK, bind=True, **RETRY)
def retag(self, ids: list[int], model: str) -> dict[str, int]:
    """Re-classify these indexed rows with `model` (a path this worker can read)."""
    from landrec.archive.commands import retag_rows

    here = state()
    predictor, version = here.model(model)
    with here.sessions() as session:
        rows = reads.indexed_files(session, ids)
    done = {"retagged": 0}
    with heartbeat(self, f"retagging {len(rows)} files", done):
        counts = retag_rows(here.sessions, here.setup.settings.storage, predictor, version, rows)
        done["retagged"] = counts["retagged"]
    return counts
