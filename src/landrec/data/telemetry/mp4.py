"""Just enough ISO BMFF (MP4, MOV) to find a timed-metadata track's samples without decoding
any video: where each sample of the track lies in the file and when it plays.

The path is moov/trak/mdia/{mdhd (timescale), hdlr (handler), minf/stbl/{stsd (the sample
entry's four-character code, e.g. `gpmd`), stts (durations), stsc (samples per chunk), stsz
(sizes), stco|co64 (chunk offsets)}}. Edit lists are ignored: a sample's time is its decode
time in the track's own timeline, which is the media time for GoPro's files.

A file with no `moov` (not an MP4, or one cut before its index was written) has no tracks;
sample tables that contradict themselves raise `Mp4Error`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAX_MOOV = 256 * 1024 * 1024  # a 12-hour GoPro file's index is a few MB
MAX_SAMPLES = 50_000_000  # a day of 500 Hz samples; more is a corrupt count


class Mp4Error(ValueError):
    """The sample tables of a track are inconsistent or cut short."""


@dataclass(frozen=True, slots=True)
class MediaSample:
    """One sample of a track: when it plays (seconds) and where its bytes are."""

    start_s: float
    duration_s: float
    offset: int
    size: int


@dataclass(frozen=True)
class TrackTable:
    """A track's sample entry code, handler and samples in decode order."""

    codec: bytes  # b"gpmd"
    handler: bytes  # b"meta"
    timescale: int
    samples: tuple[MediaSample, ...]


def tracks(file: BinaryIO, codec: bytes) -> list[TrackTable]:
    """The tracks of an open MP4 whose sample entry is `codec`; [] if it has no `moov`."""
    moov = _read_moov(file)
    if moov is None:
        return []
    found = []
    for kind, start, end in _boxes(moov, 0, len(moov)):
        if kind == b"trak":
            table = _track(moov, start, end, codec)
            if table is not None:
                found.append(table)
    return found


def _read_moov(file: BinaryIO) -> bytes | None:
    """The payload of the top-level `moov` box, read by seeking from box to box."""
    file.seek(0, 2)
    size_of_file = file.tell()
    pos = 0
    while pos + 8 <= size_of_file:
        file.seek(pos)
        header = file.read(16)
        size, kind = struct.unpack_from(">I4s", header)
        skip = 8
        if size == 1 and len(header) == 16:
            (size,) = struct.unpack_from(">Q", header, 8)
            skip = 16
        elif size == 0:
            size = size_of_file - pos
        if size < skip or pos + size > size_of_file:
            return None  # not a box: not an MP4, or a file cut short before its moov
        if kind == b"moov":
            if size > MAX_MOOV:
                raise Mp4Error(f"moov of {size} bytes is larger than {MAX_MOOV}")
            file.seek(pos + skip)
            return file.read(size - skip)
        pos += size
    return None


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        skip = 8
        if size == 1:
            if pos + 16 > end:
                raise Mp4Error(f"box {kind!r} cut short")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            skip = 16
        elif size == 0:
            size = end - pos
        if size < skip or pos + size > end:
            raise Mp4Error(f"box {kind!r} of {size} bytes runs past its parent")
        yield kind, pos + skip, pos + size
        pos += size


