"""What detection tells of a file (`data/sniff.py` finds it): its kind, format and media type.

Kept apart from the detector, which imports Pillow: `landrec.api` names these types, and every
command imports `landrec.api` at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

NOT_FOUND = "no such file or directory"


class MediaKind(str, Enum):
    """What a file holds, as far as landrec is concerned."""

    IMAGE = "image"
    VIDEO = "video"
    TELEMETRY = "telemetry"  # navigation data alone: raw KLV, GPX, a drone's SRT
    UNSUPPORTED = "unsupported"  # readable, but neither an image nor a video
    UNREADABLE = "unreadable"  # empty, not a regular file, or not readable
    MISSING = "missing"  # a named path that does not exist


@dataclass(frozen=True)
class Format:
    """A detected format: its kind, its name for people and its media (MIME) type."""

    kind: MediaKind
    name: str  # "JPEG image", "MP4/QuickTime video", "PDF document", "text", "unknown", or why
    mime: str | None = None  # "image/jpeg", ...; None where no media type is known


@dataclass(frozen=True)
class Detected:
    path: Path
    format: Format

    @property
    def kind(self) -> MediaKind:
        return self.format.kind

    @property
    def what(self) -> str:
        """The format's name for people, or why the file cannot be read."""
        return self.format.name

    @property
    def mime(self) -> str | None:
        return self.format.mime

    @property
    def error(self) -> str | None:
        """Why the file gets no label; None for images and videos."""
        if self.kind in (MediaKind.IMAGE, MediaKind.VIDEO):
            return None
        if self.kind is MediaKind.UNSUPPORTED:
            return f"unsupported format ({self.what})"
        if self.kind is MediaKind.TELEMETRY:
            return f"telemetry, not an image or video ({self.what})"
        return self.what
