"""Writes that race: another writer registering the same path between our read and insert."""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db import writes
from landrec.archive.db.models import File
from landrec.archive.domain import Seen, StoragePath


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
