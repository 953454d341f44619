"""What the GPMF, SRT and GPX readers share: the time stamp text and a size-capped read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from landrec.data.telemetry.errors import TelemetryError


def iso_utc(stamp: dt.datetime) -> str:
    """A UTC datetime as a sample's `precision_time_stamp` ("2024-05-01T10:00:00.000000Z")."""
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def read_capped(path: Path, limit: int) -> bytes:
    """The bytes of `path`; TelemetryError if it is larger than `limit`."""
    with path.open("rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise TelemetryError(path, f"larger than {limit:,} bytes, the most read")
    return data
