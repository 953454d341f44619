"""Writes that race: another writer registering the same path between our read and insert."""

from __future__ import annotations

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db import writes
from landrec.archive.db.models import Audit, Correction, File, Kind, Status
from landrec.archive.domain import Outcome, Seen, StoragePath


def test_register_survives_another_writer_registering_the_same_path(
    sessions: sessionmaker[Session],
) -> None:
    raced: list[int] = []

    def other_writer(*_: object) -> None:  # before our first insert: the watcher wins the race
        if not raced:
            with sessions() as other:
                raced.append(writes.register(other, [Seen(StoragePath("a.jpg"), 10, 1.0)]))

    with sessions() as session:
        event.listen(session, "before_flush", other_writer)
        changed = writes.register(
            session, [Seen(StoragePath("a.jpg"), 10, 1.0), Seen(StoragePath("b.jpg"), 20, 2.0)]
        )
    assert raced == [1] and changed == 1  # a.jpg is the other writer's row; b.jpg is ours
    with sessions() as session:
        assert sorted(session.scalars(select(File.path))) == ["a.jpg", "b.jpg"]


def add_rows(sessions: sessionmaker[Session], *rows: tuple[str, Status, str | None]) -> list[int]:
    """Rows (path, status, sha256); their ids."""
    with sessions() as session:
        files = [
            File(path=p, size=1, mtime=1.0, first_seen=writes.utcnow(), status=st, sha256=sha)
            for p, st, sha in rows
        ]
        session.add_all(files)
        session.commit()
        return [f.id for f in files]


def indexed(sha: str) -> Outcome:
    return Outcome(Status.INDEXED, Kind.IMAGE, "JPEG image", sha, mime="image/jpeg")


def all_rows(sessions: sessionmaker[Session]) -> list[tuple[int, str, str]]:
    with sessions() as session:
        return [(f.id, f.path, f.status) for f in session.scalars(select(File).order_by(File.id))]


SHA = "ab" * 32


def test_a_missing_row_whose_file_is_on_disk_is_not_adopted(
    sessions: sessionmaker[Session],
) -> None:
    # a.jpg was marked missing by mistake (its file is there): b.jpg, the same bytes, keeps
    # its own row and a.jpg keeps its id, tags and corrections.
    old, new = add_rows(sessions, ("a.jpg", Status.MISSING, SHA), ("b.jpg", Status.PENDING, None))
    with sessions() as session:
        writes.record(session, [(new, indexed(SHA))], gone=lambda path: path.posix != "a.jpg")
    assert all_rows(sessions) == [(old, "a.jpg", "missing"), (new, "b.jpg", "indexed")]


def test_a_missing_row_whose_file_is_gone_is_adopted(sessions: sessionmaker[Session]) -> None:
    old, new = add_rows(sessions, ("a.jpg", Status.MISSING, SHA), ("b.jpg", Status.PENDING, None))
    with sessions() as session:
        writes.record(session, [(new, indexed(SHA))], gone=lambda path: True)
    assert all_rows(sessions) == [(old, "b.jpg", "indexed")]


def test_record_survives_another_writer_adopting_its_row_meanwhile(
    sessions: sessionmaker[Session],
) -> None:
    # The loop and an upload index b.jpg together: the other writer moves a.jpg's missing row
    # onto b.jpg (deleting b.jpg's new row) between our read of the rows and our write.
    old, new = add_rows(sessions, ("a.jpg", Status.MISSING, SHA), ("b.jpg", Status.PENDING, None))
    queries: list[object] = []

    def other_writer(*_: object) -> None:
        queries.append(None)
        if len(queries) == 2:  # our rows are read; the missing ones not yet
            with sessions() as other:
                writes.record(other, [(new, indexed(SHA))], gone=lambda path: True)

    with sessions() as session:
        event.listen(session, "do_orm_execute", other_writer)
        writes.record(session, [(new, indexed(SHA))], gone=lambda path: True)
    assert all_rows(sessions) == [(old, "b.jpg", "indexed")]


def test_bulk_correct_clear_and_reindex_on_each_backend(sessions: sessionmaker[Session]) -> None:
    ids = add_rows(
        sessions,
        ("a.jpg", Status.INDEXED, "a" * 64),
        ("b.jpg", Status.INDEXED, "b" * 64),
        ("c.jpg", Status.FAILED, None),
    )
    with sessions() as session:
        files = session.scalars(select(File).order_by(File.id)).all()
        for file, label in zip(files[:2], ["forest", "coast"], strict=True):
            file.model_context = file.context = label
        session.commit()
        # a.jpg's own label clears (nothing to change), b.jpg becomes forest; c.jpg has no label
        assert writes.bulk(session, writes.BulkAction.CORRECT, ids, "ann", "forest") == (3, 2)
        session.expire_all()  # bulk statements bypass the session's objects
        rows = {f.path: (f.context, f.corrected) for f in session.scalars(select(File))}
        assert rows == {
            "a.jpg": ("forest", False),
            "b.jpg": ("forest", True),
            "c.jpg": ("forest", True),
        }
        assert session.scalar(select(func.count()).select_from(Correction)) == 2
        assert writes.bulk(session, writes.BulkAction.CLEAR, ids, "ann", None) == (3, 2)
        session.expire_all()  # bulk statements bypass the session's objects
        rows = {f.path: (f.context, f.corrected) for f in session.scalars(select(File))}
        assert rows == {
            "a.jpg": ("forest", False),
            "b.jpg": ("coast", False),
            "c.jpg": (None, False),
        }
        assert writes.bulk(session, writes.BulkAction.REINDEX, [*ids, 999], "ann", None) == (3, 3)
        session.expire_all()
        states = {(f.status, f.sha256, f.attempts) for f in session.scalars(select(File))}
        assert states == {(Status.PENDING.value, None, 0)}
        audit = session.scalars(select(Audit.target).order_by(Audit.id)).all()
        assert audit == ["correct to forest", "clear", "reindex"]
