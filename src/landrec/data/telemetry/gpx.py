"""GPX 1.0 / 1.1 files: the points of their tracks (`trkpt`); where a file has none, of its
routes (`rtept`); where it has none either, its waypoints (`wpt`): a file's few waypoints are
places of interest, not a path, and would zigzag across its track.

Each point gives `sensor_latitude`, `sensor_longitude` (its attributes), `sensor_true_altitude`
(`ele`, metres) and `precision_time_stamp` (`time`, UTC), with `media_time_s` None: a GPX is
not bound to a media's clock. `packets` counts the points read, `bad_packets` those whose
position is missing or out of range.

The XML is parsed by expat with a refusal of any DOCTYPE: GPX needs none, and a DOCTYPE is
where entities (the "billion laughs" bomb) and external references are declared. A file over
`MAX_BYTES`, malformed XML or a root other than <gpx> raises `TelemetryError`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from landrec.data.klv import Sample
from landrec.data.telemetry.common import iso_utc, read_capped
from landrec.data.telemetry.errors import TelemetryError
from landrec.data.telemetry.types import CARRIER, MEDIA_TIME, Carrier, Standard, Telemetry

MAX_BYTES = 64 * 1024 * 1024
POINTS = ("trkpt", "rtept", "wpt")  # in order of preference


class _Refused(Exception):
    """A DOCTYPE (and with it any entity declaration) in the file."""


@dataclass
class _Point:
    attributes: dict[str, str]
    children: dict[str, str] = field(default_factory=dict)  # ele, time: their text


@dataclass
class _Collector:
    """Expat's handlers: the points of each kind, with their direct `ele` and `time`."""

    points: dict[str, list[_Point]] = field(default_factory=lambda: {k: [] for k in POINTS})
    root: str | None = None
    path: list[str] = field(default_factory=list)  # local names of the open elements
    point: _Point | None = None
    text: list[str] = field(default_factory=list)

    def start(self, name: str, attributes: dict[str, str]) -> None:
        local = name.rsplit(" ", 1)[-1]
        self.root = self.root or local
        self.path.append(local)
        if local in POINTS and self.point is None:
            self.point = _Point(attributes)
            self.points[local].append(self.point)
        self.text = []

    def end(self, name: str) -> None:
        local = self.path.pop()
        parent = self.path[-1] if self.path else None
        if self.point is not None and local in ("ele", "time") and parent in POINTS:
            self.point.children[local] = "".join(self.text).strip()
        if local in POINTS and local not in self.path:
            self.point = None
        self.text = []

    def characters(self, data: str) -> None:
        self.text.append(data)


def read_gpx(path: Path) -> Telemetry:
    """The points of the GPX file at `path` (tracks, else routes, else waypoints)."""
    collector = _parse(path, read_capped(path, MAX_BYTES))
    points = next((collector.points[k] for k in POINTS if collector.points[k]), [])
    telemetry = Telemetry(path, sources=[path], packets=len(points))
    for point in points:
        sample = _sample(point)
        if sample is None:
            telemetry.bad_packets += 1
        else:
            telemetry.samples.append(sample)
    if points:
        telemetry.standards = [Standard.GPX]
    return telemetry


def _parse(path: Path, data: bytes) -> _Collector:
    collector = _Collector()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    parser.CharacterDataHandler = collector.characters
    try:
        parser.Parse(data, True)
    except _Refused:
        raise TelemetryError(path, "declares a DOCTYPE, which GPX never needs: refused") from None
    except expat.ExpatError as error:
        raise TelemetryError(path, f"not well-formed XML: {error}") from None
    if collector.root != "gpx":
        raise TelemetryError(path, f"not a GPX file (its root is <{collector.root}>)")
    return collector


def _refuse(*_: object) -> None:
    raise _Refused


def _sample(point: _Point) -> Sample | None:
    try:
        lat, lon = float(point.attributes["lat"]), float(point.attributes["lon"])
    except (KeyError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return {
        "sensor_latitude": lat,
        "sensor_longitude": lon,
        "sensor_true_altitude": _float(point.children.get("ele")),
        "precision_time_stamp": _time(point.children.get("time")),
        MEDIA_TIME: None,
        CARRIER: Carrier.GPX.value,
    }


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _time(text: str | None) -> str | None:
    """GPX's xsd:dateTime (UTC; a zone if given is honoured) as ISO 8601 UTC text."""
    if not text:
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return iso_utc(stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc))
