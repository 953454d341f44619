"""The REST API's bodies (pydantic), separate from the tables: what a client sends and gets."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from landrec.archive.db.queries import MAX_PAGE_SIZE
from landrec.archive.db.writes import BulkAction


def as_utc(moment: datetime) -> datetime:
    """A stored time with its zone: SQLite gives naive datetimes, all of them UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
Sort = Literal[
    "id", "-id", "path", "-path", "taken_at", "-taken_at", "confidence", "-confidence", "size",
    "-size",
]  # fmt: skip
StatusName = Literal["pending", "indexed", "failed", "unsupported", "missing"]
KindName = Literal["image", "video", "track", "other"]
CampaignName = Literal["air", "land", "sea"]
MAX_PAGE = 1_000_000  # keeps the OFFSET inside a 64-bit integer
MAX_BULK_IDS = 10_000  # ids one bulk action names at most (a filter has no cap)
INT64 = {"ge": -(2**63), "le": 2**63 - 1}  # a row id's range: a 64-bit integer
RowIdValue = Annotated[int, Field(**INT64)]


class FilterQuery(BaseModel):
    """The list's filters: GET /api/files' query, a bulk action's `filter`; each one left out
    applies no restriction."""

    model_config = ConfigDict(populate_by_name=True)

    context: str | None = Field(None, max_length=64)
    min_confidence: float | None = Field(None, ge=0, le=1)
    kind: KindName | None = None
    format: str | None = Field(None, max_length=64)
    camera: str | None = Field(None, max_length=128)
    taken_from: str | None = Field(
        None, alias="from", description="ISO date: taken then, or a track's span"
    )
    taken_to: str | None = Field(
        None, alias="to", description="ISO date: taken then, or a track's span"
    )
    bbox: str | None = Field(
        None, description="minlon,minlat,maxlon,maxlat: the file's position or its track's"
    )
    status: StatusName | None = None
    corrected: bool | None = None
    unknown: bool = False
    q: str | None = Field(None, max_length=256)
    campaign: CampaignName | None = None
    # One of the model's views (the OpenAPI enum lists them: `app.views_in_schema`)
    view: str | None = Field(None, max_length=64, description="the model's view, e.g. overhead")


class ListQuery(FilterQuery):
    """GET /api/files' query: the filters, the sort and the page."""

    sort: Sort = "-id"
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class BulkFilter(FilterQuery):
    """A bulk action's filter: the list's filter keys only (a misspelt key is refused, never
    taken as "no restriction")."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class BulkIn(BaseModel):
    """One action on many files: those of `ids`, or every file matching `filter`."""

    model_config = ConfigDict(extra="forbid")

    action: BulkAction
    context: str | None = Field(None, min_length=1, max_length=64, examples=["glacier"])
    ids: list[RowIdValue] | None = Field(None, min_length=1, max_length=MAX_BULK_IDS)
    filter: BulkFilter | None = None

    @model_validator(mode="after")
    def one_target(self) -> BulkIn:
        """Either ids or a filter; a context with `correct`, and only then."""
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either ids or a filter")
        if (self.action is BulkAction.CORRECT) != (self.context is not None):
            raise ValueError("give a context with correct, and only with correct")
        return self


class BulkOut(BaseModel):
    matched: int  # files the ids or the filter named (ids without a file left out)
    changed: int  # of them, those the action changed (the others were so already)


class Health(BaseModel):
    status: str = "ok"
    files: int  # rows in the archive, every status
    pending: int  # waiting to be indexed
    # Distributed mode only: messages waiting in the broker per queue (left out when the
    # broker did not answer: `status` is then "degraded")
    queues: dict[str, int] | None = None


class FileItem(BaseModel):
    """A file as the list shows it: no segments, no extra metadata."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    path: str  # relative to the storage, POSIX separators
    size: int
    kind: str
    format: str | None
    status: str
    error: str | None
    context: str | None
    confidence: float | None
    model_context: str | None
    corrected: bool
    width: int | None
    height: int | None
    duration_s: float | None
    taken_at: UtcDatetime | None
    latitude: float | None
    longitude: float | None
    camera_make: str | None
    camera_model: str | None
    campaign: str | None = None  # air, land or sea; None: no position, no airborne telemetry
    view: str | None = None  # the model's view of it (e.g. ground, overhead); None: not told
    view_confidence: float | None = None
    # A video's: its label's share of the video's duration (the first top-k entry); None: an
    # image, a corrected file or a label that is not the first share
    share: float | None = None
    has_track: bool = False  # GET /api/files/{id}/track has its track
    thumbnail_url: str | None = None  # None: no thumbnail
    # GET /api/files/{id}/preview: pending, running, ready, failed, original (the original
    # is browser-ready); None: not an image or a video
    preview_status: str | None = None


class FileList(BaseModel):
    total: int  # files matching the filters, all pages
    page: int
    page_size: int
    items: list[FileItem]


