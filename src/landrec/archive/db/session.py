"""Engines and sessions for the archive's database: SQLite (embedded, WAL) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db.migrate import upgrade

BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another's lock before "database is locked"


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite connections get WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # One engine serves the API's threads and the indexer's pool: connections cross threads.
    engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Set the per-connection SQLite pragmas (WAL itself persists in the file)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE for tags, segments
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose rows stay readable after commit (the API serializes them afterwards)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def open_database(url: str) -> sessionmaker[Session]:
    """Connect to `url`, migrate its schema to the newest revision, return a sessionmaker."""
    engine = make_engine(url)
    upgrade(engine)
    return make_sessionmaker(engine)