def _children(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """The first box of each type in data[start:end], by type."""
    found: dict[bytes, tuple[int, int]] = {}
    for kind, s, e in _boxes(data, start, end):
        found.setdefault(kind, (s, e))
    return found


def _path(data: bytes, start: int, end: int, *names: bytes) -> tuple[int, int] | None:
    for name in names:
        box = _children(data, start, end).get(name)
        if box is None:
            return None
        start, end = box
    return start, end


def _track(data: bytes, start: int, end: int, codec: bytes) -> TrackTable | None:
    """The samples of one `trak` if its sample entry is `codec`; None if it is not, or if
    it is too broken to tell (another track's damage must not hide the one sought)."""
    try:
        mdia = _path(data, start, end, b"mdia")
        stbl = mdia and _path(data, *mdia, b"minf", b"stbl")
        boxes = _children(data, *stbl) if stbl else {}
        if mdia is None or b"stsd" not in boxes or _entry_code(data, *boxes[b"stsd"]) != codec:
            return None
    except Mp4Error:
        return None
    media = _children(data, *mdia)
    if b"mdhd" not in media:
        raise Mp4Error("track without mdhd")
    try:
        timescale = _timescale(data, *media[b"mdhd"])
        handler = _handler(data, *media[b"hdlr"]) if b"hdlr" in media else b""
        samples = _samples(data, boxes, timescale)
    except struct.error as error:
        raise Mp4Error(f"sample table cut short: {error}") from error
    return TrackTable(codec, handler, timescale, samples)


def _entry_code(data: bytes, start: int, end: int) -> bytes | None:
    entries = list(_boxes(data, start + 8, end))  # after version/flags and entry count
    return entries[0][0] if entries else None


def _timescale(data: bytes, start: int, end: int) -> int:
    version = data[start]
    (timescale,) = struct.unpack_from(">I", data, start + (20 if version == 1 else 12))
    if timescale == 0:
        raise Mp4Error("mdhd timescale is 0")
    return int(timescale)


def _handler(data: bytes, start: int, end: int) -> bytes:
    return bytes(data[start + 8 : start + 12])


def _table(data: bytes, box: tuple[int, int], fmt: str) -> list[tuple[int, ...]]:
    """The entries of a full box laid out as version/flags, entry count, entries."""
    start, end = box
    (count,) = struct.unpack_from(">I", data, start + 4)
    size = struct.calcsize(fmt)
    if start + 8 + count * size > end:
        raise Mp4Error(f"{count} entries do not fit their box")
    return [struct.unpack_from(fmt, data, start + 8 + i * size) for i in range(count)]


def _samples(
    data: bytes, boxes: dict[bytes, tuple[int, int]], timescale: int
) -> tuple[MediaSample, ...]:
    if b"stsz" not in boxes or b"stsc" not in boxes or b"stts" not in boxes:
        raise Mp4Error("track without stsz, stsc or stts")
    sizes = _sizes(data, *boxes[b"stsz"])
    offsets = _offsets(data, boxes, sizes)
    times = _times(data, boxes[b"stts"], len(sizes))
    return tuple(
        MediaSample(t / timescale, d / timescale, o, s)
        for (t, d), o, s in zip(times, offsets, sizes, strict=True)
    )


def _sizes(data: bytes, start: int, end: int) -> list[int]:
    fixed, count = struct.unpack_from(">II", data, start + 4)
    if count > MAX_SAMPLES:
        raise Mp4Error(f"stsz counts {count} samples")
    if fixed:
        return [fixed] * count
    if start + 12 + 4 * count > end:
        raise Mp4Error(f"stsz's {count} sizes do not fit their box")
    return list(struct.unpack_from(f">{count}I", data, start + 12))


def _offsets(data: bytes, boxes: dict[bytes, tuple[int, int]], sizes: list[int]) -> list[int]:
    """Each sample's file offset: its chunk's offset plus the sizes before it in the chunk."""
    if b"co64" in boxes:
        chunks = [c for (c,) in _table(data, boxes[b"co64"], ">Q")]
    elif b"stco" in boxes:
        chunks = [c for (c,) in _table(data, boxes[b"stco"], ">I")]
    else:
        raise Mp4Error("track without stco or co64")
    runs = _table(data, boxes[b"stsc"], ">III")  # first chunk (1-based), samples per chunk, entry
    count = len(sizes)
    offsets: list[int] = []
    for i, (first, per_chunk, _) in enumerate(runs):
        last = runs[i + 1][0] - 1 if i + 1 < len(runs) else len(chunks)
        for chunk in range(first - 1, min(last, len(chunks))):
            pos = chunks[chunk]
            for _ in range(per_chunk):
                if len(offsets) == count:
                    return offsets
                offsets.append(pos)
                pos += sizes[len(offsets) - 1]
    if len(offsets) != count:
        raise Mp4Error(f"chunks hold {len(offsets)} of {count} samples")
    return offsets


def _times(data: bytes, box: tuple[int, int], count: int) -> list[tuple[int, int]]:
    """(decode time, duration) of each sample, in the track's timescale."""
    times: list[tuple[int, int]] = []
    now = 0
    for run, delta in _table(data, box, ">II"):
        for _ in range(min(run, count - len(times))):
            times.append((now, delta))
            now += delta
    if len(times) != count:
        raise Mp4Error(f"stts times {len(times)} of {count} samples")
    return times