class Month(BaseModel):
    year: int
    month: int  # 1..12
    files: int  # matching the filters, taken in this month (UTC)


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    index: int
    start_s: float | None
    end_s: float | None
    page: int | None
    context: str | None
    confidence: float | None
    view: str | None = None  # the model's view of the segment or page, e.g. ground, overhead
    view_confidence: float | None = None
    # Where the sensor was and the frame centre it looked at, at `start_s` (a video's track)
    sensor_latitude: float | None = None
    sensor_longitude: float | None = None
    frame_center_latitude: float | None = None
    frame_center_longitude: float | None = None


class CorrectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    context: str
    model_context: str | None
    created_at: UtcDatetime


class FileDetail(FileItem):
    """Everything the archive knows about one file."""

    mtime: float
    sha256: str | None
    attempts: int
    first_seen: UtcDatetime
    last_processed: UtcDatetime | None
    mode: str | None
    bit_depth: int | None
    pages: int | None
    lens: str | None
    exposure_time: float | None
    f_number: float | None
    iso: int | None
    focal_length: float | None
    orientation: int | None
    altitude: float | None
    container: str | None
    codec: str | None
    fps: float | None
    rotation: int | None
    thumbnail: str | None
    model_version: str | None
    top_k: list[dict[str, Any]] | None
    extra: dict[str, Any] | None
    segments: list[SegmentOut]
    corrections: list[CorrectionOut] = []  # oldest first
    campaign_corrected: bool = False  # a user's campaign: kept when the file is indexed again
    platform: str | None = None  # the telemetry's platform designation (ST 0601 tag 10)
    sensor: str | None = None  # its image source sensor (tag 11)
    track_bounds: list[float] | None = None  # min lon, min lat, max lon, max lat of its track
    preview_error: str | None = None  # why its preview cannot be made (preview_status failed)
    preview_progress: float | None = None  # 0..1 while its preview is being made


class PreviewWaiting(BaseModel):
    """A preview not made yet: ask again after `Retry-After` seconds."""

    status: Literal["pending", "running"]
    progress: float = Field(ge=0, le=1)  # 0..1, how far its making is


class CampaignIn(BaseModel):
    campaign: Literal["air", "land", "sea"]


class Feature(BaseModel):
    """A GeoJSON Feature (RFC 7946): a geometry and its properties."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any]  # {"type": "LineString" | "Polygon" | "Point", "coordinates"}
    properties: dict[str, Any]


class TrackOut(BaseModel):
    """A file's track as GeoJSON: a LineString of its points (per vertex `t`, `time`,
    `altitude` and `heading` in its properties, `kind` "track"), one Polygon per footprint
    (`kind` "footprint", `t`, `time`, `centre` [lat, lon]); `bbox` of both; the telemetry's
    standards, packet counts and time span in `properties`."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    bbox: list[float] | None = None
    features: list[Feature]
    properties: dict[str, Any] = {}


class TrackMap(BaseModel):
    """The tracks of the files matching the list's filters, for the main map: one LineString
    (at most 200 vertices) per file, its properties `id`, `path`, `context`, `campaign`,
    `kind`; `truncated`: more files matched than the 500 drawn (the newest are)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    truncated: bool = False


class WorkerOut(BaseModel):
    """A worker process of the distributed mode: its last heartbeat and what it has done."""

    name: str  # landrec@host/pid
    started_at: UtcDatetime
    last_seen: UtcDatetime  # every 30 s, busy or idle: far older means gone or stuck
    seen_s_ago: float
    indexed: int  # files given a final status
    failed: int  # of those, failed
    previews: int
    retagged: int
    doing: str | None  # the task running now


class Progress(BaseModel):
    """The distributed mode's progress."""

    queued: int  # pending files sent to the workers, not done yet
    queues: dict[str, int] | None  # messages waiting in the broker (null: it did not answer)
    previews: dict[str, int]  # renditions by status
    workers: list[WorkerOut]


class Stats(BaseModel):
    total: int
    pending: int
    context: dict[str, int]
    view: dict[str, int] = {}  # files per view the model saw them from (ground, overhead)
    kind: dict[str, int]
    status: dict[str, int]
    format: dict[str, int]
    distributed: Progress | None = None  # null in the embedded mode


class ContextIn(BaseModel):
    context: str = Field(min_length=1, max_length=64, examples=["glacier"])


class UploadAccepted(BaseModel):
    """An upload stored, not indexed yet: the watcher will find it."""

    path: str


class ErrorOut(BaseModel):
    """A refused or failed request (every 4xx but 422, and 5xx): why, in one line."""

    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]  # where: ("query", "bbox"), ("body", "context"), ...
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A 422: what is wrong with the request, one issue per parameter or field."""

    detail: list[ValidationIssue]


class LoginIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    """Who the request acts as; `csrf`: what a cookie-authenticated client sends back in the
    `X-CSRF-Token` header of every state-changing request."""

    name: str
    role: str  # viewer, editor or admin
    via: str  # open (no credential exists yet), token or session
    csrf: str | None = None


class AuditItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: UtcDatetime
    actor: str
    action: str
    target: str | None
    detail: str | None


class AuditPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[AuditItem]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    created_at: UtcDatetime


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    created_at: UtcDatetime
    last_used: UtcDatetime | None
    revoked_at: UtcDatetime | None
