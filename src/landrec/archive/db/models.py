"""The archive's tables (SQLAlchemy 2, typed). One schema for SQLite (embedded, WAL) and
PostgreSQL (distributed mode); Alembic migrations in `migrations/` create and evolve it.

A `files` row per file of the storage, keyed by a stable id; the current context is copied
onto the row (indexed, so the search filters stay fast at 100,000 rows); every model's tag is
kept in `tags`, video segments and multi-page details in `segments`, user corrections in
`corrections` (by content hash too, so a moved file keeps them). A file with navigation data
has a `tracks` row (its bounds, time span, platform, the GeoJSON served) and `track_points`
rows (the thinned points and every footprint corner: what the map's bbox search looks up).
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names: the same migrations on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC: PostgreSQL keeps the zone, SQLite does not, so every
    time is converted to UTC on the way in (a naive one is taken as UTC) and comes back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Status(str, enum.Enum):
    """Where a file stands: every file of the storage has one."""

    PENDING = "pending"  # seen, not processed yet (or changed since)
    INDEXED = "indexed"  # metadata and context extracted
    FAILED = "failed"  # could not be processed after the retries; `error` says why
    UNSUPPORTED = "unsupported"  # neither an image nor a video; `format` says what it is
    MISSING = "missing"  # was in the storage, is no longer


class Kind(str, enum.Enum):
    """What a row holds. A `track` is a file of navigation data alone (raw .klv, .gpx, a
    drone's .srt): indexed with its track, never classified (it has no pixels)."""

    IMAGE = "image"
    VIDEO = "video"
    TRACK = "track"
    OTHER = "other"

    @property
    def classified(self) -> bool:
        """Whether the model tags files of this kind."""
        return self in (Kind.IMAGE, Kind.VIDEO)


class Campaign(str, enum.Enum):
    """Where a file was shot from (`archive/campaign.py` gives the first guess; users correct)."""

    AIR = "air"
    LAND = "land"
    SEA = "sea"


class File(Base):
    __tablename__ = "files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), unique=True)  # relative, POSIX separators
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[float] = mapped_column(Float)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(8), default=Kind.OTHER.value, index=True)
    format: Mapped[str | None] = mapped_column(String(64), index=True)  # detected by content
    mime: Mapped[str | None] = mapped_column(String(128))  # the detected format's media type
    status: Mapped[str] = mapped_column(String(12), default=Status.PENDING.value, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    last_processed: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Distributed mode: when the row was sent to the broker (sent again once that looks lost)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    # Image and video content
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str | None] = mapped_column(String(16))  # Pillow mode, e.g. RGB, I;16, CMYK
    bit_depth: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int | None] = mapped_column(Integer)
    camera_make: Mapped[str | None] = mapped_column(String(128))
    camera_model: Mapped[str | None] = mapped_column(String(128), index=True)
    lens: Mapped[str | None] = mapped_column(String(128))
    taken_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    exposure_time: Mapped[float | None] = mapped_column(Float)
    f_number: Mapped[float | None] = mapped_column(Float)
    iso: Mapped[int | None] = mapped_column(Integer)
    focal_length: Mapped[float | None] = mapped_column(Float)
    orientation: Mapped[int | None] = mapped_column(Integer)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    altitude: Mapped[float | None] = mapped_column(Float)
    container: Mapped[str | None] = mapped_column(String(64))
    codec: Mapped[str | None] = mapped_column(String(64))
    duration_s: Mapped[float | None] = mapped_column(Float)
    fps: Mapped[float | None] = mapped_column(Float)
    rotation: Mapped[int | None] = mapped_column(Integer)
    thumbnail: Mapped[str | None] = mapped_column(String(80))  # file name in the thumbs folder
    extra: Mapped[dict | None] = mapped_column(JSON)  # other metadata, as read

    # The current context: the user's correction when there is one, else the model's tag
    context: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    model_context: Mapped[str | None] = mapped_column(String(64))  # the model's label, kept
    top_k: Mapped[list | None] = mapped_column(JSON)  # [{"label", "probability"}]
    model_version: Mapped[str | None] = mapped_column(String(128))
    corrected: Mapped[bool] = mapped_column(default=False)
    # Where the model saw it from (e.g. ground, overhead); None: a model without a view output
    view: Mapped[str | None] = mapped_column(String(64))
    view_confidence: Mapped[float | None] = mapped_column(Float)

    # Air, land or sea: the first rule's, or a user's (then `campaign_corrected`, kept on re-index)
    campaign: Mapped[str | None] = mapped_column(String(8), index=True)
    campaign_corrected: Mapped[bool] = mapped_column(default=False)

    segments: Mapped[list[Segment]] = relationship(
        back_populates="file", cascade="all, delete-orphan", order_by="Segment.index"
    )

    __table_args__ = (
        Index("ix_files_context_id", "context", "id"),
        Index("ix_files_view_id", "view", "id"),
        # the dispatcher's claim: pending rows not sent yet (or sent long ago), in id order
        Index("ix_files_status_queued_id", "status", "queued_at", "id"),
        Index("ix_files_lat_lon", "latitude", "longitude"),
    )


