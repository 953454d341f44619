"""`read_telemetry`: the navigation data of any file, whatever carries it, and of its side files.

The reader is chosen by content, never by extension: an MPEG transport stream (sync byte every
188 bytes) is read for its KLV data streams, an MP4/QuickTime file for its GoPro GPMF track, and
the files of navigation data alone (raw KLV, GPX, SRT: `detect.telemetry_format`) by their own
reader. Any other file has no telemetry of its own: an empty `Telemetry`, not an error.

Side files: a video's navigation data often lies beside it under the same stem (a DJI clip's
`DJI_0001.SRT`, a KLV recorder's `flight.klv` next to `flight.mp4`); `read_telemetry` adds them
to the file's own unless the file is itself such a side file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from landrec.data.errors import InputNotFoundError
from landrec.data.telemetry.detect import (
    GPX_MIME,
    HEAD_BYTES,
    KLV_MIME,
    SUBRIP_MIME,
    telemetry_format,
)
from landrec.data.telemetry.rawklv import read_klv
from landrec.data.telemetry.types import Telemetry

SIDE_EXTENSIONS = (".klv", ".srt", ".gpx")  # matched whatever their case
QUICKTIME_ATOMS = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"})
TS_MIME = "video/mp2t"
MP4_MIME = "video/mp4"

Reader = Callable[[Path, float | None], Telemetry]  # (path, every_s) -> its telemetry


def _read_mpegts(path: Path, every_s: float | None) -> Telemetry:
    from landrec.data.telemetry.mpegts import read_mpegts  # PyAV: imported when a TS comes

    return read_mpegts(path, every_s)


def _read_gpmf(path: Path, every_s: float | None) -> Telemetry:
    from landrec.data.telemetry.gpmf import read_gpmf

    return read_gpmf(path)  # a few GPS fixes a second: cheap to decode whole


def _read_klv(path: Path, every_s: float | None) -> Telemetry:
    return read_klv(path)  # no media time to thin by


def _read_gpx(path: Path, every_s: float | None) -> Telemetry:
    from landrec.data.telemetry.gpx import read_gpx

    return read_gpx(path)


def _read_srt(path: Path, every_s: float | None) -> Telemetry:
    from landrec.data.telemetry.srt import read_srt

    return read_srt(path)


READERS: dict[str, Reader] = {
    TS_MIME: _read_mpegts,
    MP4_MIME: _read_gpmf,
    KLV_MIME: _read_klv,
    GPX_MIME: _read_gpx,
    SUBRIP_MIME: _read_srt,
}
SIDE_MIMES = frozenset({KLV_MIME, GPX_MIME, SUBRIP_MIME})  # files that get no side files


def _transport_stream(head: bytes) -> bool:
    """MPEG-TS (sync byte every 188 bytes) or M2TS (4-byte prefix, every 192)."""
    ts = len(head) > 376 and head[0] == head[188] == head[376] == 0x47
    m2ts = len(head) > 388 and head[4] == head[196] == head[388] == 0x47
    return ts or m2ts


def media_type(head: bytes) -> str | None:
    """The media type of a file with telemetry of its own (a TS, an MP4, KLV, GPX, SRT), by its
    first bytes; None for any other."""
    if _transport_stream(head):
        return TS_MIME
    if head[4:8] in QUICKTIME_ATOMS:
        return MP4_MIME
    found = telemetry_format(head)
    return found.mime if found else None


def side_files_of(path: Path) -> list[Path]:
    """The files beside `path` named its stem plus .klv, .srt or .gpx, the extension in any case
    (`flight.KLV`, `DJI_0001.SRT`), ordered by extension as listed, then by name. A symbolic
    link is not a side file: the archive never reads outside its storage through one."""
    wanted = {
        (path.stem + extension).lower(): rank for rank, extension in enumerate(SIDE_EXTENSIONS)
    }
    found: list[tuple[int, str]] = []
    try:
        with os.scandir(path.parent) as entries:
            for entry in entries:
                rank = wanted.get(entry.name.lower())
                if (
                    rank is not None
                    and entry.name != path.name
                    and entry.is_file(follow_symlinks=False)
                ):
                    found.append((rank, entry.name))
    except OSError:
        return []
    return [path.with_name(name) for _, name in sorted(found)]


def _read_own(path: Path, every_s: float | None = None) -> tuple[Telemetry, str | None]:
    """The telemetry of `path` itself, and its media type (None: no telemetry format)."""
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
    except FileNotFoundError as exc:
        raise InputNotFoundError(f"{path}: no such file") from exc
    mime = media_type(head)
    reader = READERS.get(mime) if mime else None
    if reader is None:
        return Telemetry(path=path, sources=[path]), mime
    return reader(path, every_s), mime


def read_telemetry(path: Path, side_files: bool = True, every_s: float | None = None) -> Telemetry:
    """Every sample of `path` (a TS's KLV streams, an MP4's GPMF, a .klv, .gpx or drone .srt),
    and, with `side_files`, of the side files beside a file that is not itself one. `every_s`:
    a transport stream's KLV decoded at most once per this many seconds of media time (and its
    last packet), every packet still counted: all that a track at 1/every_s Hz needs."""
    telemetry, mime = _read_own(Path(path), every_s)
    if side_files and mime not in SIDE_MIMES:
        for side in side_files_of(Path(path)):
            telemetry.add(_read_own(side, every_s)[0])
    return telemetry
