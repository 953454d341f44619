"""GoPro GPMF: the GPS track of the `gpmd` metadata track of a GoPro MP4.

Each sample of the track (a payload, about one second) is GPMF KLV: a four-character key, a
type byte, a struct size byte and a 16-bit repeat count, then size x repeat bytes padded to
4; type 0 nests more KLV (DEVC > STRM > items). A GPS stream holds sticky properties first
(SCAL divisors, GPSU UTC time, GPSF fix, GPSP precision) and then its samples:
- GPS5 (HERO5-HERO10): int32 latitude, longitude, altitude, 2D and 3D speed, divided by SCAL.
  The n samples share the payload's time span: sample i plays at start + i * duration / n and
  was taken at GPSU + i * duration / n. GPSF 0 (no fix) drops the stream's samples.
- GPS9 (HERO11 and later): TYPE "lllllllSS": latitude, longitude, altitude, 2D and 3D speed,
  days since 2000-01-01, seconds of the day, DOP and fix, each divided by SCAL; each sample
  carries its own UTC time and fix. Where a payload has GPS9, its GPS5 is the same fixes, so
  it is not read.

The MP4 is never decoded: `mp4.tracks` finds the track's samples from the file's index.
`packets` counts the payloads read; a payload whose KLV runs past its end, or whose GPS
items do not have the layout above, is counted in `bad_packets` and skipped whole.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from landrec.data.klv import Sample
from landrec.data.telemetry.common import iso_utc
from landrec.data.telemetry.mp4 import MediaSample, Mp4Error, tracks
from landrec.data.telemetry.types import CARRIER, MEDIA_TIME, Carrier, Standard, Telemetry

CODEC = b"gpmd"
MAX_PAYLOAD = 16 * 1024 * 1024  # GoPro writes ~10 kB a second
MAX_DEPTH = 8  # GoPro nests two levels (DEVC > STRM); deeper is a corrupt payload
GPS_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
# GPMF type characters that are numbers, as struct formats (big-endian).
_NUMBERS = {
    "b": "b",
    "B": "B",
    "s": "h",
    "S": "H",
    "l": "i",
    "L": "I",
    "j": "q",
    "J": "Q",
    "f": "f",
    "d": "d",
    "q": "i",  # Q15.16 fixed point
    "Q": "q",  # Q31.32 fixed point
}
_FIXED_POINT = {"q": 1 / 65536, "Q": 1 / 2**32}


class GpmfError(ValueError):
    """A payload that is not well-formed GPMF."""


@dataclass(frozen=True)
class Item:
    """One GPMF KLV item: its value bytes, or its children when it nests (type "\\0")."""

    key: str
    type: str
    size: int
    repeat: int
    value: bytes = b""
    children: tuple[Item, ...] = ()


def read_gpmf(path: Path) -> Telemetry:
    """The GPS samples of the GPMF track of the MP4 at `path`; empty if it has none."""
    telemetry = Telemetry(path, sources=[path])
    with path.open("rb") as file:
        try:
            found = tracks(file, CODEC)
        except Mp4Error:
            telemetry.bad_packets += 1  # a gpmd track whose index cannot be read
            return telemetry
        for track in found:
            telemetry.standards = [Standard.GPMF]
            for media in track.samples:
                _read_payload(file, media, telemetry)
    return telemetry


def _read_payload(file: BinaryIO, media: MediaSample, telemetry: Telemetry) -> None:
    telemetry.packets += 1
    try:
        if media.size > MAX_PAYLOAD:
            raise GpmfError(f"payload of {media.size} bytes")
        file.seek(media.offset)
        data = file.read(media.size)
        if len(data) != media.size:
            raise GpmfError("payload runs past the end of the file")
        telemetry.samples.extend(gps_samples(parse(data), media.start_s, media.duration_s))
    except (ValueError, OverflowError, struct.error):  # GpmfError, or numbers no date can hold
        telemetry.bad_packets += 1


def parse(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> tuple[Item, ...]:
    """The KLV items of data[start:end] (nested ones with their children)."""
    end = len(data) if end is None else end
    if depth > MAX_DEPTH:
        raise GpmfError(f"items nested deeper than {MAX_DEPTH} levels")
    items = []
    pos = start
    while pos + 8 <= end:
        key, type_, size, repeat = struct.unpack_from(">4sBBH", data, pos)
        if key == b"\0\0\0\0":
            break  # zero padding ends a payload
        if not all(0x20 <= c <= 0x7E for c in key):
            raise GpmfError(f"key {key!r} at byte {pos} is not a four-character code")
        body, length = pos + 8, size * repeat
        if body + length > end:
            raise GpmfError(f"{key.decode()} at byte {pos} runs past its container")
        if type_ == 0:
            children = parse(data, body, body + length, depth + 1)
            items.append(Item(key.decode(), "\0", size, repeat, children=children))
        else:
            value = bytes(data[body : body + length])
            items.append(Item(key.decode(), chr(type_), size, repeat, value))
        pos = body + (length + 3) // 4 * 4
    if any(data[pos:end]):
        raise GpmfError(f"{end - pos} stray bytes at byte {pos}")
    return tuple(items)


def numbers(item: Item, layout: str = "") -> list[tuple[float, ...]]:
    """One tuple of numbers per repeat of `item`; `layout` is the TYPE of a "?" item."""
    if item.type == "?":
        if not layout or any(c not in _NUMBERS for c in layout):
            raise GpmfError(f"{item.key} has no numeric TYPE ({layout!r})")
        fmt = ">" + "".join(_NUMBERS[c] for c in layout)
        factors = [_FIXED_POINT.get(c, 1.0) for c in layout]
    elif item.type in _NUMBERS:
        width = struct.calcsize(">" + _NUMBERS[item.type])
        fmt = ">" + _NUMBERS[item.type] * (item.size // width)
        factors = [_FIXED_POINT.get(item.type, 1.0)] * (item.size // width)
    else:
        raise GpmfError(f"{item.key} of type {item.type!r} is not numeric")
    if struct.calcsize(fmt) != item.size:
        raise GpmfError(f"{item.key}: struct size {item.size} does not match {fmt}")
    rows = struct.iter_unpack(fmt, item.value)
    return [tuple(v * f for v, f in zip(row, factors, strict=True)) for row in rows]


def gps_samples(items: tuple[Item, ...], start_s: float, duration_s: float) -> list[Sample]:
    """The samples of every GPS stream in a payload's items (DEVC > STRM)."""
    streams = [
        {item.key: item for item in strm.children}
        for devc in items
        if devc.key == "DEVC"
        for strm in devc.children
        if strm.key == "STRM"
    ]
    if any("GPS9" in stream for stream in streams):
        return [s for stream in streams if "GPS9" in stream for s in _gps9(stream, start_s)]
    return [s for stream in streams if "GPS5" in stream for s in _gps5(stream, start_s, duration_s)]


