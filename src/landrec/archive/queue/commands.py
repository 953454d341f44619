"""The commands of the distributed mode: `scan --broker`, `retag --broker`, `status`,
`worker`; what they print is what a script reads (`--json`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db import queries, reads, writes
from landrec.archive.db.models import Status
from landrec.archive.db.session import open_archive
from landrec.archive.queue.app import configure, visibility_timeout
from landrec.archive.queue.dispatch import Dispatcher, queue_depths
from landrec.archive.scanner import register_storage, remove_stale_uploads
from landrec.archive.settings import ArchiveError, ArchiveSettings, parse_db_url

log = logging.getLogger(__name__)

WAIT_POLL_S = 1.0  # `scan --wait`: how often the rows are counted (and lost ones resent)


def check_shared_database(db_url: str) -> None:
    """The distributed mode's database must be one every machine reaches: not SQLite."""
    if parse_db_url(db_url).get_backend_name() == "sqlite":
        raise ArchiveError(
            f"{db_url}: the workers need a database server they all reach; give --db"
            " postgresql+psycopg://USER@HOST/NAME (SQLite is the embedded mode's)"
        )


def dispatcher(sessions: sessionmaker[Session], broker_url: str, batch_size: int) -> Dispatcher:
    check_broker(broker_url)
    return Dispatcher(sessions, _app(broker_url), batch_size)


def _app(broker_url: str) -> Celery:
    """The app for `broker_url`, keeping the visibility timeout the command was given."""
    return configure(broker_url, visibility_timeout())


def check_broker(broker_url: str) -> None:
    """An `ArchiveError` naming the broker when it cannot be reached now, or when it is
    reached over TLS (`rediss://`) without saying how its certificate is checked (redis-py
    would then accept any certificate)."""
    if broker_url.startswith("rediss://") and "ssl_cert_reqs=" not in broker_url:
        raise ArchiveError(
            f"{_shown(broker_url)}: say how the broker's certificate is checked: append"
            " ?ssl_cert_reqs=required&ssl_ca_certs=/path/to/ca.pem (or ssl_cert_reqs=none to"
            " accept any, knowingly)"
        )
    app = _app(broker_url)
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
    except Exception as exc:  # kombu raises the transport's own errors
        raise ArchiveError(f"{_shown(broker_url)}: cannot reach the broker ({exc})") from None


def _shown(url: str) -> str:
    """A broker URL without its password."""
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))


def scan(
    settings: ArchiveSettings,
    sessions: sessionmaker[Session],
    broker_url: str,
    wait: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Register the storage's files and send the pending ones to the workers; with `wait`,
    until every one has a final status (lost messages sent again meanwhile)."""
    send = dispatcher(sessions, broker_url, settings.batch_size)
    remove_stale_uploads(settings.storage)
    seen, _ = register_storage(sessions, settings.storage)
    sent = send.index()
    total = _pending(sessions)
    done_before = 0
    while wait and (left := _waiting(sessions)):
        if progress is not None and left >= 0 and total - left > done_before:
            progress(total - left - done_before, total)
            done_before = total - left
        time.sleep(WAIT_POLL_S)
        sent += _send(send)
    if wait and progress is not None and total > done_before:
        progress(total - done_before, total)
    with sessions() as session:
        counts = reads.status_counts(session)
    return {"seen": seen, "sent": sent, **counts}


def _waiting(sessions: sessionmaker[Session]) -> int:
    """`_pending` in the wait loop: while the database restarts, a guess above zero."""
    try:
        return _pending(sessions)
    except DBAPIError as exc:
        log.warning("scan --wait: the database cannot be reached (%s); trying again", _line(exc))
        return -1


def _send(send: Dispatcher) -> int:
    """`send.index()` in the wait loop: while the broker (or the database) restarts, none
    sent; the rows stay unsent for the next pass."""
    try:
        return send.index()
    except (OperationalError, DBAPIError, OSError) as exc:
        log.warning("scan --wait: cannot send to the broker (%s); trying again", _line(exc))
        return 0


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _pending(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return reads.pending_count(session)


def retag(db_url: str, model: str, broker_url: str, batch_size: int = 32) -> dict[str, Any]:
    """Send the whole archive to the workers for a retag with `model` (a path they read)."""
    sessions = open_archive(db_url)
    sent = dispatcher(sessions, broker_url, batch_size).retag(str(Path(model).resolve()))
    return {"sent": sent, "model": model}


def previews(db_url: str, broker_url: str, retry_failed: bool = False) -> dict[str, Any]:
    """Send the pending previews to the workers (with `retry_failed`, the failed ones too)."""
    sessions = open_archive(db_url)
    if retry_failed:
        with sessions() as session:
            writes.retry_failed_renditions(session)
    waiting = dispatcher(sessions, broker_url, 1).previews(ahead=None)  # nothing sends more
    with sessions() as session:
        return {"waiting": waiting, "queue": reads.rendition_counts(session)}


def status(db_url: str, broker_url: str | None = None) -> dict[str, Any]:
    """The archive's rows by status, what the workers hold, each worker's progress, and the
    broker's queue depths (with `broker_url`: an `ArchiveError` when it cannot be reached).
    Reads only: a database whose schema is not this version's is refused, never migrated."""
    if broker_url is not None:
        check_broker(broker_url)  # else kombu's own error, a traceback, after its retries
    sessions = open_archive(db_url, migrate=False)
    with sessions() as session:
        counts = reads.status_counts(session)
        out = {
            "files": counts,
            "pending": counts.get(Status.PENDING.value, 0),
            "failed": counts.get(Status.FAILED.value, 0),
        }
        out |= queries.progress(session)
    out["queues"] = None if broker_url is None else queue_depths(_app(broker_url))
    return json_ready(out)


def json_ready(value: Any) -> Any:
    """Times as ISO 8601 text, recursively: what `--json` prints."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_ready(item) for item in value]
    return value.isoformat() if isinstance(value, datetime) else value
