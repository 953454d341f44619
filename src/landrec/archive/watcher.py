"""The service's indexing loop: filesystem events (watchdog) and a periodic full rescan feed
the database's pending rows; the loop indexes them. The database is the queue: a row is
pending until it has a final status, so a crash or restart loses nothing."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from landrec.archive.db import writes
from landrec.archive.db.models import File, Status
from landrec.archive.indexer import Indexer
from landrec.archive.scanner import is_hidden, register_storage

log = logging.getLogger(__name__)


class IndexLoop:
    """A thread that indexes what the watcher reports, and rescans every `rescan_s`."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer
        self.root = indexer.settings.storage
        self.dirty: set[Path] = set()
        self.lock = threading.Lock()
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="landrec-index", daemon=True)
        self.observer = Observer()
        self.observer.schedule(_Handler(self), str(self.root), recursive=True)

    def start(self) -> None:
        self.observer.start()
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.observer.stop()
        self.observer.join(timeout=5)
        self.thread.join(timeout=60)

    def notify(self, path: Path) -> None:
        rel = path.relative_to(self.root) if path.is_relative_to(self.root) else None
        if rel is None or any(is_hidden(part) for part in rel.parts):
            return
        with self.lock:
            self.dirty.add(path)
        self.wake.set()

    def _run(self) -> None:
        last_scan = 0.0
        while not self.stopping.is_set():
            try:
                if time.monotonic() - last_scan >= self.indexer.settings.rescan_s:
                    register_storage(self.indexer.sessions, self.root)
                    last_scan = time.monotonic()
                self._register_dirty()
                self.indexer.process_pending()
            except Exception:  # the loop must outlive a bad pass (database busy, disk error)
                log.exception("indexing pass failed; retrying")
            self.wake.wait(self._timeout(last_scan))
            self.wake.clear()

    def _timeout(self, last_scan: float) -> float:
        until_scan = self.indexer.settings.rescan_s - (time.monotonic() - last_scan)
        if self.pending():
            return max(0.05, min(self.indexer.settings.stable_s, until_scan))
        return max(0.05, until_scan)

    def pending(self) -> int:
        with self.indexer.sessions() as session:
            query = select(func.count()).select_from(File).where(File.status == Status.PENDING)
            return int(session.scalar(query) or 0)

    def _register_dirty(self) -> None:
        with self.lock:
            paths, self.dirty = self.dirty, set()
        seen, gone = [], []
        for path in paths:
            try:
                st = path.stat()
            except FileNotFoundError:
                gone.append(path.relative_to(self.root).as_posix())
                continue
            if path.is_file():
                seen.append(
                    writes.Seen(path.relative_to(self.root).as_posix(), st.st_size, st.st_mtime)
                )
            elif path.is_dir():  # a folder moved in: its files come with the next rescan
                register_storage(self.indexer.sessions, self.root)
        with self.indexer.sessions() as session:
            writes.register(session, seen)
            for rel in gone:
                writes.mark_path_missing(session, rel)


class _Handler(FileSystemEventHandler):
    def __init__(self, loop: IndexLoop) -> None:
        self.loop = loop

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                self.loop.notify(Path(str(raw)))