def _scaled(stream: dict[str, Item], key: str, width: int) -> list[tuple[float, ...]]:
    """The rows of `width` numbers of stream[key] divided by SCAL (one, or one per element)."""
    layout = (
        stream["TYPE"].value.decode("ascii", "replace").rstrip("\0") if "TYPE" in stream else ""
    )
    rows = numbers(stream[key], layout)
    if any(len(row) != width for row in rows):
        raise GpmfError(f"{key} rows are not of {width} numbers")
    divisors = [v for row in numbers(stream["SCAL"]) for v in row] if "SCAL" in stream else [1.0]
    if len(divisors) == 1:
        divisors *= width
    if len(divisors) != width or 0 in divisors:
        raise GpmfError(f"SCAL {divisors} does not fit {key} rows of {width}")
    return [tuple(v / d for v, d in zip(row, divisors, strict=True)) for row in rows]


def _gps5(stream: dict[str, Item], start_s: float, duration_s: float) -> list[Sample]:
    rows = _scaled(stream, "GPS5", 5)
    fix = _first(stream, "GPSF")
    if fix == 0 or not rows:
        return []
    utc = _gpsu(stream["GPSU"]) if "GPSU" in stream else None
    precision = _first(stream, "GPSP")
    dop = precision / 100 if precision is not None else None
    step = duration_s / len(rows)
    samples = []
    for i, (lat, lon, alt, speed, speed_3d) in enumerate(rows):
        stamp = utc + dt.timedelta(seconds=i * step) if utc else None
        sample = _sample(lat, lon, alt, stamp, start_s + i * step)
        sample.update(ground_speed=speed, speed_3d=speed_3d, gps_fix=fix, gps_dop=dop)
        samples.append(sample)
    return samples


def _first(stream: dict[str, Item], key: str) -> int | None:
    """The first number of stream[key] (GPSF, GPSP); None if absent or empty."""
    rows = numbers(stream[key]) if key in stream else []
    return int(rows[0][0]) if rows and rows[0] else None


def _gps9(stream: dict[str, Item], start_s: float) -> list[Sample]:
    rows = _scaled(stream, "GPS9", 9)
    if not rows:
        return []
    # Each fix carries its UTC time: its media time is the payload's start plus its offset
    # from the payload's first fix.
    first = GPS_EPOCH + dt.timedelta(days=rows[0][5], seconds=rows[0][6])
    samples = []
    for lat, lon, alt, speed, speed_3d, days, seconds, dop, fix in rows:
        if int(fix) == 0:
            continue
        stamp = GPS_EPOCH + dt.timedelta(days=days, seconds=seconds)
        sample = _sample(lat, lon, alt, stamp, start_s + (stamp - first).total_seconds())
        sample.update(ground_speed=speed, speed_3d=speed_3d, gps_fix=int(fix), gps_dop=dop)
        samples.append(sample)
    return samples


def _sample(
    lat: float, lon: float, alt: float, stamp: dt.datetime | None, media_s: float
) -> Sample:
    return {
        "sensor_latitude": lat,
        "sensor_longitude": lon,
        "sensor_true_altitude": alt,
        "precision_time_stamp": iso_utc(stamp) if stamp else None,
        MEDIA_TIME: media_s,
        CARRIER: Carrier.GPMF.value,
    }


def _gpsu(item: Item) -> dt.datetime | None:
    """GPSU's 'yymmddhhmmss.sss' as a UTC datetime; None if it does not parse."""
    text = item.value.decode("ascii", "replace").rstrip("\0 ")
    try:
        stamp = dt.datetime.strptime(text, "%y%m%d%H%M%S.%f")
    except ValueError:
        return None
    return stamp.replace(tzinfo=dt.timezone.utc)
