"""What telemetry reading returns, whatever carried it (MPEG-TS KLV, a raw .klv stream, EG 0104,
GoPro GPMF, a drone's .srt, a .gpx): one `Telemetry` of samples named as in MISB ST 0601.

A sample is a dict of the standard's snake_case names (`landrec.data.klv.TAGS`): degrees,
metres, `precision_time_stamp` as ISO 8601 UTC text. Every reader adds two keys of its own:
- `media_time_s`: seconds from the start of the media the sample belongs to (a packet's PTS
  in a TS, the subtitle's start in an .srt, the GPMF payload's time); None where unknown (a raw
  .klv stream, a .gpx: the track module then counts from the first time stamp).
- `carrier`: which `Carrier` it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from landrec.data.klv import Sample

MEDIA_TIME = "media_time_s"
CARRIER = "carrier"


class Standard(str, Enum):
    """The standards (or de-facto formats) a file's telemetry was decoded from."""

    ST0601 = "MISB ST 0601"
    EG0104 = "MISB EG 0104"
    GPMF = "GoPro GPMF"
    DJI_SRT = "DJI SRT"
    GPX = "GPX"

    @property
    def airborne(self) -> bool:
        """Whether a file carrying it was shot from the air (the campaign rule's first step):
        KLV and drone subtitles are; a GoPro or a GPX track may be anything."""
        return self in (Standard.ST0601, Standard.EG0104, Standard.DJI_SRT)


class Carrier(str, Enum):
    """Where the samples were found."""

    MPEG_TS = "mpeg-ts"  # a KLV data stream of a transport stream (STANAG 4609)
    RAW_KLV = "raw-klv"  # a file of back-to-back KLV packets
    GPMF = "gpmf"  # the GoPro metadata track of an MP4
    SRT = "srt"  # a drone's subtitle file
    GPX = "gpx"  # a GPS exchange file


@dataclass
class Telemetry:
    """Every sample of one file (and of the side files attached to it), in stream order."""

    path: Path
    standards: list[Standard] = field(default_factory=list)
    packets: int = 0  # decoded packets (or GPS fixes), bad checksums included
    bad_packets: int = 0  # checksum failures + truncated/corrupt packets
    samples: list[Sample] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)  # the files read: the media, side files

    def add(self, other: Telemetry) -> None:
        """Append another reader's result (a side file's, another data stream's)."""
        for standard in other.standards:
            if standard not in self.standards:
                self.standards.append(standard)
        self.packets += other.packets
        self.bad_packets += other.bad_packets
        self.samples.extend(other.samples)
        self.sources.extend(s for s in other.sources if s not in self.sources)

    def __bool__(self) -> bool:
        return bool(self.samples) or self.packets > 0 or self.bad_packets > 0
