"""Files that hold navigation data alone, told by their first bytes: raw KLV, GPX, a drone's SRT.

`landrec.data.sniff` asks this module before Pillow, and `read_telemetry` picks its reader by the
media type found here, so the two never disagree. Pure Python: no Pillow, no PyAV.
"""

from __future__ import annotations

import re

from landrec.data import klv
from landrec.data.formats import Format, MediaKind
from landrec.data.telemetry import eg0104

KLV_MIME = "application/x-klv"
GPX_MIME = "application/gpx+xml"
SUBRIP_MIME = "application/x-subrip"
HEAD_BYTES = klv.SNIFF_BYTES  # a KLV key is looked for this far in

_SRT_CUE = re.compile(r"\A\s*\d+\s*\r?\n\s*\d+:\d\d:\d\d[,.]\d+\s*-->")
# what a drone writes in its subtitles: "[latitude: 34.68]", "GPS(149.02,-20.25,16)", "HOME(...)"
_DRONE_SRT = re.compile(r"latitude|\bgps\s*[(:]|\bhome\s*\(", re.IGNORECASE)


def _klv(head: bytes) -> Format | None:
    """KLV metadata when a key of either standard is within the head (the earlier one names it)."""
    found = [
        (at, name)
        for key, name in ((klv.UAS_LS_KEY, "MISB ST 0601"), (eg0104.SET_KEY, "MISB EG 0104"))
        if (at := head.find(key, 0, HEAD_BYTES)) >= 0
    ]
    if not found:
        return None
    return Format(MediaKind.TELEMETRY, f"KLV metadata ({min(found)[1]})", KLV_MIME)


def _text(head: bytes) -> Format | None:
    """GPX or SRT subtitles (drone telemetry, or plain subtitles) when the head is such text."""
    if b"\x00" in head:
        return None
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
    if "<gpx" in text[:HEAD_BYTES].lower():
        return Format(MediaKind.TELEMETRY, "GPX track", GPX_MIME)
    if not _SRT_CUE.match(text):
        return None
    if _DRONE_SRT.search(text):
        return Format(MediaKind.TELEMETRY, "SRT subtitles (drone telemetry)", SUBRIP_MIME)
    return Format(MediaKind.UNSUPPORTED, "SRT subtitles", SUBRIP_MIME)


def telemetry_format(head: bytes) -> Format | None:
    """The format of a file of navigation data alone, by its first bytes; None for others."""
    return _klv(head) or _text(head)
