"""`landrec archive serve`: the REST API (uvicorn) and the indexing loop in one process (which
sends the work to Celery workers in the distributed mode)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db import reads, writes
from landrec.archive.domain import Seen, StoragePath
from landrec.archive.indexer import Indexer
from landrec.archive.scanner import remove_stale_uploads
from landrec.archive.settings import ArchiveSettings
from landrec.archive.watcher import IndexLoop

if TYPE_CHECKING:
    from landrec.archive.queue.dispatch import Dispatcher

log = logging.getLogger(__name__)


def index_now(indexer: Indexer, paths: list[StoragePath]) -> None:
    """Register and index these files at once (an upload: complete, no settling wait)."""
    indexer.process(register_now(indexer, paths), settled=True)


def register_now(indexer: Indexer, paths: list[StoragePath]) -> list[int]:
    """Register these files (pending); their row ids."""
    root = indexer.settings.storage
    seen = []
    for path in paths:
        real = path.resolve_in(root)
        if real is not None:  # a link out of the storage is never followed
            st = real.stat()
            seen.append(Seen(path, st.st_size, st.st_mtime))
    with indexer.sessions() as session:
        writes.register(session, seen)
        return reads.ids_of(session, [s.path for s in seen])


def server_options(settings: ArchiveSettings, host: str, port: int) -> dict[str, Any]:
    """uvicorn's options: X-Forwarded-Proto/For trusted only with `proxy_headers`, and only from
    `forwarded_allow_ips` (uvicorn's own default trusts them from 127.0.0.1); no Server header."""
    return {
        "host": host,
        "port": port,
        "log_level": "warning",
        "proxy_headers": settings.proxy_headers,
        "forwarded_allow_ips": list(settings.forwarded_allow_ips),
        "server_header": False,
    }


def serve(
    settings: ArchiveSettings,
    sessions: sessionmaker[Session],
    indexer: Indexer,
    host: str = "127.0.0.1",
    port: int = 8000,
    dispatcher: Dispatcher | None = None,
) -> None:
    """Serve until interrupted; the indexing loop runs beside the API and stops with it. With
    a `dispatcher`, uploads and the loop send their files to the workers."""
    import uvicorn

    from landrec.archive.web.app import create_app

    def upload(paths: list[StoragePath]) -> None:
        if dispatcher is None:
            index_now(indexer, paths)
        else:  # answered 202: a worker indexes it
            register_now(indexer, paths)
            try:
                dispatcher.index()
            except Exception:  # the broker restarting: the loop sends it once it is back
                log.warning("upload registered, not sent yet (broker unreachable)", exc_info=True)

    model = indexer.predictor
    classes, views = (model.classes, model.views) if model is not None else (None, None)
    app = create_app(settings, sessions, upload, classes, views)
    app.state.dispatcher = dispatcher
    remove_stale_uploads(settings.storage)  # before anything is received
    loop = IndexLoop(indexer, dispatcher)
    app.state.wake = loop.wake.set  # a bulk re-index is taken at once, not at the next rescan
    loop.start()
    log.info("archive: watching %s, database %s", settings.storage, settings.db_url)
    try:
        uvicorn.run(app, **server_options(settings, host, port))
    finally:
        loop.stop()
        indexer.close()
