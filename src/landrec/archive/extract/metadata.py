"""What an extractor returns (`Metadata`), the one error it raises (`ExtractError`), and the
value cleaners the extractors share: every odd value becomes None, never an exception."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from numbers import Rational

from landrec.api.telemetry import Track

# Longest text each File column holds (see archive/db/models.py); longer values are cut.
COLUMN_CHARS = {
    "mode": 16,
    "camera_make": 128,
    "camera_model": 128,
    "lens": 128,
    "container": 64,
    "codec": 64,
}
EXTRA_CHARS = 200  # longest text kept in `extra`
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # NUL and friends (PostgreSQL JSON refuses \0)
_DATE = re.compile(r"(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})$|Z$")


class ExtractError(Exception):
    """A file whose metadata or thumbnail cannot be read; the message (one line) says why."""

    def __init__(self, reason: str) -> None:
        self.reason = " ".join(str(reason).split()) or "unknown error"
        super().__init__(self.reason)


# Every File column an extractor fills; each Metadata carries them all (None where unknown).
FIELD_NAMES = (
    "width",
    "height",
    "mode",
    "bit_depth",
    "pages",
    "camera_make",
    "camera_model",
    "lens",
    "taken_at",
    "exposure_time",
    "f_number",
    "iso",
    "focal_length",
    "orientation",
    "latitude",
    "longitude",
    "altitude",
    "container",
    "codec",
    "duration_s",
    "fps",
    "rotation",
)


@dataclass
class Metadata:
    """Fields keyed by File column names (None where unknown), JSON-safe extras, the
    thumbnail's name in the thumbs folder (an extractor that makes one), and the file's track
    (the telemetry extractor's)."""

    fields: dict[str, object] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)
    thumbnail: str | None = None
    track: Track | None = None

    def merge(self, other: Metadata) -> None:
        """Add what another extractor found; where both give a value, `other`'s wins."""
        self.fields.update(other.fields)
        self.extra.update(other.extra)
        self.thumbnail = other.thumbnail or self.thumbnail
        self.track = other.track or self.track


def empty_fields() -> dict[str, object]:
    """Every field name, each None."""
    return dict.fromkeys(FIELD_NAMES)


def clean_text(value: object, limit: int = EXTRA_CHARS) -> str | None:
    """Printable text of a str/bytes value, cut to `limit` characters; None when empty."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = _CONTROL.sub("", value).strip()
    return text[:limit] or None


def to_float(value: object) -> float | None:
    """A finite float from a number, Fraction or IFDRational (or the first of a sequence)."""
    if isinstance(value, tuple | list) and value:
        value = value[0]  # some writers store one value as a list of one
    if not isinstance(value, float | Rational) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, ArithmeticError):  # IFDRational(1, 0) and friends
        return None
    return number if math.isfinite(number) else None


def to_int(value: object) -> int | None:
    """An int from an integer-valued number (or the first of a tuple, as EXIF ISO can be)."""
    number = to_float(value)
    if number is None or abs(number) > 2**53:
        return None
    return round(number)


def parse_offset(text: object) -> timezone | None:
    """A fixed zone from "+02:00", "-0500" or "Z"; None when absent or malformed."""
    text = clean_text(text)
    match = _OFFSET.search(text) if text else None
    if match is None:
        return None
    if match.group(0) == "Z":
        return timezone.utc
    sign = -1 if match.group(1) == "-" else 1
    hours, minutes = int(match.group(2)), int(match.group(3))
    if hours > 23 or minutes > 59:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_datetime(text: object, zone: timezone | None = None) -> datetime | None:
    """An aware datetime of an EXIF or ISO 8601 date-time; None for blanks and bad dates."""
    # "YYYY:MM:DD HH:MM:SS[.ffffff][zone]": the zone in the text wins, then `zone`, then UTC.
    text = clean_text(text)
    match = _DATE.search(text) if text else None
    if match is None or text is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    micro = int((match.group(7) or "0").ljust(6, "0"))
    tail = text[match.end() :].strip()
    tzinfo = parse_offset(tail) if tail else None
    try:
        return datetime(
            year, month, day, hour, minute, second, micro, tzinfo or zone or timezone.utc
        )
    except (ValueError, OverflowError):
        return None  # "0000:00:00 00:00:00", month 13 and the like


def json_value(value: object) -> object:
    """A JSON-safe value for `extra` (text, finite number, short list); None for blobs."""
    if isinstance(value, tuple | list):
        items = [json_value(item) for item in value[:8]]
        return items if items and len(value) <= 8 and None not in items else None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else None
    if isinstance(value, str | bytes):
        if isinstance(value, bytes) and not value.isascii():
            return None  # binary blobs (MakerNote, thumbnails): never stored
        return clean_text(value)
    number = to_float(value)
    if number is not None:
        return round(number, 6)
    return None


def valid_position(
    latitude: float | None, longitude: float | None, altitude: float | None
) -> dict[str, float | None]:
    """latitude/longitude/altitude fields; all None when the position is out of range."""
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        return {"latitude": None, "longitude": None, "altitude": None}
    return {"latitude": latitude, "longitude": longitude, "altitude": altitude}