class Tag(Base):
    """One model's context for one file: every model version kept, the newest copied onto
    the file row once it is written (so a retag never leaves a file without a tag)."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(String(128))
    label: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    top_k: Mapped[list | None] = mapped_column(JSON)
    view: Mapped[str | None] = mapped_column(String(64))  # e.g. ground, overhead
    view_confidence: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("file_id", "model_version"),)


class Segment(Base):
    """A detail row of a file's context: a video segment (start/end seconds) or a page."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    page: Mapped[int | None] = mapped_column(Integer)
    context: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    view: Mapped[str | None] = mapped_column(String(64))  # e.g. ground, overhead
    view_confidence: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(128))
    # Where the sensor was and where it looked (the frame centre) at the segment's start
    sensor_latitude: Mapped[float | None] = mapped_column(Float)
    sensor_longitude: Mapped[float | None] = mapped_column(Float)
    frame_center_latitude: Mapped[float | None] = mapped_column(Float)
    frame_center_longitude: Mapped[float | None] = mapped_column(Float)

    file: Mapped[File] = relationship(back_populates="segments")


class Track(Base):
    """A file's navigation data, summarised: one row per file (replaced when it is indexed)."""

    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), unique=True)
    standards: Mapped[list] = mapped_column(JSON)  # ["MISB ST 0601", ...]
    packets: Mapped[int] = mapped_column(Integer)
    bad_packets: Mapped[int] = mapped_column(Integer)
    samples: Mapped[int] = mapped_column(Integer)  # before thinning
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    start_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    end_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    platform: Mapped[str | None] = mapped_column(String(128))
    sensor: Mapped[str | None] = mapped_column(String(128))
    geojson: Mapped[dict] = mapped_column(JSON)  # what GET /api/files/{id}/track returns
    line: Mapped[list | None] = mapped_column(JSON)  # <= 200 [lon, lat] vertices: the main map


class TrackPoint(Base):
    """A position of a file's track (a thinned point) or a corner of one of its footprints."""

    __tablename__ = "track_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    t: Mapped[float | None] = mapped_column(Float)  # seconds from the start of the media
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    footprint: Mapped[bool] = mapped_column(default=False)  # a footprint's corner

    __table_args__ = (Index("ix_track_points_lat_lon", "latitude", "longitude"),)


class RenditionKind(str, enum.Enum):
    """What a file's browser-ready rendition is: a video proxy (H.264/AAC MP4) or a still."""

    VIDEO = "video"
    STILL = "still"


class RenditionStatus(str, enum.Enum):
    """Where a file's rendition stands (a queue of its own, worked after tagging)."""

    PENDING = "pending"  # to be made (or made again: the file's content changed)
    RUNNING = "running"  # a worker claimed it; `progress` says how far it is
    READY = "ready"  # `name` in the previews folder
    FAILED = "failed"  # cannot be made; `error` says why
    ORIGINAL = "original"  # none needed: the browser shows the original as it is


class Rendition(Base):
    """A file's browser-ready rendition, named by its content hash in the previews folder."""

    __tablename__ = "renditions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), unique=True)
    sha256: Mapped[str | None] = mapped_column(String(64))  # the content it was (to be) made of
    kind: Mapped[str] = mapped_column(String(8))  # RenditionKind
    status: Mapped[str] = mapped_column(
        String(12), default=RenditionStatus.PENDING.value, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1 while running
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(80))  # relative to the previews folder
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Correction(Base):
    """A user's correction of a file's context; the model's label at that time kept beside."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    context: Mapped[str] = mapped_column(String(64))
    model_context: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Worker(Base):
    """A Celery worker process of the distributed mode: its heartbeat (written when a task
    starts and when it ends) and what it has done since it started."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)  # celery@host/child pid
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    indexed: Mapped[int] = mapped_column(BigInteger, default=0)  # files given a final status
    failed: Mapped[int] = mapped_column(BigInteger, default=0)  # of those, failed
    previews: Mapped[int] = mapped_column(BigInteger, default=0)
    retagged: Mapped[int] = mapped_column(BigInteger, default=0)
    doing: Mapped[str | None] = mapped_column(String(255))  # the task running now, if any


class Info(Base):
    """Facts about the archive itself (key -> value): the storage root it indexes, so that
    `retag` and `export-corrections` need only the database URL."""

    __tablename__ = "archive_info"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Role(str, enum.Enum):
    """What a user or a token may do; each role can do everything the ones before it can."""

    VIEWER = "viewer"  # search, view, download
    EDITOR = "editor"  # + upload, correct
    ADMIN = "admin"  # + users, tokens, retag, the audit log

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """True when this role may do what `needed` may."""
        return self.rank >= needed.rank


class Action(str, enum.Enum):
    """What an audit row records."""

    UPLOAD = "upload"
    CORRECT = "correct"
    RETAG = "retag"
    TOKEN_CREATE = "token-create"
    TOKEN_REVOKE = "token-revoke"
    USER_ADD = "user-add"
    LOGIN = "login"
    LOGIN_FAILED = "login-failed"
    LOGOUT = "logout"
    CAMPAIGN = "campaign"  # a user's correction of a file's campaign
    BULK = "bulk"  # one action on many files (POST /api/files/bulk): its target says which


class User(Base):
    """A person who logs in to the GUI: a name, an argon2 hash of the password, a role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Token(Base):
    """An API token for scripts (`Authorization: Bearer ...`): only its SHA-256 is kept."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginSession(Base):
    """A GUI login: the cookie's SHA-256, its user, its CSRF token and when it expires."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Audit(Base):
    """The audit log, append-only: who (a user's or token's name, `cli`) did what, when."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16), index=True)
    target: Mapped[str | None] = mapped_column(String(1024))
    detail: Mapped[str | None] = mapped_column(Text)
