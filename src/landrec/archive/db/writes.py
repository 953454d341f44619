"""Every write to the archive's database goes through this module (the scanner, the indexer,
the REST API). Each function is one transaction; indexing one file is idempotent: a row per
relative path (unique), the content hash and size/mtime decide whether anything is redone."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from landrec.api.telemetry import Track as TrackIn
from landrec.archive.db import reads
from landrec.archive.db.models import (
    Action,
    Audit,
    Campaign,
    Correction,
    File,
    Info,
    Kind,
    Rendition,
    RenditionKind,
    RenditionStatus,
    Segment,
    Status,
    Tag,
    Track,
    TrackPoint,
    UtcDateTime,
    Worker,
)
from landrec.archive.domain import (
    Outcome,
    RenditionJob,
    Seen,
    SegmentIn,
    StoragePath,
    TagIn,
)
from landrec.archive.positions import map_line

REGISTER_TRIES = 3  # a path registered by another writer at the same moment: read again
RECORD_TRIES = 3  # a row recorded (or moved) by another writer at the same moment: likewise
Gone = Callable[[StoragePath], bool]  # whether this path's file is not in the storage now


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def register(session: Session, seen: Iterable[Seen]) -> int:
    """Rows for new files (pending) and changed ones (size or mtime differ: pending again, a
    `missing` file that came back likewise); unchanged rows are left alone. Returns how many
    rows became pending. Another writer may register one of these paths between the read and
    the insert (the watcher and an upload see a new file together): the unique path refuses
    the second insert, and the batch is read again and retried."""
    seen = list(seen)
    for _ in range(REGISTER_TRIES - 1):
        try:
            return _register(session, seen)
        except IntegrityError:
            session.rollback()
    return _register(session, seen)


def _register(session: Session, seen: list[Seen]) -> int:
    known = {
        row.path: row
        for chunk in _chunks([s.path.posix for s in seen], 500)
        for row in session.scalars(select(File).where(File.path.in_(chunk)))
    }
    now, changed = utcnow(), 0
    for s in seen:
        row = known.get(s.path.posix)
        if row is None:
            session.add(File(path=s.path.posix, size=s.size, mtime=s.mtime, first_seen=now))
            changed += 1
        elif row.size != s.size or row.mtime != s.mtime or row.status == Status.MISSING:
            row.size, row.mtime = s.size, s.mtime
            row.status, row.attempts, row.error = Status.PENDING.value, 0, None
            changed += 1
    session.commit()
    return changed


def requeue_beside(session: Session, side_files: list[tuple[StoragePath, float]]) -> int:
    """Videos of the same folder and stem as these side files (`flight.klv` -> `flight.ts`),
    indexed before the side file's mtime, pending again with their hash forgotten, so that the
    next pass reads the side file into their track (a side file may arrive after its video).
    Returns how many rows became pending."""
    changed = 0
    for side, mtime in side_files:
        parent, stem = PurePosixPath(side.posix).parent, PurePosixPath(side.posix).stem.lower()
        prefix = "" if str(parent) == "." else f"{parent}/"
        written = datetime.fromtimestamp(mtime, timezone.utc)
        rows = session.scalars(
            select(File).where(
                File.kind == Kind.VIDEO.value,
                File.path.istartswith(f"{prefix}{stem}.", autoescape=True),
            )
        )
        for row in rows:
            path = PurePosixPath(row.path)
            if path.parent != parent or path.stem.lower() != stem:
                continue
            if row.last_processed is not None and row.last_processed >= written:
                continue  # indexed after the side file was written: it read it
            row.status, row.sha256, row.attempts = Status.PENDING.value, None, 0
            changed += 1
    return changed


def mark_missing(session: Session, present: set[StoragePath], gone: Gone) -> int:
    """Rows whose path is not in `present` (the storage's files when its listing started)
    -> missing, if `gone` confirms their file is not there now. A file that appeared after
    the listing (an upload meanwhile) is registered before this read, found on disk after it:
    its row is never marked missing."""
    paths = {p.posix for p in present}
    rows = session.execute(select(File.id, File.path).where(File.status != Status.MISSING)).all()
    gone_ids = [i for i, path in rows if path not in paths and gone(StoragePath(path))]
    for chunk in _chunks(gone_ids, 500):
        session.execute(update(File).where(File.id.in_(chunk)).values(status=Status.MISSING.value))
    session.commit()
    return len(gone_ids)


def mark_path_missing(session: Session, path: StoragePath) -> None:
    """The row of this path (if any) -> missing: its file is gone."""
    query = update(File).where(File.path == path.posix)
    session.execute(query.values(status=Status.MISSING.value))
    session.commit()


def _adopt(session: Session, row: File, old: File) -> File:
    """A new path whose content is a `missing` row's: that row (its id, tags and corrections)
    moves to the new path and the new row goes. Returns the row to record into."""
    path, size, mtime = row.path, row.size, row.mtime
    session.delete(row)
    session.flush()  # the path is unique: free it before the old row takes it
    claim = update(File).where(File.id == old.id, File.status == Status.MISSING.value)
    claimed = session.execute(claim.values(path=path, size=size, mtime=mtime))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # another writer took it: retry
        raise StaleDataError(f"row {old.id} was taken over by another writer")
    _clear_details(session, [old.id], old.model_version)
    _clear_tracks(session, [old.id])
    return old


def record(session: Session, results: list[tuple[int, Outcome]], gone: Gone) -> None:
    """Write a batch of processed files in one transaction (a few statements per batch, not
    per file: this runs for every file of the archive). A `missing` row of the same content
    whose file `gone` confirms is not on disk is taken over (a move). Another writer may
    record one of these rows meanwhile (an upload and the loop index the same file; its row
    moved onto a missing one; two workers given the same row, whose tag rows then collide on
    their unique key): the batch is read again and retried, the later writer's rows
    replacing the earlier's."""
    for _ in range(RECORD_TRIES - 1):
        try:
            return _record(session, results, gone)
        except (StaleDataError, IntegrityError):
            session.rollback()
    return _record(session, results, gone)


def _record(session: Session, results: list[tuple[int, Outcome]], gone: Gone) -> None:
    now = utcnow()
    ids = [file_id for file_id, _ in results]
    rows = {r.id: r for r in session.scalars(select(File).where(File.id.in_(ids)))}
    shas = {o.sha256 for _, o in results if o.sha256}
    moved: dict[str, File] = {}
    if shas:  # a file moved while the service was down: its old row is `missing`
        query = select(File).where(File.status == Status.MISSING, File.sha256.in_(shas))
        for old in session.scalars(query.order_by(File.id)):
            if gone(StoragePath(old.path)):  # its file may be back (missing by mistake)
                moved.setdefault(str(old.sha256), old)
    for version in {o.tag.model_version for _, o in results if o.tag is not None}:
        tagged = [i for i, o in results if o.tag is not None and o.tag.model_version == version]
        _clear_details(session, tagged, version)
    _clear_tracks(session, ids)  # a file's track is replaced whole: a re-index never adds one
    for file_id, outcome in results:
        found = rows.get(file_id)
        if found is None:  # removed meanwhile (moved onto another row)
            continue
        prior = moved.pop(outcome.sha256) if outcome.sha256 in moved else None
        row = found if prior is None or prior.id == found.id else _adopt(session, found, prior)
        _apply(session, row, outcome, now)
    session.flush()
    _requeue_renditions(session, ids, now)
    session.commit()


def _clear_details(session: Session, ids: list[int], version: str | None) -> None:
    """Drop these files' tags of `version` and all their detail rows (rewritten next)."""
    if version is not None:
        session.execute(delete(Tag).where(Tag.file_id.in_(ids), Tag.model_version == version))
    session.execute(delete(Segment).where(Segment.file_id.in_(ids)))


def _clear_tracks(session: Session, ids: list[int]) -> None:
    """Drop these files' tracks and track points (rewritten next, when they have one)."""
    session.execute(delete(TrackPoint).where(TrackPoint.file_id.in_(ids)))
    session.execute(delete(Track).where(Track.file_id.in_(ids)))


def _apply(session: Session, row: File, outcome: Outcome, now: datetime) -> None:
    row.status, row.kind, row.format = outcome.status.value, outcome.kind.value, outcome.format
    row.queued_at = None
    row.mime = outcome.mime
    row.sha256, row.error, row.last_processed = outcome.sha256, outcome.error, now
    row.thumbnail, row.extra = outcome.thumbnail, outcome.extra
    for name, value in outcome.fields.items():
        setattr(row, name, value)
    if not row.campaign_corrected:
        row.campaign = outcome.campaign.value if outcome.campaign else None
    if outcome.track is not None:
        _write_track(session, row.id, outcome.track)
    if outcome.tag is not None:
        _write_tag(session, row, outcome.tag, now)
        session.add_all(_segments(row.id, outcome.segments, outcome.tag.model_version))


def _write_tag(session: Session, row: File, tag: TagIn, now: datetime) -> None:
    """The tag row (the caller cleared this version's old one) and its copy on the file."""
    session.add(
        Tag(
            file_id=row.id,
            model_version=tag.model_version,
            label=tag.label,
            confidence=tag.confidence,
            top_k=tag.top_k,
            view=tag.view,
            view_confidence=tag.view_confidence,
            created_at=now,
        )
    )
    row.model_context, row.confidence, row.top_k = tag.label, tag.confidence, tag.top_k
    row.view, row.view_confidence = tag.view, tag.view_confidence
    row.model_version = tag.model_version
    if not row.corrected:
        row.context = tag.label


def _write_track(session: Session, file_id: int, track: TrackIn) -> None:
    """The file's track row and its points and footprint corners (the caller cleared the old)."""
    bounds = track.bounds or (None, None, None, None)
    session.add(
        Track(
            file_id=file_id,
            standards=[s.value for s in track.standards],
            packets=track.packets,
            bad_packets=track.bad_packets,
            samples=track.samples,
            min_lon=bounds[0],
            min_lat=bounds[1],
            max_lon=bounds[2],
            max_lat=bounds[3],
            start_at=track.start,
            end_at=track.end,
            platform=track.platform,
            sensor=track.sensor,
            geojson=track.geojson(),
            line=map_line(track),
        )
    )
    points = [(p.t, p.latitude, p.longitude, False) for p in track.points]
    corners = [(f.t, lat, lon, True) for f in track.footprints for lat, lon in f.corners]
    rows = [
        {"file_id": file_id, "t": t, "latitude": lat, "longitude": lon, "footprint": corner}
        for t, lat, lon, corner in points + corners
    ]
    if rows:
        session.execute(insert(TrackPoint), rows)


def touch_unchanged(session: Session, file_id: int, size: int, mtime: float) -> None:
    """Same content as already indexed (the hash matched): keep everything, note the stat."""
    session.execute(
        update(File)
        .where(File.id == file_id)
        .values(size=size, mtime=mtime, status=Status.INDEXED.value, last_processed=utcnow())
    )
    session.commit()


def record_failure(session: Session, file_id: int, error: str, max_attempts: int) -> Status:
    """One more failed try; after `max_attempts` the file is `failed` with the reason."""
    row = session.get(File, file_id)
    if row is None:
        return Status.MISSING
    row.attempts += 1
    row.error = error
    row.last_processed = utcnow()
    final = row.attempts >= max_attempts
    row.status = (Status.FAILED if final else Status.PENDING).value
    session.commit()
    return Status(row.status)


def write_tags(session: Session, tags: list[tuple[int, TagIn, list[SegmentIn]]]) -> None:
    """A retag's batch: each file's new tag kept beside the old ones and made current."""
    now = utcnow()
    for version in {tag.model_version for _, tag, _ in tags}:
        _clear_details(session, [i for i, t, _ in tags if t.model_version == version], version)
    rows = {
        r.id: r for r in session.scalars(select(File).where(File.id.in_([i for i, _, _ in tags])))
    }
    for file_id, tag, segments in tags:
        row = rows.get(file_id)
        if row is not None:
            _write_tag(session, row, tag, now)
            session.add_all(_segments(row.id, segments, tag.model_version))
    session.commit()


def _segments(file_id: int, segments: list[SegmentIn], model_version: str) -> list[Segment]:
    return [
        Segment(
            file_id=file_id,
            index=s.index,
            context=s.context,
            confidence=s.confidence,
            start_s=s.start_s,
            end_s=s.end_s,
            page=s.page,
            view=s.view,
            view_confidence=s.view_confidence,
            model_version=model_version,
            sensor_latitude=s.sensor_latitude,
            sensor_longitude=s.sensor_longitude,
            frame_center_latitude=s.frame_center_latitude,
            frame_center_longitude=s.frame_center_longitude,
        )
        for s in segments
    ]


def correct_context(session: Session, file_id: int, context: str) -> File | None:
    """A user's correction: the file's context becomes `context`, the model's label is kept
    beside it (`model_context`), and the correction is recorded; the model's own label clears
    the correction (recorded too). None: no such file."""
    _correct(session, [file_id], context, utcnow())
    session.commit()
    return session.get(File, file_id, populate_existing=True)  # not a copy read before


def clear_correction(session: Session, file_id: int) -> File | None:
    """Undo a user's correction: the file's context back to the model's label, recorded (a
    file not corrected is left as it is). None: no such file."""
    _clear(session, [file_id], None, utcnow())
    session.commit()
    return session.get(File, file_id, populate_existing=True)  # not a copy read before


class BulkAction(str, enum.Enum):
    """What one user's action does to many files at once."""

    CORRECT = "correct"  # the context given, as correct_context does for one
    CLEAR = "clear"  # back to the model's label, as clear_correction does for one
    REINDEX = "reindex"  # pending again, content hash forgotten: read and tagged anew


BULK_CHUNK = 500  # ids per statement (SQLite's limit on bound parameters)


def bulk(
    session: Session, action: BulkAction, ids: Iterable[int], actor: str, context: str | None
) -> tuple[int, int]:
    """`action` on the files of `ids` (ids without a file are left out) in one transaction,
    audited by one row. Returns (matched: files found, changed: those the action changed)."""
    now, matched, changed = utcnow(), 0, 0
    do = {BulkAction.CORRECT: _correct, BulkAction.CLEAR: _clear, BulkAction.REINDEX: _reindex}
    for chunk in _chunks(sorted(set(ids)), BULK_CHUNK):
        found = select(func.count()).select_from(File).where(File.id.in_(chunk))
        matched += int(session.scalar(found) or 0)
        changed += do[action](session, chunk, context, now)
    target = action.value if context is None else f"{action.value} to {context}"
    detail = f"{changed} of {matched} files changed"
    session.add(Audit(at=now, actor=actor, action=Action.BULK.value, target=target, detail=detail))
    session.commit()
    return matched, changed


def _correct(session: Session, ids: list[int], context: str | None, now: datetime) -> int:
    """These files' context := `context`, corrected unless it is the model's label, each
    change recorded in `corrections`. Returns how many changed."""
    corrected = File.model_context.is_distinct_from(context)
    differs = or_(File.context.is_distinct_from(context), File.corrected != corrected)
    values = {"context": context, "corrected": corrected}
    return _relabel(session, ids, differs, literal(context), values, now)


def _clear(session: Session, ids: list[int], _: str | None, now: datetime) -> int:
    """These files' context back to the model's label, not corrected, each change recorded.
    Returns how many changed."""
    differs = or_(File.corrected.is_(True), File.context.is_distinct_from(File.model_context))
    label = func.coalesce(File.model_context, "")  # no label: recorded as ""
    values = {"context": File.model_context, "corrected": False}
    return _relabel(session, ids, differs, label, values, now)


def _relabel(
    session: Session,
    ids: list[int],
    differs: ColumnElement[bool],
    label: ColumnElement[Any],
    values: Mapping[str, Any],
    now: datetime,
) -> int:
    """The files of `ids` that `differs` picks: a correction row each (the new `label`, the
    model's beside it), then `values` set. Returns how many."""
    where = and_(File.id.in_(ids), differs)
    history = select(
        File.id, File.sha256, label, File.model_context, literal(now, UtcDateTime())
    ).where(where)
    columns = ["file_id", "sha256", "context", "model_context", "created_at"]
    session.execute(insert(Correction).from_select(columns, history))
    done = session.execute(
        update(File).where(where).values(values), execution_options={"synchronize_session": False}
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def _reindex(session: Session, ids: list[int], _: str | None, now: datetime) -> int:
    """These files pending again, tries and error cleared and hash forgotten (so that even an
    unchanged file is read and tagged anew by the current model); missing ones left alone.
    Returns how many changed."""
    differs = or_(
        File.status != Status.PENDING.value,
        File.sha256.is_not(None),
        File.attempts != 0,
        File.error.is_not(None),
    )
    done = session.execute(
        update(File)
        .where(File.id.in_(ids), File.status != Status.MISSING.value, differs)
        .values(status=Status.PENDING.value, attempts=0, error=None, sha256=None),
        execution_options={"synchronize_session": False},
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def correct_campaign(session: Session, file_id: int, campaign: Campaign) -> File | None:
    """A user's campaign for a file, kept when it is indexed again (None: no such file)."""
    row = session.get(File, file_id)
    if row is None:
        return None
    row.campaign, row.campaign_corrected = campaign.value, True
    session.commit()
    return row


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def set_info(session: Session, key: str, value: str) -> None:
    """Record a fact about the archive (e.g. its storage root)."""
    row = session.get(Info, key)
    if row is None:
        session.add(Info(key=key, value=value))
    else:
        row.value = value
    session.commit()


# Renditions: the previews queue, worked after tagging (`archive/renditions/worker.py`).
RENDITION_KINDS = {Kind.IMAGE.value: RenditionKind.STILL, Kind.VIDEO.value: RenditionKind.VIDEO}
CLAIM_CANDIDATES = 16  # rows read per claim; another worker may take some of them first


def _made_again(now: datetime) -> dict[str, Any]:
    """The columns of a rendition to be made anew: pending, nothing tried, nothing made."""
    return {
        "status": RenditionStatus.PENDING.value, "attempts": 0, "error": None, "progress": 0.0,
        "bytes": None, "name": None, "updated_at": now,
    }  # fmt: skip


def _requeue_renditions(session: Session, ids: list[int], now: datetime) -> None:
    """The renditions of these files whose content changed -> pending again, for the new
    content (an unchanged file keeps its rendition)."""
    current = select(File.sha256).where(File.id == Rendition.file_id).scalar_subquery()
    session.execute(
        update(Rendition)
        .where(Rendition.file_id.in_(ids), Rendition.sha256.is_distinct_from(current))
        .values(sha256=current, **_made_again(now)),
        execution_options={"synchronize_session": False},
    )


def remake_rendition(session: Session, rendition_id: int) -> None:
    """A ready rendition whose file has gone from the previews folder -> pending again."""
    session.execute(
        update(Rendition)
        .where(Rendition.id == rendition_id, Rendition.status == RenditionStatus.READY.value)
        .values(_made_again(utcnow()))
    )
    session.commit()


def queue_renditions(session: Session) -> int:
    """A pending rendition row for every indexed image and video that has none (new files, an
    archive older than migration 0005). Returns how many were added."""
    kind = case(
        *((File.kind == k, literal(v.value)) for k, v in RENDITION_KINDS.items()),
    )
    lacking = ~select(Rendition.id).where(Rendition.file_id == File.id).exists()
    query = select(
        File.id, File.sha256, kind, literal(RenditionStatus.PENDING.value), literal(0),
        literal(0.0), literal(utcnow(), UtcDateTime()),
    ).where(
        File.status == Status.INDEXED.value,
        File.kind.in_(list(RENDITION_KINDS)),
        File.sha256.is_not(None),
        lacking,
    )  # fmt: skip
    columns = ["file_id", "sha256", "kind", "status", "attempts", "progress", "updated_at"]
    try:
        added = session.execute(
            insert(Rendition).from_select(columns, query).returning(Rendition.id)
        )
        count = len(added.all())  # (rowcount is -1 for INSERT ... SELECT on psycopg)
        session.commit()
    except IntegrityError:  # another worker queued some of them at the same moment
        session.rollback()
        return 0
    return count


def claim_rendition(session: Session, stale_before: datetime) -> RenditionJob | None:
    """Take the next rendition to make: a pending one (or one left `running` by a worker that
    stopped updating it before `stale_before`), of an indexed file. The row is claimed by a
    conditional update that only one worker's can match, so two never take the same row."""
    query = (
        select(Rendition, File)
        .join(File, File.id == Rendition.file_id)
        .where(reads.claimable(stale_before))
        .order_by(Rendition.id)
        .limit(CLAIM_CANDIDATES)
    )
    for rendition, row in session.execute(query).all():
        claim = (
            update(Rendition)
            .where(
                Rendition.id == rendition.id,
                Rendition.status == rendition.status,
                Rendition.updated_at == rendition.updated_at,
                Rendition.attempts == rendition.attempts,
            )
            .values(
                status=RenditionStatus.RUNNING.value,
                attempts=Rendition.attempts + 1,
                progress=0.0,
                updated_at=utcnow(),
            )
        )
        done = session.execute(claim, execution_options={"synchronize_session": False})
        session.commit()
        if done.rowcount == 1:  # type: ignore[attr-defined]
            return RenditionJob(
                rendition.id, row.id, StoragePath(row.path), str(rendition.sha256),
                RenditionKind(rendition.kind), row.mime, row.width, row.height, row.rotation,
            )  # fmt: skip
    return None


def rendition_progress(session: Session, rendition_id: int, progress: float) -> None:
    """A running rendition's progress (0..1); its `updated_at` shows the worker is alive."""
    session.execute(
        update(Rendition)
        .where(Rendition.id == rendition_id, Rendition.status == RenditionStatus.RUNNING.value)
        .values(progress=min(max(progress, 0.0), 1.0), updated_at=utcnow())
    )
    session.commit()


def finish_rendition(
    session: Session, rendition_id: int, name: str | None, size: int | None
) -> None:
    """Made (`name` in the previews folder, `size` bytes), or none needed (`name` None)."""
    status = RenditionStatus.READY if name else RenditionStatus.ORIGINAL
    session.execute(
        update(Rendition)
        .where(Rendition.id == rendition_id)
        .values(
            status=status.value, name=name, bytes=size, progress=1.0, error=None,
            updated_at=utcnow(),
        )
    )  # fmt: skip
    session.commit()


def fail_rendition(
    session: Session, rendition_id: int, error: str, max_attempts: int, final: bool
) -> RenditionStatus:
    """A failed try: `failed` with the reason when `final` (the bytes decide) or after
    `max_attempts` tries, else pending again for a later pass."""
    row = session.get(Rendition, rendition_id)
    if row is None:
        return RenditionStatus.FAILED
    done = final or row.attempts >= max_attempts
    row.status = (RenditionStatus.FAILED if done else RenditionStatus.PENDING).value
    row.error, row.progress, row.updated_at = error, 0.0, utcnow()
    session.commit()
    return RenditionStatus(row.status)


def release_rendition(session: Session, rendition_id: int) -> None:
    """A claimed rendition given back unfinished (the worker is stopping): pending, the try
    not counted."""
    session.execute(
        update(Rendition)
        .where(Rendition.id == rendition_id, Rendition.status == RenditionStatus.RUNNING.value)
        .values(
            status=RenditionStatus.PENDING.value,
            attempts=Rendition.attempts - 1,
            progress=0.0,
            updated_at=utcnow(),
        )
    )
    session.commit()


def retry_failed_renditions(session: Session) -> int:
    """Every failed rendition pending again, its tries reset. Returns how many."""
    done = session.execute(
        update(Rendition)
        .where(Rendition.status == RenditionStatus.FAILED.value)
        .values(status=RenditionStatus.PENDING.value, attempts=0, error=None, updated_at=utcnow())
    )
    session.commit()
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


# The distributed mode's queue bookkeeping: the database stays the truth of what is pending;
# `queued_at` only says a message was sent, so that each pending row is sent once, and sent
# again when its message looks lost (not done within the broker's visibility timeout).


def claim_for_queue(session: Session, resend_before: datetime | None, limit: int) -> list[int]:
    """Up to `limit` pending rows never sent, or sent before `resend_before` (None: never
    sent only), marked sent now; their ids in id order. Two dispatchers at once never take the
    same row (PostgreSQL: the rows are locked, and skipped by the other; SQLite: one writer at
    a time)."""
    waiting: ColumnElement[bool] = File.queued_at.is_(None)
    if resend_before is not None:
        waiting = or_(waiting, File.queued_at < resend_before)
    query = (
        select(File.id)
        .where(File.status == Status.PENDING.value, waiting)
        .order_by(File.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(query))
    for chunk in _chunks(ids, 500):
        session.execute(update(File).where(File.id.in_(chunk)).values(queued_at=utcnow()))
    session.commit()
    return ids


def unqueue(session: Session, ids: list[int]) -> None:
    """These rows' messages are gone (not sent, or done while the rows stay pending: a file
    still being written, a try to repeat): sent again by the next dispatch."""
    for chunk in _chunks(ids, 500):
        query = update(File).where(File.id.in_(chunk), File.status == Status.PENDING.value)
        session.execute(query.values(queued_at=None))
    session.commit()


def forget_workers(session: Session, prefix: str, seen_before: datetime) -> int:
    """Drop the rows of processes named `prefix...` (one worker's: `landrec@host/`) not seen
    since `seen_before`: the processes of its earlier run. Returns how many."""
    query = delete(Worker).where(
        Worker.name.startswith(prefix, autoescape=True), Worker.last_seen < seen_before
    )
    done = session.execute(query)
    session.commit()
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def worker_alive(session: Session, name: str, pid: int) -> None:
    """A worker process's periodic heartbeat: its `last_seen` now (its row made if none)."""
    query = update(Worker).where(Worker.name == name, Worker.pid == pid)
    if session.execute(query.values(last_seen=utcnow())).rowcount:  # type: ignore[attr-defined]
        session.commit()
    else:
        worker_seen(session, name, pid, None)


def worker_seen(session: Session, name: str, pid: int, doing: str | None, **done: int) -> None:
    """A worker's heartbeat: its row made or updated, `done` ({indexed, failed, previews,
    retagged}: counts of the task just ended) added to its totals. Its heartbeat thread may
    make the row at the same moment: then it is read again."""
    try:
        _worker_seen(session, name, pid, doing, done)
    except IntegrityError:
        session.rollback()
        _worker_seen(session, name, pid, doing, done)


def _worker_seen(
    session: Session, name: str, pid: int, doing: str | None, done: dict[str, int]
) -> None:
    now = utcnow()
    row = session.get(Worker, name)
    if row is None or row.pid != pid:  # new, or the same name restarted: counts from zero
        if row is not None:
            session.delete(row)
            session.flush()
        row = Worker(
            name=name, pid=pid, started_at=now, last_seen=now, indexed=0, failed=0,
            previews=0, retagged=0,
        )  # fmt: skip
        session.add(row)
    row.last_seen, row.doing = now, doing
    for key, value in done.items():
        setattr(row, key, getattr(row, key) + value)
    session.commit()
