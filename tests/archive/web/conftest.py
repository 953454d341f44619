"""Fixtures of the API's tests: a storage folder, a SQLite archive made from the tables, rows
inserted through the ORM, and a TestClient over the app."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db.models import Base, File
from landrec.archive.db.session import make_engine, make_sessionmaker
from landrec.archive.settings import LOCAL_HOSTS, ArchiveSettings, make_settings
from landrec.archive.web import create_app

MAX_UPLOAD = 64 * 1024  # small, so that the 413 tests send little
TEST_HOST = "testserver"  # the Host header of Starlette's TestClient

AddFile = Callable[..., File]


def jpeg_bytes(
    colour: tuple[int, int, int] = (30, 90, 220), size: tuple[int, int] = (32, 24)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def jpeg() -> Callable[..., bytes]:
    """`jpeg(colour=(r, g, b), size=(w, h))`: the bytes of a small JPEG image."""
    return jpeg_bytes


@pytest.fixture
def settings(tmp_path: Path) -> ArchiveSettings:
    (tmp_path / "storage").mkdir()
    return make_settings(
        tmp_path / "storage",
        state_dir=tmp_path / "state",
        max_upload_bytes=MAX_UPLOAD,
        allowed_hosts=(*LOCAL_HOSTS, TEST_HOST),
    )


@pytest.fixture
def sessions(settings: ArchiveSettings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.db_url)
    Base.metadata.create_all(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def add_file(sessions: sessionmaker[Session]) -> AddFile:
    """Insert a `files` row (defaults: an indexed JPEG image), return it."""

    def add(path: str, **fields: Any) -> File:
        row = File(
            path=path,
            size=fields.pop("size", 100),
            mtime=0.0,
            first_seen=datetime(2024, 1, 1, tzinfo=timezone.utc),
            kind=fields.pop("kind", "image"),
            status=fields.pop("status", "indexed"),
            format=fields.pop("format", "JPEG image"),
            **fields,
        )
        with sessions() as session:
            session.add(row)
            session.commit()
        return row

    return add


@pytest.fixture
def client(settings: ArchiveSettings, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, sessions)) as test_client:
        yield test_client
