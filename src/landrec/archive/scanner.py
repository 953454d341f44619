"""A pass over the storage: every file gets a row (new or changed ones pending), rows whose
file is gone become `missing`, then the pending rows are indexed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db import reads, writes
from landrec.archive.db.models import Status
from landrec.archive.domain import Seen, StoragePath
from landrec.archive.indexer import Indexer

SETTLE_ROUNDS = 5  # passes a one-off scan waits for files still being written


def is_hidden(name: str) -> bool:
    """Dot-files and dot-folders are skipped: uploads in progress, editors' temp files."""
    return name.startswith(".")


def walk(root: Path) -> Iterator[Seen]:
    """Every regular file under `root` (not hidden; symbolic links followed only when they
    stay inside `root`), as seen now."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # unreadable folder: its files keep their rows until it is readable
        for entry in entries:
            if is_hidden(entry.name):
                continue
            path = Path(entry.path)
            if entry.is_symlink() and not _inside(path, root):
                continue
            try:
                if entry.is_dir():
                    stack.append(path)
                elif entry.is_file():
                    st = entry.stat()
                    yield Seen(StoragePath.of(root, path), st.st_size, st.st_mtime)
            except OSError:
                continue


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def register_storage(sessions: sessionmaker[Session], root: Path) -> tuple[int, int]:
    """Rows for every file now in `root`; returns (files seen, rows marked missing)."""
    seen = list(walk(root))
    with sessions() as session:
        writes.register(session, seen)
        missing = writes.mark_missing(session, {s.path for s in seen})
    return len(seen), missing


def status_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return reads.status_counts(session)


def scan(
    indexer: Indexer,
    progress: Callable[[int, int], None] | None = None,
    settle_s: float | None = None,
) -> dict[str, int]:
    """One pass: register, mark missing, index what is pending; files still being written
    are waited for (a few rounds of `stable_s`). Returns the row counts by status."""
    settings = indexer.settings
    seen, _ = register_storage(indexer.sessions, settings.storage)
    wait = settings.stable_s if settle_s is None else settle_s
    total = status_counts(indexer.sessions).get(Status.PENDING.value, 0)
    report = None if progress is None else (lambda n: progress(n, total))
    for _ in range(SETTLE_ROUNDS):
        indexer.process_pending(report)
        if not status_counts(indexer.sessions).get(Status.PENDING.value, 0):
            break
        time.sleep(wait)  # some files are still being written
    return {"seen": seen, **status_counts(indexer.sessions)}
