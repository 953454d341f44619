"""Drone subtitle files (DJI .srt): one cue per frame or per second, its text the flight data.

Three layouts are read (HTML tags such as `<font size="28">` are dropped first):
- Phantom 3/4, Inspire: `HOME(lon,lat) 2017.08.05 14:11:51` and
  `GPS(lon,lat,alt) BAROMETER:40.1` (BAROMETER: the height above the take-off point).
- Mavic 2/3, Air 2, Mini: a date line `2023-05-01 10:00:00.123` (or `10:00:00,123,456`,
  milliseconds then microseconds) and bracketed pairs `[latitude: 47.371234]
  [longitude: 8.531234] [rel_alt: 12.300 abs_alt: 450.120]` (some firmware writes
  `longtitude` and `[altitude: 98.5]`).
- Spark, Mavic Air: `F/2.8, SS 320, ISO 100, EV 0, GPS (lon, lat, alt), D 10.5m, H 20.1m`
  (D: distance from home, H: height above the take-off point).

Each cue gives a sample at its start time (`media_time_s`): `sensor_latitude`,
`sensor_longitude`, `sensor_true_altitude` (absolute altitude, where given) and
`relative_altitude` (height above take-off, where given), `home_latitude`/`home_longitude`,
`home_distance`. The drone's clock is local time of unknown zone, so it is kept as
`local_time` (ISO 8601 without a zone), not as the UTC `precision_time_stamp`.

A cue that mentions a position (GPS(...), latitude, longitude) counts as a packet; one whose
position cannot be read, or is out of range, counts as bad. A subtitle file with no such cue
gives an empty Telemetry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

from landrec.data.klv import Sample
from landrec.data.telemetry.common import read_capped
from landrec.data.telemetry.types import CARRIER, MEDIA_TIME, Carrier, Standard, Telemetry

MAX_BYTES = 256 * 1024 * 1024  # 30 cues a second for 3 hours is ~100 MB

_NUM = r"([-+]?\d+(?:\.\d+)?)"
_TIMING = re.compile(r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->")
_TAG = re.compile(r"<[^>]*>")
_LOOKS_LIKE_TELEMETRY = re.compile(r"\bGPS\s*\(|\blatitude\b|\blongt?itude\b", re.IGNORECASE)
_GPS = re.compile(rf"\bGPS\s*\(\s*{_NUM}\s*,\s*{_NUM}\s*(?:,\s*{_NUM}\s*)?\)")
_HOME = re.compile(rf"\bHOME\s*\(\s*{_NUM}\s*,\s*{_NUM}")
_BAROMETER = re.compile(rf"\bBAROMETER\s*:\s*{_NUM}")
_HEIGHT = re.compile(rf"(?<![\w.])H\s+{_NUM}\s*m\b")
_DISTANCE = re.compile(rf"(?<![\w.])D\s+{_NUM}\s*m\b")
_PAIR = re.compile(rf"([A-Za-z_]\w*)\s*:\s*{_NUM}(?=\s|$)")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_DATE = re.compile(
    r"(\d{4})[-./](\d{2})[-./](\d{2})[ T]+(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?(?:,(\d{3}))?"
)
# Bracketed names (lower case) -> sample names.
_NAMES = {
    "latitude": "sensor_latitude",
    "longitude": "sensor_longitude",
    "longtitude": "sensor_longitude",
    "abs_alt": "sensor_true_altitude",
    "altitude": "sensor_true_altitude",
    "rel_alt": "relative_altitude",
}


def read_srt(path: Path) -> Telemetry:
    """The positions in the cues of the drone subtitle file at `path`."""
    telemetry = Telemetry(path, sources=[path])
    for start_s, text in cues(_decode(read_capped(path, MAX_BYTES))):
        if not _LOOKS_LIKE_TELEMETRY.search(text):
            continue
        telemetry.packets += 1
        sample = parse_cue(text)
        if sample is None:
            telemetry.bad_packets += 1
            continue
        sample[MEDIA_TIME] = start_s
        sample[CARRIER] = Carrier.SRT.value
        telemetry.samples.append(sample)
    if telemetry.packets:
        telemetry.standards = [Standard.DJI_SRT]
    return telemetry


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8-sig", "replace")


def cues(text: str) -> Iterator[tuple[float, str]]:
    """(start in seconds, text without tags) of each cue: the lines after its timing line up
    to a blank line or the next timing line."""
    start: float | None = None
    lines: list[str] = []
    for line in [*text.splitlines(), ""]:
        timing = _TIMING.match(line.strip())
        if timing or not line.strip():
            if start is not None:
                yield start, _TAG.sub("", "\n".join(lines))
            start, lines = None, []
            if timing:
                h, m, s, ms = timing.groups()
                start = int(h) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000
        elif start is not None:
            lines.append(line)


def parse_cue(text: str) -> Sample | None:
    """The sample of one cue's text; None if it has no readable, in-range position."""
    sample: Sample = {}
    for bracket in _BRACKET.findall(text):
        for name, value in _PAIR.findall(bracket):
            if name.lower() in _NAMES:
                sample[_NAMES[name.lower()]] = float(value)
    if gps := _GPS.search(text):
        lon, lat, alt = gps.groups()
        sample.update(sensor_longitude=float(lon), sensor_latitude=float(lat))
        if alt is not None:
            sample["sensor_true_altitude"] = float(alt)
    for pattern, name in ((_BAROMETER, "relative_altitude"), (_HEIGHT, "relative_altitude")):
        if found := pattern.search(text):
            sample[name] = float(found.group(1))
    if found := _DISTANCE.search(text):
        sample["home_distance"] = float(found.group(1))
    if home := _HOME.search(text):
        sample.update(home_longitude=float(home.group(1)), home_latitude=float(home.group(2)))
    if date := _local_time(text):
        sample["local_time"] = date
    lat, lon = sample.get("sensor_latitude"), sample.get("sensor_longitude")
    if not isinstance(lat, float) or not isinstance(lon, float):
        return None
    return sample if -90 <= lat <= 90 and -180 <= lon <= 180 else None


def _local_time(text: str) -> str | None:
    """The cue's date and time as ISO 8601 text without a zone."""
    found = _DATE.search(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, micro = found.groups()
    if micro is not None and fraction is not None and len(fraction) == 3:
        microseconds = int(fraction) * 1000 + int(micro)  # DJI's "10:00:00,123,456"
    else:
        microseconds = int((fraction or "0").ljust(6, "0")[:6])
    y, mo, d, h, mi, s = (int(v) for v in (year, month, day, hour, minute, second))
    try:
        stamp = dt.datetime(y, mo, d, h, mi, s, microseconds)
    except ValueError:
        return None
    return stamp.isoformat(timespec="microseconds")
