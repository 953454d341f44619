"""The distributed mode's bookkeeping in the database, on each backend: pending rows claimed
for the queue once (again only when their message looks lost), released, the workers'
heartbeats; and two workers recording the same row at once on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db import reads, writes
from landrec.archive.db.models import File, Kind, Status, Tag, Worker
from landrec.archive.db.session import open_database
from landrec.archive.domain import Outcome, TagIn

HOUR = timedelta(hours=1)
BARRIER_TIMEOUT_S = 30.0


def add_rows(sessions: sessionmaker[Session], *statuses: Status) -> list[int]:
    """A row per status (`f0.jpg`, `f1.jpg`, ...); their ids in order."""
    with sessions() as session:
        rows = [
            File(path=f"f{i}.jpg", size=1, mtime=1.0, first_seen=writes.utcnow(), status=s.value)
            for i, s in enumerate(statuses)
        ]
        session.add_all(rows)
        session.commit()
        return [row.id for row in rows]


def claim(sessions: sessionmaker[Session], resend_before_s: float, limit: int = 100) -> list[int]:
    """Claim with messages sent more than `resend_before_s` ago counted as lost."""
    with sessions() as session:
        resend_before = writes.utcnow() - timedelta(seconds=resend_before_s)
        return writes.claim_for_queue(session, resend_before, limit)


def queued(sessions: sessionmaker[Session]) -> dict[int, bool]:
    """{id: whether its row is marked sent}."""
    with sessions() as session:
        return {i: at is not None for i, at in session.execute(select(File.id, File.queued_at))}


def test_pending_rows_are_claimed_once_until_their_message_looks_lost(
    sessions: sessionmaker[Session],
) -> None:
    ids = add_rows(
        sessions, Status.PENDING, Status.INDEXED, Status.PENDING, Status.FAILED,
        Status.PENDING, Status.MISSING, Status.UNSUPPORTED,
    )  # fmt: skip
    pending = [ids[0], ids[2], ids[4]]
    assert claim(sessions, 3600) == pending  # id order; never a row with a final status
    assert queued(sessions) == {i: i in pending for i in ids}
    assert claim(sessions, 3600) == []  # sent a moment ago: not sent again
    with sessions() as session:
        assert reads.queued_count(session) == 3
    assert claim(sessions, -3600) == pending  # "sent before an hour from now": looks lost
    assert claim(sessions, -3600, limit=2) == pending[:2]  # the limit respected
    assert claim(sessions, 3600) == []


def test_the_claim_limit_takes_the_lowest_ids_and_leaves_the_rest(
    sessions: sessionmaker[Session],
) -> None:
    ids = add_rows(sessions, *[Status.PENDING] * 5)
    assert claim(sessions, 3600, limit=2) == ids[:2]
    assert claim(sessions, 3600, limit=2) == ids[2:4]
    assert claim(sessions, 3600, limit=2) == ids[4:]
    assert claim(sessions, 3600, limit=2) == []
    assert all(queued(sessions).values())


def test_unqueue_releases_only_pending_rows(sessions: sessionmaker[Session]) -> None:
    ids = add_rows(sessions, *[Status.PENDING] * 3)
    assert claim(sessions, 3600) == ids
    with sessions() as session:  # a worker indexed the first row, then the rest were released
        session.get_one(File, ids[0]).status = Status.INDEXED.value
        session.commit()
        writes.unqueue(session, ids)
    assert queued(sessions) == {ids[0]: True, ids[1]: False, ids[2]: False}
    with sessions() as session:
        assert reads.queued_count(session) == 0  # a row done is not "queued"
    assert claim(sessions, 3600) == ids[1:]  # the released rows are sent again at once


def test_pending_among_statuses_and_queued_count(sessions: sessionmaker[Session]) -> None:
    ids = add_rows(sessions, Status.PENDING, Status.INDEXED, Status.PENDING, Status.FAILED)
    with sessions() as session:
        assert reads.pending_among(session, [ids[3], ids[2], ids[1], ids[0]]) == [ids[0], ids[2]]
        assert reads.pending_among(session, [ids[1], 10_000]) == []  # unknown ids: nothing
        assert reads.pending_among(session, []) == []
        assert reads.statuses(session, [ids[0], ids[1], ids[3], 10_000]) == {
            ids[0]: "pending", ids[1]: "indexed", ids[3]: "failed",
        }  # fmt: skip
        assert reads.statuses(session, []) == {}
        assert reads.queued_count(session) == 0
    assert claim(sessions, 3600, limit=1) == [ids[0]]
    with sessions() as session:
        assert reads.queued_count(session) == 1


def worker_row(sessions: sessionmaker[Session], name: str) -> Worker:
    with sessions() as session:
        row = session.get_one(Worker, name)
        session.expunge(row)
        return row


def test_worker_heartbeats_add_up_and_a_restart_counts_from_zero(
    sessions: sessionmaker[Session],
) -> None:
    name = "w1@host/100"
    with sessions() as session:
        writes.worker_seen(session, name, 100, "indexing 32 files")
    first = worker_row(sessions, name)
    assert (first.pid, first.doing, first.indexed, first.failed) == (100, "indexing 32 files", 0, 0)
    with sessions() as session:
        writes.worker_seen(session, name, 100, None, indexed=32, failed=2)
        writes.worker_seen(session, name, 100, "making a preview")
        writes.worker_seen(session, name, 100, None, previews=1)
        writes.worker_seen(session, name, 100, None, indexed=8, failed=1)
        writes.worker_seen(session, name, 100, None, retagged=5)
        writes.worker_seen(session, "w2@host/200", 200, "indexing 1 files")
    row = worker_row(sessions, name)
    assert (row.indexed, row.failed, row.previews, row.retagged) == (40, 3, 1, 5)
    assert row.doing is None and row.started_at == first.started_at
    assert row.last_seen >= first.last_seen
    with sessions() as session:  # the same name, another process: its totals start again
        writes.worker_seen(session, name, 101, None, indexed=4)
    again = worker_row(sessions, name)
    assert (again.pid, again.indexed, again.failed, again.previews, again.retagged) == (
        101, 4, 0, 0, 0,
    )  # fmt: skip
    assert again.started_at >= row.last_seen
    with sessions() as session:
        assert [w.name for w in reads.workers(session)] == [name, "w2@host/200"]


def test_a_restarted_worker_forgets_its_earlier_processes_only(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        for name, pid in [("w1@a/1", 1), ("w1@a/2", 2), ("w1@ab/3", 3), ("w2@a/4", 4)]:
            writes.worker_seen(session, name, pid, None)
        writes.worker_alive(session, "w1@a/5", 5)  # the new process: made by its first beat
        later = writes.utcnow() + timedelta(seconds=1)
        writes.worker_alive(session, "w1@a/5", 5)
        session.execute(
            text("UPDATE workers SET last_seen = :t WHERE name = 'w1@a/5'"), {"t": later}
        )
        session.commit()
        assert writes.forget_workers(session, "w1@a/", later) == 2  # 1 and 2, not 5
        names = sorted(w.name for w in reads.workers(session))
    assert names == ["w1@a/5", "w1@ab/3", "w2@a/4"]


def tagged(sha: str, label: str) -> Outcome:
    tag = TagIn("model-1", label, 0.9, [{"label": label, "confidence": 0.9}])
    return Outcome(Status.INDEXED, Kind.IMAGE, "JPEG image", sha, mime="image/jpeg", tag=tag)


def test_two_workers_recording_the_same_row_at_once_leave_one_tag(fresh_postgres: str) -> None:
    # A message delivered twice (a worker thought dead): two workers index the same row. Both
    # read the row (no tag yet) before either writes; the second's tag insert then collides
    # with the first's on the tags' unique (file_id, model_version), and its retry replaces it.
    sessions = open_database(fresh_postgres)
    engine = sessions.kw["bind"]
    collisions: list[str] = []

    @event.listens_for(engine, "handle_error")
    def seen(context: ExceptionContext) -> None:
        if isinstance(context.sqlalchemy_exception, IntegrityError):
            collisions.append(str(context.original_exception))

    try:
        [file_id] = add_rows(sessions, Status.PENDING)
        both_read = threading.Barrier(2, timeout=BARRIER_TIMEOUT_S)
        errors: list[BaseException] = []

        def worker(label: str) -> None:
            waited = []

            def before_flush(*_: object) -> None:  # the rows read, nothing written yet
                if not waited:  # the retry runs alone
                    waited.append(True)
                    both_read.wait()

            try:
                with sessions() as session:
                    event.listen(session, "before_flush", before_flush)
                    writes.record(session, [(file_id, tagged("ab" * 32, label))], lambda _: False)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(label,)) for label in ("red", "blue")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(2 * BARRIER_TIMEOUT_S)
        assert not errors, errors
        assert len(collisions) == 1 and "tags" in collisions[0], collisions  # a real race
        with sessions() as session:
            tags = session.execute(select(Tag.file_id, Tag.model_version, Tag.label)).all()
            row = session.get_one(File, file_id)
            assert session.scalar(select(func.count()).select_from(File)) == 1
        assert len(tags) == 1 and tags[0][:2] == (file_id, "model-1")
        assert (row.status, row.context, row.queued_at) == ("indexed", tags[0][2], None)
    finally:
        engine.dispose()


def test_two_dispatchers_claiming_at_once_never_take_the_same_row(fresh_postgres: str) -> None:
    # The server's loop and `scan --broker` dispatch together: while the first holds its
    # claimed rows (not committed yet), the second skips them and takes the others.
    sessions = open_database(fresh_postgres)
    try:
        ids = add_rows(sessions, *[Status.PENDING] * 4)
        meanwhile: list[list[int]] = []

        def other_dispatcher(*_: object) -> None:
            with sessions() as other:
                other.execute(text("SET LOCAL lock_timeout = '10s'"))  # fail, never hang
                meanwhile.append(writes.claim_for_queue(other, writes.utcnow() - HOUR, 100))

        with sessions() as session:
            event.listen(session, "before_commit", other_dispatcher, once=True)
            first = writes.claim_for_queue(session, writes.utcnow() - HOUR, 2)
        assert (first, meanwhile) == (ids[:2], [ids[2:]])
        assert claim(sessions, 3600) == []
    finally:
        sessions.kw["bind"].dispose()
