"""Indexing: pending rows -> metadata, thumbnail and context, recorded in batches.

`Indexer.process(ids)` is the one task: a function of the rows' paths and content hashes, so
running it twice, or again after a crash, writes the same rows (the embedded service calls it
from its loop; distributed workers will call it with ids from a broker). Files of a batch are
hashed, read and thumbnailed in a thread pool; their images are classified together (one
model call per batch, decoding ahead of the model), videos frame by frame.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from landrec.api import Predictor, detect
from landrec.archive.db import writes
from landrec.archive.db.models import File, Kind, Status
from landrec.archive.extract.hashing import sha256_file
from landrec.archive.extract.images import image_metadata
from landrec.archive.extract.metadata import ExtractError
from landrec.archive.extract.thumbs import make_thumbnail
from landrec.archive.extract.videos import video_metadata
from landrec.archive.settings import ArchiveSettings
from landrec.archive.tagging import image_tags, video_tag

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One pending row, read for processing."""

    id: int
    path: Path  # absolute
    size: int
    mtime: float
    sha256: str | None
    model_version: str | None
    error: str | None


@dataclass
class Prepared:
    """A file after the work that needs no model: what it is, its hash, metadata, thumbnail."""

    job: Job
    outcome: writes.Outcome | None = None  # final already (unsupported, failed, unchanged)
    unchanged: bool = False
    transient: str | None = None  # an unexpected error: retried up to max_attempts


def model_version(model: str | Path) -> str:
    """`<name>@<sha256[:12]>` of the model file (a run folder's best checkpoint)."""
    path = Path(model)
    if path.is_dir():
        path = path / "best.safetensors"
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return (
        f"{path.parent.name if path.name == 'best.safetensors' else path.name}@"
        + (digest.hexdigest()[:12])
    )


