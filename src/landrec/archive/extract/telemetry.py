"""Navigation data (`landrec.api.telemetry`): a video's KLV data stream, GPMF track or side
files (`stem.klv`, `.srt`, `.gpx`), and files of telemetry alone, summarised into a `Track`
(1 Hz points, footprints, bounds, time span) with the platform and sensor in `extra`.

A video's telemetry is a bonus: whatever is wrong with it, the video is still indexed, the
reason kept in `extra["telemetry_error"]`. A file of telemetry alone that cannot be read is
`failed` with the reason."""

from __future__ import annotations

import dataclasses
import logging

from landrec.api import MediaKind
from landrec.api.telemetry import TelemetryError, Track, read_telemetry, summarise
from landrec.archive.extract.metadata import ExtractError, Metadata, clean_text
from landrec.archive.extract.registry import Source

log = logging.getLogger(__name__)
TRACK_HZ = 1.0  # points a second; a TS's KLV is decoded at this rate too (all counted)
NAME_CHARS = 128  # longest platform designation or sensor name kept (the tracks' columns)


class TelemetryExtractor:
    """The track of a video or of a telemetry file (raw .klv, .gpx, a drone's .srt)."""

    name = "telemetry"
    kinds = frozenset({MediaKind.VIDEO, MediaKind.TELEMETRY})

    def extract(self, source: Source) -> Metadata:
        alone = source.format.kind is MediaKind.TELEMETRY
        try:
            track = summarise(read_telemetry(source.path, every_s=1 / TRACK_HZ), TRACK_HZ)
        except TelemetryError as exc:
            if alone:
                raise ExtractError(exc.reason) from None
            return Metadata(extra={"telemetry_error": clean_text(exc.reason)})
        except Exception as exc:  # a reader's defect on odd bytes never fails a video
            log.exception("reading the telemetry of %s", source.path)
            if alone:
                raise ExtractError(f"unreadable telemetry: {type(exc).__name__}") from None
            return Metadata(extra={"telemetry_error": f"{type(exc).__name__}: {exc}"[:200]})
        if not track.points and not track.footprints:
            if alone:
                found = f"{track.packets} packets, {track.bad_packets} bad"
                raise ExtractError(f"no position in its telemetry ({found})")
            return Metadata(extra=_extra(track) if track.packets else {})
        return Metadata(extra=_extra(track), track=_cleaned(track))


def _cleaned(track: Track) -> Track:
    """The track with its platform and sensor as printable text (a stream's bytes may hold
    NUL, which PostgreSQL's JSON refuses), cut to the columns' length."""
    platform, sensor = clean_text(track.platform, NAME_CHARS), clean_text(track.sensor, NAME_CHARS)
    return dataclasses.replace(track, platform=platform, sensor=sensor)


def _extra(track: Track) -> dict[str, object]:
    """What the file's `extra` keeps of its telemetry."""
    return {
        "platform": clean_text(track.platform, NAME_CHARS),
        "sensor": clean_text(track.sensor, NAME_CHARS),
        "telemetry_standards": [s.value for s in track.standards],
        "telemetry_packets": track.packets,
        "telemetry_bad_packets": track.bad_packets,
    }
