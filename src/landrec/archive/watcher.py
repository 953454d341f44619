"""The service's indexing loop: filesystem events (watchdog) and a periodic full rescan feed
the database's pending rows; the loop indexes them (embedded mode) or sends them to the
workers (distributed mode: a `Dispatcher`). The database is the queue: a row is pending until
it has a final status, so a crash or restart loses nothing."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from landrec.archive.db import reads, writes
from landrec.archive.domain import Seen, StoragePath
from landrec.archive.indexer import Indexer
from landrec.archive.renditions.worker import build_pending
from landrec.archive.scanner import is_hidden, register_storage
from landrec.archive.settings import ArchiveError

if TYPE_CHECKING:  # celery is imported only by the distributed mode
    from landrec.archive.queue.dispatch import Dispatcher

log = logging.getLogger(__name__)
PREVIEWS_POLL_S = 2.0  # distributed mode: how often more preview messages are sent


class IndexLoop:
    """A thread that indexes what the watcher reports (or, given a `dispatcher`, sends it to
    the workers), and rescans every `rescan_s`."""

    def __init__(self, indexer: Indexer, dispatcher: Dispatcher | None = None) -> None:
        self.indexer, self.dispatcher = indexer, dispatcher
        self.root = indexer.settings.storage
        self.dirty: set[StoragePath] = set()
        self.root_changed = False  # the root's own event: rescanned like any folder's
        self.lock = threading.Lock()
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="landrec-index", daemon=True)
        # Previews (video proxies, display-size stills) in a thread of their own, only while no
        # file waits to be indexed: tagging always goes first, and a long transcode never
        # holds it up.
        self.previews_wake = threading.Event()
        self.previews = threading.Thread(
            target=self._run_previews, name="landrec-previews", daemon=True
        )
        self.observer = Observer()
        self.observer.schedule(_Handler(self), str(self.root), recursive=True)

    def start(self) -> None:
        self.observer.start()
        self.thread.start()
        self.previews.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.previews_wake.set()
        self.observer.stop()
        self.observer.join(timeout=5)
        self.thread.join(timeout=60)
        self.previews.join(timeout=60)

    def notify(self, path: Path) -> None:
        """Note a file (or folder) the watcher saw change; outside the root or hidden: none."""
        if path == self.root:
            with self.lock:
                self.root_changed = True
            self.wake.set()
            return
        try:
            where = StoragePath.of(self.root, path)
        except ValueError:  # outside the root
            return
        if any(is_hidden(part) for part in where.posix.split("/")):
            return
        with self.lock:
            self.dirty.add(where)
        self.wake.set()

    def _run(self) -> None:
        last_scan = 0.0
        while not self.stopping.is_set():
            try:
                if time.monotonic() - last_scan >= self.indexer.settings.rescan_s:
                    register_storage(self.indexer.sessions, self.root)
                    last_scan = time.monotonic()
                self._register_dirty()
                if self.dispatcher is None:
                    self.indexer.process_pending()
                else:
                    self.dispatcher.index()
                self.previews_wake.set()
            except ArchiveError as exc:  # the storage unreadable: no row touched; next rescan
                last_scan = time.monotonic()
                log.warning("%s; its rows are kept until the next rescan", exc)
            except Exception:  # the loop must outlive a bad pass (database busy, disk error)
                log.exception("indexing pass failed; retrying")
            self.wake.wait(self._timeout(last_scan))
            self.wake.clear()

    def _run_previews(self) -> None:
        """Make one rendition at a time while nothing waits to be indexed; sleep otherwise."""
        settings, sessions = self.indexer.settings, self.indexer.sessions
        while not self.stopping.is_set():
            made: dict[str, int] = {}
            try:
                if self.dispatcher is not None:  # the workers make them: sent, then looked at
                    busy = self._indexing_waits()  # again soon while some wait (or may soon)
                    waiting = 0 if busy else self.dispatcher.previews()
                    soon = waiting or busy
                    self.previews_wake.wait(PREVIEWS_POLL_S if soon else settings.rescan_s)
                    self.previews_wake.clear()
                    continue
                if not self._indexing_waits():
                    made = build_pending(
                        settings, sessions, limit=1, should_stop=self.stopping.is_set
                    )
            except Exception:  # the loop must outlive a bad pass (database busy, disk error)
                log.exception("previews pass failed; retrying")
            if not made:  # nothing to do (or indexing first): until the next indexing pass
                self.previews_wake.wait(settings.rescan_s)
                self.previews_wake.clear()

    def _indexing_waits(self) -> bool:
        with self.lock:
            dirty = bool(self.dirty) or self.root_changed
        return dirty or self.pending() > 0

    def _timeout(self, last_scan: float) -> float:
        """Until the next pass: soon while rows are pending (in the distributed mode too: a
        worker hands back a row still being written, to be sent again), else the rescan."""
        until_scan = self.indexer.settings.rescan_s - (time.monotonic() - last_scan)
        if self.pending():
            return max(0.05, min(self.indexer.settings.stable_s, until_scan))
        return max(0.05, until_scan)

    def pending(self) -> int:
        with self.indexer.sessions() as session:
            return reads.pending_count(session)

    def _register_dirty(self) -> None:
        with self.lock:
            paths, self.dirty = self.dirty, set()
            rescan, self.root_changed = self.root_changed, False
        if rescan:
            register_storage(self.indexer.sessions, self.root)
        seen, gone = [], []
        for where in paths:
            path = where.resolve_in(self.root)
            try:
                if path is None:  # a link out of the storage: no file of it
                    raise FileNotFoundError(where.posix)
                st = path.stat()
            except FileNotFoundError:
                gone.append(where)
                continue
            if path.is_file():
                seen.append(Seen(where, st.st_size, st.st_mtime))
            elif path.is_dir():  # a folder moved in: its files come with the next rescan
                register_storage(self.indexer.sessions, self.root)
        with self.indexer.sessions() as session:
            writes.register(session, seen)
            for where in gone:
                writes.mark_path_missing(session, where)


class _Handler(FileSystemEventHandler):
    def __init__(self, loop: IndexLoop) -> None:
        self.loop = loop

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                self.loop.notify(Path(str(raw)))