class Indexer:
    """Processes pending rows of the archive with one loaded model."""

    def __init__(
        self,
        settings: ArchiveSettings,
        sessions: sessionmaker[Session],
        predictor: Predictor | None = None,
    ) -> None:
        self.settings, self.sessions, self.predictor = settings, sessions, predictor
        self.version = model_version(settings.model) if settings.model and predictor else None
        self.pool = ThreadPoolExecutor(max(2, settings.workers or 2))
        self.seconds: defaultdict[str, float] = defaultdict(float)  # per step, summed (threads)
        self._lock = threading.Lock()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[name] += time.perf_counter() - started

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def pending_ids(self, after: int = 0, limit: int = 256) -> list[int]:
        with self.sessions() as session:
            query = (
                select(File.id)
                .where(File.status == Status.PENDING, File.id > after)
                .order_by(File.id)
                .limit(limit)
            )
            return list(session.scalars(query))

    def process_pending(self, progress: Callable[[int], None] | None = None) -> int:
        """Process every pending row once (rows deferred as still growing stay pending). The
        next batch is read and thumbnailed by the pool while the model classifies this one."""
        done, after, size = 0, 0, self.settings.batch_size
        while ids := self.pending_ids(after, size * 4):
            chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
            ahead = self._submit(chunks[0], False)
            for k, chunk in enumerate(chunks):
                prepared = [f.result() for f in ahead]
                if k + 1 < len(chunks):
                    ahead = self._submit(chunks[k + 1], False)
                done += self._finish(prepared)
                if progress is not None:
                    progress(len(chunk))
            after = ids[-1]
        return done

    def process(self, ids: list[int], settled: bool = False) -> int:
        """Index these rows (idempotent); returns how many got a final status. `settled`:
        the files are known to be complete (an upload), no waiting for `stable_s`."""
        return self._finish([f.result() for f in self._submit(ids, settled)])

    def _submit(self, ids: list[int], settled: bool) -> list[Future[Prepared | None]]:
        return [self.pool.submit(self._prepare, job, settled) for job in self._jobs(ids)]

    def _finish(self, prepared: list[Prepared | None]) -> int:
        """Classify what is ready and record the batch."""
        ready = [p for p in prepared if p is not None]
        with self.step("classify"):
            try:
                results = self._classify(ready)
            except Exception as exc:  # the model failed on the batch: retried, then failed
                log.exception("classifying a batch of %d files", len(ready))
                for p in ready:
                    if p.outcome is not None and p.outcome.status is Status.INDEXED:
                        p.outcome, p.transient = None, f"{type(exc).__name__}: {exc}"
                results = [(p.job.id, p.outcome) for p in ready if p.outcome is not None]
        with self.step("commit"), self.sessions() as session:
            for p in ready:
                if p.unchanged:
                    writes.touch_unchanged(session, p.job.id, p.job.size, p.job.mtime)
                elif p.transient is not None:
                    writes.record_failure(
                        session, p.job.id, p.transient, self.settings.max_attempts
                    )
            writes.record(session, results)
        return len(ready)

    def _jobs(self, ids: list[int]) -> list[Job]:
        root = self.settings.storage
        with self.sessions() as session:
            rows = session.scalars(select(File).where(File.id.in_(ids)).order_by(File.id))
            return [
                Job(r.id, root / r.path, r.size, r.mtime, r.sha256, r.model_version, r.error)
                for r in rows
            ]

    def _prepare(self, job: Job, settled: bool) -> Prepared | None:
        """None: not ready (vanished, or still being written); else what it is."""
        try:
            return self._read(job, settled)
        except Exception as exc:  # one bad file never stops a batch: retried, then failed
            log.exception("indexing %s", job.path)
            return Prepared(job, transient=f"{type(exc).__name__}: {exc}")

    def _read(self, job: Job, settled: bool) -> Prepared | None:
        try:
            stat = job.path.stat()
        except FileNotFoundError:
            with self.sessions() as session:
                writes.mark_path_missing(session, self._relative(job.path))
            return None
        if not settled and self._growing(job, stat.st_size, stat.st_mtime):
            return None
        with self.step("detect"):
            what = detect(job.path)
        if what.kind.value not in (Kind.IMAGE.value, Kind.VIDEO.value):
            if what.kind.value == "unsupported":  # `what` names the format found
                outcome = writes.Outcome(Status.UNSUPPORTED, Kind.OTHER, what.what)
            else:  # unreadable: `what` says why
                outcome = writes.Outcome(Status.FAILED, Kind.OTHER, None)
            outcome.error = what.error
            return Prepared(job, outcome)
        kind = Kind(what.kind.value)
        with self.step("hash"):
            sha = sha256_file(job.path)
        if sha == job.sha256 and job.model_version == self.version and job.error is None:
            return Prepared(job, unchanged=True)
        outcome = writes.Outcome(Status.INDEXED, kind, what.what, sha256=sha)
        try:
            with self.step("metadata"):
                read = image_metadata if kind is Kind.IMAGE else video_metadata
                meta = read(job.path)
            with self.step("thumbnail"):
                thumbs = self.settings.thumbs_dir
                outcome.thumbnail = make_thumbnail(job.path, kind.value, sha, thumbs)
        except ExtractError as exc:
            outcome.status, outcome.error = Status.FAILED, str(exc)
            return Prepared(job, outcome)
        outcome.fields, outcome.extra = dict(meta.fields), meta.extra
        return Prepared(job, outcome)

    def _growing(self, job: Job, size: int, mtime: float) -> bool:
        """A file whose size or mtime moved since it was seen, or changed within `stable_s`,
        may still be written: its new stat is noted and it waits for the next pass."""
        if (
            size == job.size
            and mtime == job.mtime
            and time.time() - mtime >= self.settings.stable_s
        ):
            return False
        with self.sessions() as session:
            rel = self._relative(job.path)
            writes.register(session, [writes.Seen(rel, size, mtime)])
        return True

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.settings.storage).as_posix()

    def _classify(self, ready: list[Prepared]) -> list[tuple[int, writes.Outcome]]:
        """The model's tags for the batch's images (one call) and videos; final outcomes."""
        images: list[tuple[Path, writes.Outcome]] = []
        videos: list[tuple[Path, writes.Outcome]] = []
        for p in ready:
            if p.outcome is not None and p.outcome.status is Status.INDEXED:
                group = images if p.outcome.kind is Kind.IMAGE else videos
                group.append((p.job.path, p.outcome))
        if self.predictor is not None and self.version is not None:
            image_tags(self.predictor, self.version, images)
            for path, outcome in videos:
                video_tag(self.predictor, self.version, path, outcome)
        return [(p.job.id, p.outcome) for p in ready if p.outcome is not None]
