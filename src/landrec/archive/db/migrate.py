"""Alembic migrations, run from code: no alembic.ini, the scripts live inside the package.

To write the next migration after changing `models.py` (from the repository root)::

    python -c "from alembic import command; from landrec.archive.db.migrate import make_config;
    command.revision(make_config('sqlite:///dev.db'), autogenerate=True, message='what')"

after `upgrade('sqlite:///dev.db')`; then read and tidy the generated file in `versions/`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "head"
# Any fixed 64-bit key: serializes concurrent upgrades of one PostgreSQL database.
PG_LOCK_KEY = 0x6C616E6472656301
# Alembic's `op` and `context` are process-wide proxies: one migration at a time per process.
ALEMBIC_LOCK = threading.Lock()


def make_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the package's migrations (and at `url`, when given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine_or_url: Engine | str, revision: str = HEAD) -> None:
    """Migrate the database to `revision` (the newest by default); a no-op when already there."""
    if isinstance(engine_or_url, str):
        # SQLite: wait for another process's migration as long as the service would (30 s).
        sqlite = make_url(engine_or_url).get_backend_name() == "sqlite"
        connect_args = {"timeout": 30.0} if sqlite else {}
        engine = create_engine(engine_or_url, poolclass=NullPool, connect_args=connect_args)
        try:
            _upgrade(engine, revision)
        finally:
            engine.dispose()
    else:
        _upgrade(engine_or_url, revision)


def _upgrade(engine: Engine, revision: str) -> None:
    """One transaction, exclusive across processes, runs every pending migration."""
    config = make_config()
    with ALEMBIC_LOCK, engine.connect() as connection:
        _lock(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def _lock(connection: Connection) -> None:
    """Take the database's write lock now, so two processes never migrate at once."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # pysqlite begins lazily; an explicit BEGIN IMMEDIATE makes the DDL one atomic
        # transaction that a second process waits for (busy timeout) instead of racing.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def head_revision() -> str | None:
    """The newest revision of the package's migrations: what `upgrade` brings a database to."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(make_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
