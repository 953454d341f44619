"""The previews queue's step: claim a pending rendition (atomically: two workers never take
the same row), decide what the file needs, make it in a temporary file beside its place in the
previews folder, rename it there when complete, record the outcome. The embedded service's
loop, `landrec archive scan` and `landrec archive previews` call `build_pending`; the
distributed mode's workers will call the same function."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db import writes
from landrec.archive.db.models import RenditionKind, RenditionStatus
from landrec.archive.domain import RenditionJob
from landrec.archive.renditions.plan import RenditionError, plan, rendition_name
from landrec.archive.renditions.still import make_still
from landrec.archive.renditions.video import transcode
from landrec.archive.settings import ArchiveSettings

log = logging.getLogger(__name__)

STALE_S = 600.0  # a `running` row not updated for this long: its worker is gone, take it over
PROGRESS_EVERY_S = 1.0  # a running rendition's progress written at most this often
Stop = Callable[[], bool]  # True: give the claimed row back and return


class Cancelled(Exception):
    """The worker was asked to stop while making a rendition."""


def build_pending(
    settings: ArchiveSettings,
    sessions: sessionmaker[Session],
    limit: int | None = None,
    should_stop: Stop | None = None,
    queue: bool = True,
) -> dict[str, int]:
    """Make pending renditions (at most `limit`) until none is left or `should_stop()`;
    {outcome status: count}. `queue`: first add the rows of files that have none (a worker of
    the distributed mode leaves that to the dispatcher)."""
    stop = should_stop or (lambda: False)
    if queue:
        with sessions() as session:
            writes.queue_renditions(session)
    counts: Counter[str] = Counter()
    while (limit is None or sum(counts.values()) < limit) and not stop():
        with sessions() as session:
            stale = writes.utcnow() - timedelta(seconds=STALE_S)
            job = writes.claim_rendition(session, stale)
        if job is None:
            break
        outcome = build_one(settings, sessions, job, stop)
        if outcome is not None:
            counts[outcome.value] += 1
    return dict(counts)


def build_one(
    settings: ArchiveSettings, sessions: sessionmaker[Session], job: RenditionJob, stop: Stop
) -> RenditionStatus | None:
    """Make one claimed rendition and record it; None when stopped (the row given back)."""
    progress = _Reporter(sessions, job.id, stop)
    try:
        name = make(settings, job, progress)
    except Cancelled:
        with sessions() as session:
            writes.release_rendition(session, job.id)
        return None
    except RenditionError as exc:  # the bytes decide: final at once
        return _failed(settings, sessions, job, str(exc), final=True)
    except Exception as exc:  # I/O, a bug: tried again on a later pass, up to max_attempts
        log.exception("rendition of %s failed", job.path.posix)
        return _failed(settings, sessions, job, f"{type(exc).__name__}: {exc}", final=False)
    size = (settings.previews_dir / name).stat().st_size if name else None
    with sessions() as session:
        writes.finish_rendition(session, job.id, name, size)
    return RenditionStatus.READY if name else RenditionStatus.ORIGINAL


def make(settings: ArchiveSettings, job: RenditionJob, progress: Callable[[float], None]):
    """The rendition's name in the previews folder, made if needed; None: the original does."""
    source = job.path.resolve_in(settings.storage)
    if source is None or not source.is_file():
        raise FileNotFoundError(f"{job.path.posix}: not in the storage")
    decided = plan(job, source)
    if not decided.needed:
        return None
    name = rendition_name(job.sha256, decided.kind)
    target = settings.previews_dir / name
    if target.exists():  # the same content under another name: made once
        return name
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = target.suffix
    handle, temp = tempfile.mkstemp(prefix=f".{job.sha256}-", suffix=suffix, dir=target.parent)
    os.close(handle)
    try:
        if decided.kind is RenditionKind.VIDEO:
            transcode(source, Path(temp), progress)
        else:
            make_still(source, Path(temp))
        os.replace(temp, target)  # complete, or not there at all
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return name


def _failed(
    settings: ArchiveSettings,
    sessions: sessionmaker[Session],
    job: RenditionJob,
    error: str,
    final: bool,
) -> RenditionStatus:
    with sessions() as session:
        return writes.fail_rendition(session, job.id, error, settings.max_attempts, final)


class _Reporter:
    """The progress callback: written at most once a second; raises `Cancelled` on stop."""

    def __init__(self, sessions: sessionmaker[Session], rendition_id: int, stop: Stop) -> None:
        self.sessions, self.id, self.stop = sessions, rendition_id, stop
        self.last = time.monotonic()

    def __call__(self, fraction: float) -> None:
        if self.stop():
            raise Cancelled
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            with self.sessions() as session:
                writes.rendition_progress(session, self.id, fraction)
