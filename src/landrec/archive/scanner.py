"""A pass over the storage: every file gets a row (new or changed ones pending), rows whose
file is gone become `missing`, then the pending rows are indexed."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db import reads, writes
from landrec.archive.db.models import Status
from landrec.archive.domain import UPLOAD_TEMP_PREFIX, Seen, StoragePath, inside_storage
from landrec.archive.indexer import Indexer
from landrec.archive.settings import ArchiveError

log = logging.getLogger(__name__)
SETTLE_ROUNDS = 5  # passes a one-off scan waits for files still being written
REGISTER_CHUNK = 1000  # files registered per transaction: a pass's memory stays flat
STALE_UPLOAD_S = 300  # an upload's temp file untouched this long: its upload was killed
UPLOAD_TEMP = re.compile(re.escape(UPLOAD_TEMP_PREFIX) + r"[0-9a-f]{16}")  # ours, nothing else


def is_hidden(name: str) -> bool:
    """Dot-files and dot-folders are skipped: uploads in progress, editors' temp files."""
    return name.startswith(".")


def walk(root: Path, unreadable: list[StoragePath] | None = None) -> Iterator[Seen]:
    """Every regular file under `root` (not hidden; symbolic links followed only when they
    stay inside `root`), as seen now. A folder that cannot be listed is logged and added to
    `unreadable`; the root itself: an `ArchiveError` (gone, not a folder, not readable)."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if folder == root:
                raise ArchiveError(f"{root}: cannot read the storage folder ({reason})") from None
            log.warning(
                "%s: cannot read this folder (%s); its files keep their rows", folder, reason
            )
            if unreadable is not None:
                unreadable.append(StoragePath.of(root, folder))
            continue
        for entry in entries:
            if is_hidden(entry.name):
                continue
            path = Path(entry.path)
            if entry.is_symlink() and not inside_storage(root, path):
                continue
            try:
                if entry.is_dir():
                    stack.append(path)
                elif entry.is_file():
                    st = entry.stat()
                    yield Seen(StoragePath.of(root, path), st.st_size, st.st_mtime)
            except OSError:
                continue


def remove_stale_uploads(root: Path, older_than_s: float = STALE_UPLOAD_S) -> int:
    """Delete the temp files of uploads killed mid-way (`kill -9`: no `finally` ran), named
    as the upload route names them and not written to for `older_than_s` (one still being
    received is written to all along); returns how many, and says so in the log."""
    removed, now = 0, time.time()
    for folder, folders, names in os.walk(root):  # links not followed: nothing outside
        folders[:] = [f for f in folders if not is_hidden(f)]
        for name in names:
            path = Path(folder, name)
            try:
                if UPLOAD_TEMP.fullmatch(name) and now - path.lstat().st_mtime >= older_than_s:
                    path.unlink()
                    removed += 1
            except OSError:  # gone meanwhile, or not ours to remove
                continue
    if removed:
        log.info("removed %d stale upload temp files (uploads killed mid-way)", removed)
    return removed


def register_storage(sessions: sessionmaker[Session], root: Path) -> tuple[int, int]:
    """Rows for every file now in `root`, `REGISTER_CHUNK` files a transaction as the walk
    finds them (a pass keeps only their paths, not their rows); returns (files seen, rows
    marked missing)."""
    unreadable: list[StoragePath] = []
    found = walk(root, unreadable)  # an unreadable root raises before anything is written
    present: set[StoragePath] = set()
    while chunk := list(islice(found, REGISTER_CHUNK)):
        with sessions() as session:
            writes.register(session, chunk)
        present.update(s.path for s in chunk)
    folders = tuple(f"{folder.posix}/" for folder in unreadable)

    def gone(path: StoragePath) -> bool:  # a file in a folder not listed is not known gone
        return not path.posix.startswith(folders) and not path.is_file_in(root)

    with sessions() as session:
        missing = writes.mark_missing(session, present, gone)
    return len(present), missing


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
    remove_stale_uploads(settings.storage)
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
