"""Reading the archive: health, the searchable list, one file, its thumbnail and content (with
HTTP Range), statistics; and the writes a user makes, correcting a file's context or campaign."""

from __future__ import annotations

import logging
import math
import mimetypes
import os
import re
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Row
from sqlalchemy.orm import Session

from landrec.archive.db import auth_writes, queries, writes
from landrec.archive.db.models import (
    Action,
    Campaign,
    File,
    Kind,
    RenditionKind,
    RenditionStatus,
    Status,
)
from landrec.archive.domain import inside_storage
from landrec.archive.extract import thumbnail_media_type
from landrec.archive.renditions.plan import MIME
from landrec.archive.web import ranges
from landrec.archive.web.deps import (
    ClassesDep,
    EditorDep,
    RowId,
    SessionDep,
    SettingsDep,
    ViewerDep,
    ViewsDep,
)
from landrec.archive.web.errors import error, invalid, responses
from landrec.archive.web.schemas import (
    CampaignIn,
    ContextIn,
    CorrectionOut,
    ErrorOut,
    FileDetail,
    FileItem,
    FileList,
    FilterQuery,
    Health,
    ListQuery,
    Month,
    PreviewWaiting,
    Progress,
    Sort,
    Stats,
    ValidationErrorOut,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

CLASS_NAME = re.compile(r"^[A-Za-z0-9_ -]{1,64}$")
UNKNOWN = "unknown"
THUMB_CACHE = "public, max-age=86400"
MKV = "video/x-matroska"  # Matroska's type; a WebM file (its subset) is served as WebM
ACTIVE = re.compile(r"svg|html|xml|javascript|ecmascript", re.IGNORECASE)  # a browser runs it
OCTET = "application/octet-stream"  # unknown, or not an image or video: downloaded, not shown


def not_found(what: str) -> HTTPException:
    return HTTPException(404, f"{what} not found")


def item(row: File | Row[Any]) -> FileItem:
    """A list item: the row's columns plus the thumbnail's URL (versioned by content)."""
    out = FileItem.model_validate(row, from_attributes=True)
    out.share = video_share(row)
    if row.thumbnail:
        out.thumbnail_url = f"/api/files/{row.id}/thumbnail?v={(row.sha256 or '')[:16]}"
    if out.preview_status is None and row.kind in (Kind.IMAGE, Kind.VIDEO):
        out.preview_status = RenditionStatus.PENDING.value  # queued by the next previews pass
    return out


def video_share(row: File | Row[Any]) -> float | None:
    """A video's label's share of its duration: the first of its top-k (the shares of its
    time, largest first) when that is the model's label; None for anything else."""
    top = row.top_k or []
    if row.kind != Kind.VIDEO or not top or top[0].get("label") != row.model_context:
        return None
    share = top[0].get("probability")
    return float(share) if isinstance(share, int | float) else None


def moment(text: str | None, name: str, where: str, end: bool = False) -> datetime | None:
    """An ISO date (the whole day: from its start, or to its end) or date-time; 422 if not
    (at `where`: "query", "body")."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max if end else time.min, timezone.utc)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(where, name, f"not an ISO date or date-time: {text!r}") from None


def parse_bbox(text: str | None, where: str) -> queries.BBox | None:
    """`minlon,minlat,maxlon,maxlat` in degrees; 422 unless four finite numbers in range."""
    if text is None:
        return None
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise invalid(where, "bbox", "give four numbers: minlon,minlat,maxlon,maxlat")
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise invalid(where, "bbox", "longitudes must be within -180..180")
    if not (-90 <= min_lat <= max_lat <= 90):
        raise invalid(where, "bbox", "latitudes must be within -90..90, min <= max")
    return min_lon, min_lat, max_lon, max_lat


def file_filter(query: Annotated[ListQuery, Query()], views: ViewsDep) -> queries.FileFilter:
    """The list's query parameters, checked, as a search filter."""
    return search_filter(query, "query", views, query.sort, query.page, query.page_size)


def check_view(view: str | None, views: list[str] | None, where: str) -> str | None:
    """The `view` filter if allowed: one of the model's `views` (None: any name); 422 if not."""
    if view is not None and views and view not in views:
        raise invalid(where, "view", f"invalid view {view!r}: use one of {', '.join(views)}")
    return view


def search_filter(
    f: FilterQuery,
    where: str,
    views: list[str] | None = None,
    sort: Sort = "-id",
    page: int = 1,
    page_size: int = 50,
) -> queries.FileFilter:
    """The list's filters (GET /api/files' query, a bulk action's body) as a search filter;
    422 (at `where`: "query", "body") when a date, the bbox, the view (not one of the model's
    `views`) or the page is invalid."""
    try:
        return queries.FileFilter(
            f.context, f.min_confidence, f.kind, f.format, f.camera,
            moment(f.taken_from, "from", where), moment(f.taken_to, "to", where, end=True),
            parse_bbox(f.bbox, where), f.status, f.corrected, f.q, f.unknown, f.campaign,
            check_view(f.view, views, where), sort, page, page_size,
        )  # fmt: skip
    except ValueError as exc:  # the checks FileFilter makes itself (bbox, sort, page)
        raise invalid(where, "filter", str(exc)) from None


@router.get("/health", response_model_exclude_none=True)
def health(request: Request, session: SessionDep) -> Health:
    files, pending = queries.counts(session)
    if request.app.state.dispatcher is None:
        return Health(files=files, pending=pending)
    queues = broker_depths(request)
    status = "ok" if queues is not None else "degraded"
    return Health(status=status, files=files, pending=pending, queues=queues)


def broker_depths(request: Request) -> dict[str, int] | None:
    """The broker's queue depths; None when it does not answer (it restarts: the API stays)."""
    try:
        return dict(request.app.state.dispatcher.depths())
    except Exception:  # kombu raises the transport's own errors
        log.warning("the broker did not answer", exc_info=True)
        return None


@router.get("/files", response_model=FileList)
def list_files(
    _: ViewerDep, session: SessionDep, f: Annotated[queries.FileFilter, Depends(file_filter)]
) -> Response:
    """A page of the files matching every filter given, and how many match in all."""
    total, rows = queries.search(session, f)
    page = FileList(total=total, page=f.page, page_size=f.page_size, items=[item(r) for r in rows])
    # Serialised by pydantic directly: FastAPI's generic encoder costs more than the query
    # (1.7 ms against 1.3 ms for 50 items at 100,000 rows).
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/months")
def months(
    _: ViewerDep, session: SessionDep, f: Annotated[queries.FileFilter, Depends(file_filter)]
) -> list[Month]:
    """How many of the files matching the filters were taken in each month, the newest
    first (the grid's date headings and its jump to a month); paging and sort are ignored."""
    rows = queries.months(session, f)
    return [Month(year=y, month=m, files=n) for y, m, n in rows]


@router.get("/files/{file_id}", responses=responses(404))
def file_detail(file_id: RowId, _: ViewerDep, session: SessionDep) -> FileDetail:
    """Every column of one file, its segments and the history of its corrections."""
    row = queries.get_file(session, file_id)
    if row is None:
        raise not_found("file")
    out = FileDetail.model_validate(row, from_attributes=True)
    listed = item(row)
    out.thumbnail_url, out.preview_status = listed.thumbnail_url, listed.preview_status
    out.share = listed.share
    history = queries.file_corrections(session, file_id)
    out.corrections = [CorrectionOut.model_validate(c) for c in history]
    extra = row.extra or {}
    out.platform, out.sensor = extra.get("platform"), extra.get("sensor")
    track = queries.track_of(session, file_id)
    out.has_track = track is not None
    made = queries.rendition_of(session, file_id)
    if made is not None:
        out.preview_status, out.preview_error = made.status, made.error
        out.preview_progress = made.progress
    if track is not None:
        bounds = [track.min_lon, track.min_lat, track.max_lon, track.max_lat]
        out.track_bounds = [b for b in bounds if b is not None] if None not in bounds else None
    return out


def inside(root: Path, relative: str) -> Path:
    """`root / relative`, symlinks resolved, if that is a file within `root`; else 404."""
    path = root / relative
    if not inside_storage(root, path) or not path.is_file():
        raise not_found("file content")
    return path.resolve()


@router.get(
    "/files/{file_id}/thumbnail",
    response_class=Response,
    responses={
        200: {
            "content": {"image/jpeg": {}, "image/webp": {}},
            "description": "The thumbnail (JPEG; WebP in archives indexed before issue 28)",
        },
        304: {"description": "Not modified: the client's copy is current"},
        **responses(404),
    },
)
def thumbnail(
    file_id: RowId,
    _: ViewerDep,
    session: SessionDep,
    settings: SettingsDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The file's thumbnail (JPEG, or WebP as older archives made it); 304 when the client's
    copy (ETag: content hash) is current."""
    row = queries.file_row(session, file_id)
    if row is None or not row.thumbnail:
        raise not_found("thumbnail")
    etag = f'"{row.sha256 or row.thumbnail}"'
    headers = {"ETag": etag, "Cache-Control": THUMB_CACHE}
    if if_none_match is not None and etag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    try:
        data = inside(settings.thumbs_dir, row.thumbnail).read_bytes()
    except (HTTPException, OSError):
        raise not_found("thumbnail") from None
    return Response(data, media_type=thumbnail_media_type(row.thumbnail), headers=headers)


def media_type(row: File) -> str:
    """The content type of a stored file: its detected media type (a row indexed before it
    was stored: guessed from the name), only an image's or a video's; never text, never a
    type a browser runs (SVG, HTML, XML, scripts), whatever the name or the row says."""
    if row.kind not in (Kind.IMAGE, Kind.VIDEO):
        return OCTET
    mime = row.mime or mimetypes.guess_type(row.path)[0]
    if mime == MKV and row.path.lower().endswith(".webm"):
        return "video/webm"
    if not mime or not mime.startswith(row.kind + "/") or ACTIVE.search(mime):
        return OCTET
    return mime


@router.get(
    "/files/{file_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"*/*": {}}, "description": "The whole file"},
        206: {"content": {"*/*": {}}, "description": "The byte range asked for"},
        **responses(404, 416),
    },
)
def content(
    file_id: RowId,
    _: ViewerDep,
    session: SessionDep,
    settings: SettingsDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
    if_range: Annotated[str | None, Header()] = None,
) -> Response:
    """The original file, whole (200) or one byte range of it (206); 416 beyond its end."""
    row = queries.file_row(session, file_id)
    if row is None:
        raise not_found("file")
    return original(row, settings.storage, range_, if_range)


def original(
    row: File, storage: Path, range_: str | None, if_range: str | None, mime: str | None = None
) -> Response:
    """The stored file of this row, whole or the byte range asked for (/content, /preview),
    as `mime` (default: its own type)."""
    try:
        handle = inside(storage, row.path).open("rb")
    except OSError:
        raise not_found("file content") from None
    info = os.fstat(handle.fileno())
    etag = f'"{int(info.st_mtime_ns)}-{info.st_size}"'
    span = range_ if if_range in (None, etag) else None
    return ranged(handle, mime or media_type(row), etag, span)


def ranged(handle: BinaryIO, mime: str, etag: str, range_: str | None) -> Response:
    """An open file's bytes, whole (200) or one range (206); 416 beyond its end."""
    size = os.fstat(handle.fileno()).st_size
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }
    try:
        span = ranges.parse_range(range_, size)
    except ranges.Unsatisfiable:
        handle.close()
        headers["Content-Range"] = f"bytes */{size}"
        return error(416, f"range not satisfiable: the file has {size} bytes", headers)
    start, end, status = 0, size - 1, 200
    if span is not None:
        (start, end), status = span, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    body = ranges.read_span(handle, start, end - start + 1)
    return StreamingResponse(body, status, headers, media_type=mime)


PREVIEW_RETRY_S = 2  # a preview being made: the client asks again after this


@router.get(
    "/files/{file_id}/preview",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"video/mp4": {}, "image/webp": {}, "*/*": {}},
            "description": "The browser-ready rendition (H.264/AAC MP4, WebP), or the original"
            " when it is browser-ready itself",
        },
        202: {
            "model": PreviewWaiting,
            "description": "Not made yet: ask again after Retry-After seconds",
        },
        206: {"content": {"*/*": {}}, "description": "The byte range asked for"},
        **responses(404, 416),
        422: {
            "model": ErrorOut | ValidationErrorOut,
            "description": "No preview can be made (the reason), or invalid parameters",
        },
    },
)
def preview(
    file_id: RowId,
    _: ViewerDep,
    session: SessionDep,
    settings: SettingsDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
    if_range: Annotated[str | None, Header()] = None,
) -> Response:
    """A browser-ready rendition of the file: a video proxy (H.264/AAC MP4, at most 720p, its
    t=0 the original's video start) or a display-size still (WebP, 1600 px), with HTTP Range;
    the original itself when the browser shows it as it is; 202 while being made; 422 when it
    cannot be."""
    row = queries.file_row(session, file_id)
    if row is None or row.status == Status.MISSING:
        raise not_found("file")
    if row.kind not in (Kind.IMAGE, Kind.VIDEO) or row.status in (
        Status.FAILED,
        Status.UNSUPPORTED,
    ):
        why = row.error or f"{row.format or 'this file'} is not an image or a video"
        return error(422, f"no preview: {why}")
    made = queries.rendition_of(session, file_id)
    if made is None or made.sha256 != row.sha256:
        return waiting(RenditionStatus.PENDING, 0.0)
    status = RenditionStatus(made.status)
    if status in (RenditionStatus.PENDING, RenditionStatus.RUNNING):
        return waiting(status, made.progress)
    if status is RenditionStatus.FAILED:
        return error(422, f"no preview: {made.error or 'it could not be made'}")
    if status is RenditionStatus.ORIGINAL or not made.name:
        webm = "video/webm" if row.mime == MKV else None  # kept only with WebM's codecs
        return original(row, settings.storage, range_, if_range, webm)
    try:
        handle = inside(settings.previews_dir, made.name).open("rb")
    except (HTTPException, OSError):  # removed from the previews folder: made again
        writes.remake_rendition(session, made.id)
        return waiting(RenditionStatus.PENDING, 0.0)
    etag = f'"{made.sha256}-{made.kind}"'
    mime = MIME[RenditionKind(made.kind)]
    return ranged(handle, mime, etag, range_ if if_range in (None, etag) else None)


