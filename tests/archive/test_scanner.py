"""A pass over the storage: racing an upload, a file registered while the folder is listed is
never marked missing; temp files of uploads killed mid-way are removed."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import write_image
from landrec.archive import scanner
from landrec.archive.db import writes
from landrec.archive.db.models import File
from landrec.archive.db.session import open_database
from landrec.archive.domain import UPLOAD_TEMP_PREFIX, Seen, StoragePath
from landrec.archive.indexer import Indexer
from landrec.archive.service import serve
from landrec.archive.settings import make_settings


def test_a_file_uploaded_while_the_storage_is_listed_is_not_marked_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "storage"
    write_image(root / "a.jpg", (200, 40, 40), seed=1)
    write_image(root / "gone.jpg", (40, 40, 200), seed=2)
    sessions = open_database(f"sqlite:///{tmp_path / 'archive.db'}")
    scanner.register_storage(sessions, root)
    (root / "gone.jpg").unlink()
    listed = scanner.walk

    def listing_then_an_upload(folder: Path, *rest: list[StoragePath]) -> Iterator[Seen]:
        yield from listed(folder, *rest)  # the listing is done; an upload lands, is registered
        st = write_image(root / "up.jpg", (40, 200, 40), seed=3).stat()
        with sessions() as session:
            writes.register(session, [Seen(StoragePath("up.jpg"), st.st_size, st.st_mtime)])

    monkeypatch.setattr(scanner, "walk", listing_then_an_upload)
    assert scanner.register_storage(sessions, root) == (1, 1)  # a.jpg seen, gone.jpg missing
    with sessions() as session:
        status = {path: st for path, st in session.execute(select(File.path, File.status))}
    assert status == {"a.jpg": "pending", "gone.jpg": "missing", "up.jpg": "pending"}


def stale_uploads(root: Path) -> dict[str, Path]:
    """Temp files of uploads killed mid-way (an hour old), one being written now, and files
    that are not ours."""
    made = {
        "old": root / f"{UPLOAD_TEMP_PREFIX}0123456789abcdef",
        "old_deep": root / "trips" / f"{UPLOAD_TEMP_PREFIX}fedcba9876543210",
        "fresh": root / f"{UPLOAD_TEMP_PREFIX}00112233aabbccdd",
        "other": root / ".upload-notes.txt",
        "visible": root / "upload-0123456789abcdef",
    }
    for path in made.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    hour_ago = time.time() - 3600
    for key in ("old", "old_deep", "other", "visible"):
        os.utime(made[key], (hour_ago, hour_ago))
    return made


def test_a_scan_removes_stale_upload_temp_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "storage"
    made = stale_uploads(root)
    settings = make_settings(root, stable_s=0.0)
    indexer = Indexer(settings, open_database(settings.db_url))
    with caplog.at_level(logging.INFO, logger="landrec.archive.scanner"):
        try:
            scanner.scan(indexer, settle_s=0.0)
        finally:
            indexer.close()
    left = {key for key, path in made.items() if path.exists()}
    assert left == {"fresh", "other", "visible"}
    assert "removed 2 stale upload temp files" in caplog.text


def test_serve_removes_stale_upload_temp_files_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    root = tmp_path / "storage"
    made = stale_uploads(root)
    settings = make_settings(root, stable_s=0.0)
    indexer = Indexer(settings, open_database(settings.db_url))
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)  # serves nothing
    serve(settings, indexer.sessions, indexer)
    assert {key for key, path in made.items() if path.exists()} == {"fresh", "other", "visible"}


def test_a_pass_registers_the_storage_in_bounded_transactions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "storage"
    for i in range(7):
        write_image(root / f"{i}.jpg", (200, 40, 40), seed=i)
    sessions = open_database(f"sqlite:///{tmp_path / 'archive.db'}")
    scanner.register_storage(sessions, root)
    (root / "0.jpg").unlink()
    sizes: list[int] = []
    register = writes.register

    def counted(session, seen):  # type: ignore[no-untyped-def]
        seen = list(seen)
        sizes.append(len(seen))
        return register(session, seen)

    monkeypatch.setattr(scanner, "REGISTER_CHUNK", 3)
    monkeypatch.setattr(writes, "register", counted)
    assert scanner.register_storage(sessions, root) == (6, 1)  # seen, marked missing
    assert sizes == [3, 3]  # never the whole listing at once: a pass's memory stays flat
    with sessions() as session:
        statuses = {r.path: r.status for r in session.scalars(select(File))}
    assert statuses.pop("0.jpg") == "missing" and len(statuses) == 6
