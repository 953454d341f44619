"""Engines and sessions: SQLite's pragmas, threads, sessions usable after commit, migration."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from landrec.archive.db.migrate import current_revision, make_config
from landrec.archive.db.models import File, Info, Segment
from landrec.archive.db.session import make_engine, make_sessionmaker, open_database

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_sqlite_connections_use_wal_and_the_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'a.db'}")
    with engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 1  # NORMAL
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 30_000
    assert (tmp_path / "nested" / "dir" / "a.db").exists()  # the folder was made
    engine.dispose()


def test_sqlite_connection_may_be_used_from_another_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    connection = engine.raw_connection()  # opened here, used by a worker thread below
    results: list[object] = []

    def worker() -> None:
        try:
            results.append(connection.cursor().execute("SELECT 41 + 1").fetchone()[0])
        except Exception as error:  # the assertion below reports it
            results.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    connection.close()
    engine.dispose()
    assert results == [42]


def test_open_database_migrates_and_rows_stay_readable_after_commit(db_url: str) -> None:
    sessions = open_database(db_url)
    engine = sessions.kw["bind"]
    head = ScriptDirectory.from_config(make_config()).get_current_head()
    assert head is not None and current_revision(engine) == head
    assert {"files", "tags", "segments", "corrections", "archive_info"} <= set(
        inspect(engine).get_table_names()
    )
    with sessions() as session:
        info = Info(key="storage", value="/srv/photos")
        session.add(info)
        session.commit()
    assert info.value == "/srv/photos"  # not expired by the commit: no DetachedInstanceError
    again = open_database(db_url)  # a second open finds the schema current
    with again() as session:
        assert session.scalar(select(Info.value).where(Info.key == "storage")) == "/srv/photos"
    again.kw["bind"].dispose()
    engine.dispose()


def test_deleting_a_file_cascades_to_its_segments(db_url: str) -> None:
    sessions = open_database(db_url)
    with sessions() as session:
        file = File(path="v.mp4", size=1, mtime=0.0, first_seen=NOW)
        file.segments = [Segment(index=0, context="coast"), Segment(index=1, context="forest")]
        session.add(file)
        session.commit()
        # Through SQL, not the ORM's cascade: the database's foreign keys must do it.
        session.execute(text("DELETE FROM files"))
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM segments")) == 0
    sessions.kw["bind"].dispose()


def test_make_sessionmaker_binds_the_engine(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        assert session.get_bind() is engine
        assert session.scalar(text("SELECT 1")) == 1
    engine.dispose()


def test_postgresql_sessions_run_in_utc(fresh_postgres: str) -> None:
    """The archive stores UTC: PostgreSQL's own view of a time (a month, a day) is UTC too,
    whatever the server's default zone."""
    setup = make_engine(fresh_postgres).execution_options(isolation_level="AUTOCOMMIT")
    with setup.connect() as connection:  # a database whose default zone is 14 hours ahead
        name = connection.execute(text("SELECT current_database()")).scalar()
        connection.execute(text(f"ALTER DATABASE \"{name}\" SET timezone = 'Pacific/Kiritimati'"))
    setup.dispose()
    engine = make_engine(fresh_postgres)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW timezone")).scalar() == "UTC"
            moment = text("SELECT extract(month FROM TIMESTAMPTZ '2024-12-31 23:30+00')")
            assert connection.execute(moment).scalar() == 12
    finally:
        engine.dispose()
