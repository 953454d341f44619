"""The archive's own types, shared by the watcher, the scanner, the indexer and the database's
reads and writes: where a file is (`StoragePath`), how it was seen, and what indexing found.

A file's row `Kind` is made from its detected `MediaKind` by `kind_of`: an image, a video, a
`track` (a file of navigation data alone: raw .klv, .gpx, a drone's .srt; indexed with its
track, never given to the model: `Kind.classified` is False), or `other` (never indexed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landrec.api import MediaKind
from landrec.api.telemetry import Track
from landrec.archive.db.models import Campaign, Kind, RenditionKind, Status

UPLOAD_TEMP_PREFIX = ".upload-"  # an upload being received: a dot-file, skipped by every reader


@dataclass(frozen=True, order=True)
class StoragePath:
    """A file's place in the storage: its POSIX path relative to the storage root, as the
    `files.path` column holds it (never absolute, never `..`)."""

    posix: str

    def __post_init__(self) -> None:
        parts = self.posix.split("/")
        if self.posix.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"not a path inside the storage: {self.posix!r}")

    @classmethod
    def of(cls, root: Path, path: Path) -> StoragePath:
        """The storage path of `path`, an absolute path under `root` (ValueError if not)."""
        return cls(path.relative_to(root).as_posix())

    def absolute(self, root: Path) -> Path:
        """Where the file is on this machine, under the storage `root`."""
        return root.joinpath(*self.posix.split("/"))

    def resolve_in(self, root: Path) -> Path | None:
        """The file to read for this path: `absolute(root)` with its symbolic links resolved,
        or None when they lead out of `root` (see `inside_storage`)."""
        return resolved_inside(root, self.absolute(root))

    def is_file_in(self, root: Path) -> bool:
        """Whether a regular file of the storage `root` is at this path now."""
        path = self.resolve_in(root)
        return path is not None and path.is_file()

    @property
    def name(self) -> str:
        return self.posix.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return self.posix


def resolved_inside(root: Path, path: Path) -> Path | None:
    """`path` with its symbolic links resolved, or None when that is outside the storage
    `root`. The one rule of every reader of the storage (scanner, watcher, upload, indexer,
    API): a link that leads out of the storage is never followed, so nothing outside gets a row
    or is served."""
    try:
        real = path.resolve()
        return real if real.is_relative_to(root.resolve()) else None
    except (OSError, RuntimeError):  # a loop of links, an unreadable folder
        return None


def inside_storage(root: Path, path: Path) -> bool:
    """Whether `path`, its symbolic links resolved, is within the storage `root`."""
    return resolved_inside(root, path) is not None


def kind_of(media: MediaKind) -> Kind:
    """The row's kind of a detected file: image, video, track, or other for everything else."""
    kinds = {
        MediaKind.IMAGE: Kind.IMAGE,
        MediaKind.VIDEO: Kind.VIDEO,
        MediaKind.TELEMETRY: Kind.TRACK,
    }
    return kinds.get(media, Kind.OTHER)


@dataclass(frozen=True)
class Seen:
    """A file as a scan, the watcher or an upload saw it."""

    path: StoragePath
    size: int
    mtime: float


@dataclass(frozen=True)
class Job:
    """One pending row, read for processing."""

    id: int
    path: StoragePath
    size: int
    mtime: float
    sha256: str | None
    model_version: str | None
    error: str | None


@dataclass(frozen=True)
class RenditionJob:
    """A claimed rendition row: which file, of what content, and what the index knows of it."""

    id: int
    file_id: int
    path: StoragePath
    sha256: str
    kind: RenditionKind
    mime: str | None
    width: int | None  # as indexed (an image's stored pixels, before its EXIF orientation)
    height: int | None
    rotation: int | None  # a video's display rotation, clockwise degrees


@dataclass
class TagIn:
    model_version: str
    label: str | None  # "unknown" below the calibrated threshold
    confidence: float | None
    top_k: list[dict[str, Any]] = field(default_factory=list)
    view: str | None = None  # e.g. ground, overhead; None: the model tells no views apart
    view_confidence: float | None = None


@dataclass
class SegmentIn:
    index: int
    context: str | None
    confidence: float | None
    start_s: float | None = None
    end_s: float | None = None
    page: int | None = None
    view: str | None = None  # e.g. ground, overhead, where the model tells views apart
    view_confidence: float | None = None
    # Where the sensor was and the frame centre it looked at, at `start_s` (from the track)
    sensor_latitude: float | None = None
    sensor_longitude: float | None = None
    frame_center_latitude: float | None = None
    frame_center_longitude: float | None = None


@dataclass
class Outcome:
    """What processing one file found: a final status, metadata and the model's tag."""

    status: Status
    kind: Kind
    format: str | None
    sha256: str | None = None
    error: str | None = None
    mime: str | None = None  # the detected media type, served as the content's type
    fields: dict[str, Any] = field(default_factory=dict)  # File columns (width, latitude, ...)
    extra: dict[str, Any] | None = None
    thumbnail: str | None = None
    tag: TagIn | None = None
    segments: list[SegmentIn] = field(default_factory=list)
    track: Track | None = None  # the file's navigation data, summarised
    campaign: Campaign | None = None  # the first rule's (`archive/campaign.py`)
