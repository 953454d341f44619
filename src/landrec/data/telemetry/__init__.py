"""Navigation data of media files: MISB ST 0601 / EG 0104 KLV (MPEG-TS data streams, raw .klv),
GoPro GPMF, drone .srt, .gpx; read into one `Telemetry` and reduced to a `Track`."""

from landrec.data.telemetry.errors import TelemetryError
from landrec.data.telemetry.read import read_telemetry, side_files_of
from landrec.data.telemetry.track import Bounds, Footprint, Track, TrackPoint, summarise
from landrec.data.telemetry.types import CARRIER, MEDIA_TIME, Carrier, Standard, Telemetry

__all__ = [
    "CARRIER",
    "MEDIA_TIME",
    "Bounds",
    "Carrier",
    "Footprint",
    "Standard",
    "Telemetry",
    "TelemetryError",
    "Track",
    "TrackPoint",
    "read_telemetry",
    "side_files_of",
    "summarise",
]
