"""Engines and sessions for the archive's database: SQLite (embedded, WAL) or PostgreSQL."""

from __future__ import annotations

import sqlite3
from typing import Any

from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from landrec.archive.db.migrate import current_revision, head_revision, upgrade
from landrec.archive.settings import ArchiveError, parse_db_url, sqlite_file

BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another's lock before "database is locked"
CONNECT_TIMEOUT_S = 5  # a PostgreSQL server that does not answer: an error, not a hang
ARCHIVE_TABLES = {"files", "archive_info"}  # with a migration revision: an archive's database


def shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite connections get WAL, foreign keys and a busy timeout.
    An `ArchiveError` for a URL that is not one, a missing driver or an unusable SQLite path."""
    parsed = parse_db_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args: dict[str, object] = {}
        if parsed.get_backend_name() == "postgresql":
            if "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
            if "options" not in parsed.query:  # the archive's times are UTC: so is SQL's view
                connect_args["options"] = "-c timezone=UTC"
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    path = sqlite_file(parsed)
    if path is not None:
        if path.is_dir():
            raise ArchiveError(f"{path}: a folder, not a SQLite database file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArchiveError(f"{path}: cannot make its folder ({exc.strerror})") from None
    # One engine serves the API's threads and the indexer's pool: connections cross threads.
    engine = create_engine(parsed, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def cannot_open(url: URL, exc: Exception) -> ArchiveError:
    """The one-line error for a database that refused a connection or its schema."""
    orig = getattr(exc, "orig", None) or exc
    reason = " ".join(str(orig).split())  # one line: libpq's hints come on further lines
    where = sqlite_file(url) or shown(url)
    if "readonly" in reason or "read-only" in reason:
        return ArchiveError(f"{where}: the database is read-only ({reason})")
    if url.get_backend_name() == "sqlite":
        return ArchiveError(f"{where}: cannot open the database: {reason}")
    return ArchiveError(f"{where}: cannot connect to the database: {reason}")


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
    try:
        upgrade(engine)
    except (DBAPIError, CommandError) as exc:
        engine.dispose()
        raise cannot_open(engine.url, exc) from exc
    return make_sessionmaker(engine)


def migrate(url: str) -> dict[str, str | None]:
    """`landrec archive migrate`: the database at `url` brought to the newest revision;
    {"from": the revision before, "to": the revision now}."""
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        return {"from": before, "to": current_revision(engine)}
    except (DBAPIError, CommandError) as exc:
        raise cannot_open(engine.url, exc) from exc
    finally:
        engine.dispose()


def open_archive(url: str, migrate: bool = True) -> sessionmaker[Session]:
    """An existing archive's database (migrated, as `open_database`); an `ArchiveError`, and
    nothing created or written, when `url` holds no archive. `migrate=False` (a command that
    only reads, run beside an upgrade): an `ArchiveError` when its schema is not this
    version's, and nothing written."""
    parsed = parse_db_url(url)
    path = sqlite_file(parsed)
    if path is not None and not path.is_file():
        raise ArchiveError(f"{path}: not an archive database (no such file)")
    if not _holds_archive(parsed):
        where = path or shown(parsed)
        raise ArchiveError(f"{where}: not an archive database (no archive tables in it)")
    if migrate:
        return open_database(url)
    engine = make_engine(url)
    try:
        found, wanted = current_revision(engine), head_revision()
    except DBAPIError as exc:
        engine.dispose()
        raise cannot_open(engine.url, exc) from exc
    if found != wanted:
        engine.dispose()
        raise ArchiveError(
            f"{path or shown(parsed)}: its schema is at revision {found}, this landrec's is"
            f" {wanted}: run `landrec archive migrate --db URL` (with the workers stopped)"
        )
    return make_sessionmaker(engine)


def _holds_archive(url: URL) -> bool:
    """Whether the database holds the archive's tables and a migration revision, looked at
    read-only (a SQLite file is opened with `mode=ro`: not one byte changes)."""
    path = sqlite_file(url)
    if path is None:
        engine = make_engine(url.render_as_string(hide_password=False))
    else:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        engine = create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool
        )
    try:
        tables = set(inspect(engine).get_table_names())
        return tables >= ARCHIVE_TABLES and current_revision(engine) is not None
    except DBAPIError as exc:
        if path is not None and "not a database" in str(exc.orig):
            return False
        raise cannot_open(url, exc) from exc
    finally:
        engine.dispose()
