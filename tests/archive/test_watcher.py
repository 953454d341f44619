"""The watcher's registration of what it saw, run without its threads: a symbolic link that
leaves the storage is never followed (no row, nothing read through it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import write_image
from landrec.archive.db.models import File
from landrec.archive.db.session import open_database
from landrec.archive.domain import StoragePath
from landrec.archive.indexer import Indexer
from landrec.archive.service import index_now
from landrec.archive.settings import make_settings
from landrec.archive.watcher import IndexLoop


@pytest.fixture
def indexer(tmp_path: Path) -> Iterator[Indexer]:
    """An indexer without a model over `tmp_path/storage`; `tmp_path/outside` beside it."""
    (tmp_path / "storage").mkdir()
    write_image(tmp_path / "outside" / "secret.jpg", (10, 200, 10), seed=7)
    settings = make_settings(tmp_path / "storage", stable_s=0.0)
    indexer = Indexer(settings, open_database(settings.db_url))
    yield indexer
    indexer.close()


def paths(indexer: Indexer) -> list[str]:
    with indexer.sessions() as session:
        return sorted(session.scalars(select(File.path)))


def test_the_watcher_never_follows_a_link_out_of_the_storage(
    indexer: Indexer, tmp_path: Path
) -> None:
    root = indexer.settings.storage
    (root / "evil.jpg").symlink_to(tmp_path / "outside" / "secret.jpg")
    (root / "out").symlink_to(tmp_path / "outside", target_is_directory=True)
    write_image(root / "real.jpg", (200, 10, 10), seed=1)
    (root / "alias.jpg").symlink_to(root / "real.jpg")  # a link inside the storage is a file
    loop = IndexLoop(indexer)  # not started: its registration is called directly
    for name in ("evil.jpg", "out", "real.jpg", "alias.jpg"):
        loop.notify(root / name)
    loop._register_dirty()
    assert paths(indexer) == ["alias.jpg", "real.jpg"]


def test_an_upload_index_never_follows_a_link_out_of_the_storage(
    indexer: Indexer, tmp_path: Path
) -> None:
    root = indexer.settings.storage
    (root / "evil.jpg").symlink_to(tmp_path / "outside" / "secret.jpg")
    index_now(indexer, [StoragePath("evil.jpg")])
    assert paths(indexer) == []