def waiting(status: RenditionStatus, progress: float) -> Response:
    """202: the preview is not made yet; how far it is."""
    body = PreviewWaiting(status=status.value, progress=progress)  # type: ignore[arg-type]
    headers = {"Retry-After": str(PREVIEW_RETRY_S), "Cache-Control": "no-store"}
    return Response(body.model_dump_json(), 202, headers, media_type="application/json")


@router.get("/stats")
def stats(_: ViewerDep, request: Request, session: SessionDep) -> Stats:
    """Counts of files per context, view, kind, status and format; the total and the pending; in
    the distributed mode, the queues and each worker's progress."""
    out = Stats.model_validate(queries.stats(session))
    if request.app.state.dispatcher is not None:
        progress = queries.progress(session)
        out.distributed = Progress.model_validate({**progress, "queues": broker_depths(request)})
    return out


def check_context(name: str, classes: list[str] | None) -> str:
    """The corrected context if allowed: one of the model's classes, never "unknown"."""
    name = name.strip()
    if name == UNKNOWN or not CLASS_NAME.match(name):
        raise invalid("body", "context", f"invalid context {name!r}: a class, not {UNKNOWN!r}")
    if classes is not None and name not in classes:
        raise invalid(
            "body", "context", f"invalid context {name!r}: use one of {', '.join(classes)}"
        )
    return name


