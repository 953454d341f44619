"""The reads of the indexing side: the queue (pending rows), the rows to process, what the
commands list, and the archive's recorded facts. The API's reads are in `queries`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from landrec.api.telemetry import Track as TrackOut
from landrec.archive.db.models import (
    Correction,
    File,
    Info,
    Kind,
    Rendition,
    RenditionStatus,
    Status,
    Token,
    Track,
    User,
    Worker,
)
from landrec.archive.domain import Job, StoragePath


def pending_ids(session: Session, after: int = 0, limit: int = 256) -> list[int]:
    """Ids of pending rows after `after`, in id order (the queue's next `limit`)."""
    query = (
        select(File.id)
        .where(File.status == Status.PENDING, File.id > after)
        .order_by(File.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def pending_among(session: Session, ids: list[int]) -> list[int]:
    """Those of `ids` whose rows are still pending (a message delivered twice, or after
    another worker indexed its rows, finds nothing to do)."""
    query = select(File.id).where(File.id.in_(ids), File.status == Status.PENDING)
    return list(session.scalars(query.order_by(File.id)))


def statuses(session: Session, ids: list[int]) -> dict[int, str]:
    """{id: status} of these rows."""
    rows = session.execute(select(File.id, File.status).where(File.id.in_(ids)))
    return {file_id: status for file_id, status in rows}


def queued_count(session: Session) -> int:
    """Pending rows sent to the workers and not done yet (distributed mode)."""
    query = (
        select(func.count())
        .select_from(File)
        .where(File.status == Status.PENDING, File.queued_at.is_not(None))
    )
    return int(session.scalar(query) or 0)


def workers(session: Session) -> list[Worker]:
    """Every worker that has reported, the most recently seen first."""
    return list(session.scalars(select(Worker).order_by(Worker.last_seen.desc())))


def pending_count(session: Session) -> int:
    """How many rows wait to be processed."""
    query = select(func.count()).select_from(File).where(File.status == Status.PENDING)
    return int(session.scalar(query) or 0)


def sent_before(session: Session, before: datetime) -> bool:
    """Whether a pending row was sent before `before` (its message may be lost)."""
    query = select(File.id).where(File.status == Status.PENDING, File.queued_at < before)
    return session.scalar(query.limit(1)) is not None


def status_counts(session: Session) -> dict[str, int]:
    """{status: number of rows}."""
    rows = session.execute(select(File.status, func.count()).group_by(File.status)).all()
    return {str(s): int(n) for s, n in rows}


def jobs(session: Session, ids: list[int]) -> list[Job]:
    """These rows (those that still exist), in id order, as the indexer processes them."""
    rows = session.scalars(select(File).where(File.id.in_(ids)).order_by(File.id))
    return [
        Job(r.id, StoragePath(r.path), r.size, r.mtime, r.sha256, r.model_version, r.error)
        for r in rows
    ]


def ids_of(session: Session, paths: list[StoragePath]) -> list[int]:
    """The ids of the rows at these paths (paths without a row are left out)."""
    query = select(File.id).where(File.path.in_([p.posix for p in paths]))
    return list(session.scalars(query))


def info(session: Session, key: str) -> str | None:
    """A recorded fact about the archive (e.g. its storage root); None when never recorded."""
    row = session.get(Info, key)
    return None if row is None else row.value


def indexed_files(
    session: Session, ids: list[int] | None = None
) -> list[tuple[int, StoragePath, Kind, int | None]]:
    """Every indexed image and video (of `ids`, when given), by id: (id, path, kind, pages),
    what a retag classifies."""
    classified = [kind.value for kind in Kind if kind.classified]
    query = select(File.id, File.path, File.kind, File.pages).where(
        File.status == Status.INDEXED, File.kind.in_(classified)
    )
    if ids is not None:
        query = query.where(File.id.in_(ids))
    rows = session.execute(query.order_by(File.id)).all()
    return [(i, StoragePath(path), Kind(kind), pages) for i, path, kind, pages in rows]


def corrected_files(session: Session) -> list[tuple[int, StoragePath, str]]:
    """Every corrected file still in the storage, by id: (id, path, context)."""
    query = select(File.id, File.path, File.context).where(
        File.corrected.is_(True), File.status != Status.MISSING
    )
    rows = session.execute(query.order_by(File.id)).all()
    return [(i, StoragePath(path), str(context)) for i, path, context in rows]


def correction_count(session: Session) -> int:
    """How many corrections users have made (a file corrected twice counts twice)."""
    return int(session.scalar(select(func.count()).select_from(Correction)) or 0)


def has_credentials(session: Session) -> bool:
    """True once a user or a token exists (a revoked token too): the archive is then secured."""
    query = select(or_(select(User.id).exists(), select(Token.id).exists()))
    return bool(session.scalar(query))


def tracks(session: Session, ids: list[int]) -> dict[int, TrackOut]:
    """The tracks of these files, by file id (files without one left out)."""
    query = select(Track.file_id, Track.geojson).where(Track.file_id.in_(ids))
    return {file_id: TrackOut.from_geojson(data) for file_id, data in session.execute(query)}


def rendition_counts(session: Session) -> dict[str, int]:
    """{rendition status: number of rows}: what the previews queue holds."""
    query = select(Rendition.status, func.count()).group_by(Rendition.status)
    return {str(s): int(n) for s, n in session.execute(query).all()}


def claimable(stale_before: datetime) -> ColumnElement[bool]:
    """The renditions a worker can claim now (`writes.claim_rendition`; joined with their
    file): pending ones, or running ones not updated since `stale_before` (their worker is
    gone), of files still indexed with the content they are made of."""
    waiting = or_(
        Rendition.status == RenditionStatus.PENDING.value,
        and_(
            Rendition.status == RenditionStatus.RUNNING.value,
            Rendition.updated_at < stale_before,
        ),
    )
    return and_(waiting, File.status == Status.INDEXED.value, File.sha256 == Rendition.sha256)


def renditions_to_make(session: Session, stale_before: datetime) -> int:
    """How many renditions a worker can claim now."""
    query = (
        select(func.count())
        .select_from(Rendition)
        .join(File, File.id == Rendition.file_id)
        .where(claimable(stale_before))
    )
    return int(session.scalar(query) or 0)
