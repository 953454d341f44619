"""Alembic migrations: run from code, create exactly the models' schema, idempotent, safe to
run from two processes at once; on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from landrec.archive.db.migrate import MIGRATIONS, current_revision, make_config, upgrade
from landrec.archive.db.models import Audit, Base, File, Segment, Tag, Track, TrackPoint, User
from landrec.archive.db.session import make_engine

HEAD = "0007"  # the newest migration


def schema(engine: Engine) -> dict[str, Any]:
    """Tables -> columns, indexes, unique constraints and foreign keys, as the database says."""
    inspector = inspect(engine)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted(i["name"] or "" for i in inspector.get_indexes(table)),
            sorted(u["name"] or "" for u in inspector.get_unique_constraints(table)),
            sorted(f["name"] or "" for f in inspector.get_foreign_keys(table)),
        )
        for table in inspector.get_table_names()
    }


def test_the_package_holds_one_line_of_migrations_0001_to_0007() -> None:
    scripts = ScriptDirectory.from_config(make_config())
    assert (MIGRATIONS / "env.py").exists()
    assert scripts.get_heads() == [HEAD]
    revisions = [s.revision for s in scripts.walk_revisions()]
    assert revisions == [HEAD, "0006", "0005", "0004", "0003", "0002", "0001"]


def test_upgrade_creates_exactly_the_models_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == HEAD
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_the_comparison_sees_a_difference(db_url: str) -> None:
    """The check above can fail: a table the models lack is reported."""
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE stray (id INTEGER PRIMARY KEY)")
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d[0] for d in diff] == ["remove_table"]
    engine.dispose()


def test_upgrade_twice_is_a_no_op_and_keeps_rows(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    before = schema(engine)
    with Session(engine) as session:
        now = datetime(2024, 1, 1, tzinfo=timezone.utc)
        session.add(File(path="a.jpg", size=1, mtime=0.0, first_seen=now))
        session.commit()
    upgrade(db_url)  # by URL this time
    assert schema(engine) == before
    assert current_revision(engine) == HEAD
    with Session(engine) as session:
        assert session.scalars(select(File.path)).all() == ["a.jpg"]
    engine.dispose()


def test_downgrade_to_base_drops_everything_and_upgrade_restores_it(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    command.downgrade(make_config(db_url), "base")  # env.py's own connection, from the URL
    assert inspect(engine).get_table_names() == ["alembic_version"]
    upgrade(engine)
    assert {"files", "tags", "segments", "corrections", "archive_info", "users", "audit"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


def test_two_processes_upgrading_at_once_both_succeed(db_url: str) -> None:
    start_at = time.time() + 2.0  # after both have imported: their upgrades overlap
    script = (
        "import sys, time; from landrec.archive.db.migrate import upgrade; "
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); upgrade(sys.argv[1])"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, db_url, str(start_at)], text=True,
                         stderr=subprocess.PIPE)
        for _ in range(2)
    ]  # fmt: skip
    outcomes = [(p.wait(timeout=60), p.communicate()[1]) for p in processes]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    engine = make_engine(db_url)
    assert current_revision(engine) == HEAD
    engine.dispose()


def test_threads_of_one_process_may_upgrade_at_once(db_url: str, tmp_path: Path) -> None:
    """Alembic's module-level proxies are shared: upgrade() serializes its callers."""
    urls = [db_url, f"sqlite:///{tmp_path / 'other.db'}"]
    errors: list[BaseException] = []

    def migrate(url: str) -> None:
        try:
            upgrade(url)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=migrate, args=(url,), daemon=True) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "an upgrade hangs"
    assert errors == []


def test_0002_adds_an_empty_mime_to_the_rows_of_0001(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    columns = "path, size, mtime, kind, status, attempts, first_seen, corrected"
    values = "'a.jpg', 1, 0, 'image', 'indexed', 0, :t, :c"
    with engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO files ({columns}) VALUES ({values})"),
            {"t": datetime(2024, 1, 1, tzinfo=timezone.utc), "c": False},
        )
    upgrade(engine)
    with Session(engine) as session:
        row = session.scalars(select(File)).one()
    assert (row.path, row.status, row.mime) == ("a.jpg", "indexed", None)
    engine.dispose()