@router.put("/files/{file_id}/context", responses=responses(404))
def correct(
    file_id: RowId, body: ContextIn, who: EditorDep, session: SessionDep, classes: ClassesDep
) -> FileItem:
    """Correct a file's context; the model's label stays beside it and the change is kept.
    The model's own label clears the correction (kept in the history too)."""
    row = writes.correct_context(session, file_id, check_context(body.context, classes))
    if row is None:
        raise not_found("file")
    detail = f"file {file_id}: {row.model_context} -> {row.context}"
    auth_writes.audit(session, who.name, Action.CORRECT, row.path, detail)
    return stored_item(session, row)


@router.delete("/files/{file_id}/context", responses=responses(404))
def uncorrect(file_id: RowId, who: EditorDep, session: SessionDep) -> FileItem:
    """Undo a correction: the file's context back to the model's label, not corrected (kept
    in the history); a file not corrected is left as it is."""
    row = writes.clear_correction(session, file_id)
    if row is None:
        raise not_found("file")
    detail = f"file {file_id}: back to the model's label {row.context}"
    auth_writes.audit(session, who.name, Action.CORRECT, row.path, detail)
    return stored_item(session, row)


@router.put("/files/{file_id}/campaign", responses=responses(404))
def correct_campaign(
    file_id: RowId, body: CampaignIn, who: EditorDep, session: SessionDep
) -> FileItem:
    """Correct a file's campaign (air, land, sea); a re-index keeps it."""
    before = queries.file_row(session, file_id)
    old = before.campaign if before is not None else None
    row = writes.correct_campaign(session, file_id, Campaign(body.campaign))
    if row is None:
        raise not_found("file")
    detail = f"file {file_id}: {old} -> {row.campaign}"
    auth_writes.audit(session, who.name, Action.CAMPAIGN, row.path, detail)
    return stored_item(session, row)


def stored_item(session: Session, row: File) -> FileItem:
    """The list item of a row just written (read whole, not from the list's columns)."""
    out = item(row)
    out.has_track = queries.track_of(session, row.id) is not None
    return out
