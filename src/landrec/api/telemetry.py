"""Navigation data of media files, for the archive: read a file's telemetry (KLV in MPEG-TS,
raw KLV, GoPro GPMF, drone .srt, .gpx and the side files of a video) and reduce it to a `Track`.

Cheap to import (no torch): the archive's telemetry extractor reaches the data layer here.
"""

from __future__ import annotations

from landrec.data.telemetry import (
    Footprint,
    Standard,
    TelemetryError,
    Track,
    TrackPoint,
    read_telemetry,
    summarise,
)

__all__ = [
    "Footprint",
    "Standard",
    "TelemetryError",
    "Track",
    "TrackPoint",
    "read_telemetry",
    "summarise",
]