def test_0003_adds_empty_auth_tables_and_keeps_the_rows_of_0002(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0002")
    with engine.begin() as connection:  # the columns of 0002 (the models have more since)
        connection.execute(
            text("INSERT INTO files (path, size, mtime, kind, status, attempts, first_seen, "
                 "corrected) VALUES ('a.jpg', 1, 0, 'other', 'pending', 0, :t, :c)"),
            {"t": datetime.now(timezone.utc), "c": False},
        )  # fmt: skip
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"users", "tokens", "sessions", "audit"} <= tables
    with Session(engine) as session:
        assert session.scalars(select(File.path)).all() == ["a.jpg"]
        assert session.scalars(select(User)).all() == []
        session.add(Audit(at=datetime.now(timezone.utc), actor="cli", action="retag"))
        session.commit()
        assert session.scalars(select(Audit.actor)).all() == ["cli"]
    engine.dispose()


def add_a_video_with_a_segment(engine: Engine) -> None:
    """An indexed video row with one coast segment, in the columns every revision has."""
    with engine.begin() as connection:
        columns = "path, size, mtime, kind, status, attempts, first_seen, corrected"
        connection.execute(
            text(f"INSERT INTO files ({columns}) VALUES ('a.mp4', 1, 0, 'video', 'indexed', 0, "
                 ":t, :c)"),
            {"t": datetime(2024, 1, 1, tzinfo=timezone.utc), "c": False},
        )  # fmt: skip
        connection.execute(
            text('INSERT INTO segments (file_id, "index", start_s, context) '
                 "SELECT id, 0, 0.0, 'coast' FROM files"),
        )  # fmt: skip


def test_0004_adds_campaigns_segment_positions_and_track_tables_to_the_rows_of_0003(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0003")
    add_a_video_with_a_segment(engine)
    upgrade(engine)
    with Session(engine) as session:
        row = session.scalars(select(File)).one()
        assert (row.path, row.campaign, row.campaign_corrected) == ("a.mp4", None, False)
        segment = session.scalars(select(Segment)).one()
        assert (segment.context, segment.sensor_latitude, segment.frame_center_longitude) == (
            "coast", None, None,
        )  # fmt: skip
        assert session.scalars(select(Track)).all() == []
        session.add(
            Track(
                file_id=row.id,
                standards=["GPX"],
                packets=2,
                bad_packets=0,
                samples=2,
                geojson={"type": "FeatureCollection", "features": []},
            )
        )
        session.add(TrackPoint(file_id=row.id, t=0.0, latitude=1.0, longitude=2.0))
        row.campaign = "sea"
        session.commit()
        assert session.scalars(select(TrackPoint.footprint)).all() == [False]
    engine.dispose()


def test_0007_adds_empty_views_to_the_files_tags_and_segments_of_0006(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0006")
    add_a_video_with_a_segment(engine)
    with engine.begin() as connection:  # its tag and context, in the columns of 0006
        connection.execute(
            text("INSERT INTO tags (file_id, model_version, label, created_at) "
                 "SELECT id, 'm1', 'coast', :t FROM files"),
            {"t": datetime(2024, 1, 1, tzinfo=timezone.utc)},
        )  # fmt: skip
        connection.execute(text("UPDATE files SET context = 'coast'"))
    upgrade(engine)
    assert current_revision(engine) == HEAD
    with Session(engine) as session:
        row = session.scalars(select(File)).one()
        tag = session.scalars(select(Tag)).one()
        segment = session.scalars(select(Segment)).one()
        assert (row.context, row.view, row.view_confidence) == ("coast", None, None)
        assert (tag.label, tag.view, tag.view_confidence) == ("coast", None, None)
        assert (segment.context, segment.view, segment.view_confidence) == ("coast", None, None)
        row.view, row.view_confidence = "overhead", 0.9  # the new columns take values
        session.commit()
        assert session.scalars(select(File.view).where(File.view == "overhead")).all() == [
            "overhead"
        ]
    assert "ix_files_view_id" in {i["name"] for i in inspect(engine).get_indexes("files")}
    engine.dispose()
