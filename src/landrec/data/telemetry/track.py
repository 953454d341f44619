"""A file's telemetry reduced to what the archive stores and shows: a track thinned to a rate
(1 Hz by default: a 2-hour flight at 30 packets/s is 216,000 samples, 7,200 points), the
footprints where corners exist, the bounds of both, the first and last time, the platform.

Each point and footprint keeps `t`, its time in seconds from the start of the media (so a
player can move with it), and `time`, the UTC time stamp when the stream gave one.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from landrec.data.klv import Sample
from landrec.data.telemetry.types import MEDIA_TIME, Standard, Telemetry

DEFAULT_HZ = 1.0
MAX_UNTIMED = 10_000  # points kept, evenly, of a track with no times at all
_CORNERS = tuple((f"corner_latitude_point_{n}", f"corner_longitude_point_{n}") for n in range(1, 5))

Bounds = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat (GeoJSON order)


@dataclass(frozen=True)
class TrackPoint:
    """Where the sensor (platform) was."""

    t: float | None  # seconds from the start of the media
    time: str | None  # ISO 8601 UTC
    latitude: float
    longitude: float
    altitude: float | None = None
    heading: float | None = None


@dataclass(frozen=True)
class Footprint:
    """What the sensor saw: the four corners on the ground (lat, lon) and the frame centre."""

    t: float | None
    time: str | None
    corners: tuple[tuple[float, float], ...]  # 4 (latitude, longitude), in the standard's order
    centre: tuple[float, float] | None = None


@dataclass(frozen=True)
class Track:
    standards: tuple[Standard, ...]
    packets: int
    bad_packets: int
    points: tuple[TrackPoint, ...] = ()
    footprints: tuple[Footprint, ...] = ()
    bounds: Bounds | None = None  # of every point and footprint corner
    start: dt.datetime | None = None  # first and last time stamp (UTC)
    end: dt.datetime | None = None
    platform: str | None = None  # ST 0601 tag 10
    sensor: str | None = None  # ST 0601 tag 11
    samples: int = 0  # samples summarised (a read with `every_s` decodes fewer than `packets`)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def airborne(self) -> bool:
        return any(s.airborne for s in self.standards)

    def at(self, t: float) -> tuple[TrackPoint | None, Footprint | None]:
        """The last point and footprint at or before media time `t` (else the first ones)."""
        return _last_before(self.points, t), _last_before(self.footprints, t)

    def geojson(self) -> dict[str, Any]:
        """A FeatureCollection: the track as a LineString ([lon, lat] pairs; `t` and `time`
        per vertex in its properties), one Polygon per footprint (`t`, `time`)."""
        features: list[dict[str, Any]] = []
        if self.points:
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[p.longitude, p.latitude] for p in self.points],
                    },
                    "properties": {
                        "kind": "track",
                        "t": [p.t for p in self.points],
                        "time": [p.time for p in self.points],
                        "altitude": [p.altitude for p in self.points],
                        "heading": [p.heading for p in self.points],
                        "platform": self.platform,
                        "sensor": self.sensor,
                    },
                }
            )
        for f in self.footprints:
            ring = [[lon, lat] for lat, lon in f.corners]
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                    "properties": {
                        "kind": "footprint",
                        "t": f.t,
                        "time": f.time,
                        "centre": list(f.centre) if f.centre else None,  # [lat, lon]
                    },
                }
            )
        return {
            "type": "FeatureCollection",
            "bbox": list(self.bounds) if self.bounds else None,
            "features": features,
            "properties": {
                "standards": [s.value for s in self.standards],
                "packets": self.packets,
                "bad_packets": self.bad_packets,
                "samples": self.samples,
                "start": _iso(self.start),
                "end": _iso(self.end),
            },
        }

    @classmethod
    def from_geojson(cls, data: dict[str, Any]) -> Track:
        """The track that `geojson()` gave (as stored): points, footprints, counts, times."""
        points: list[TrackPoint] = []
        footprints: list[Footprint] = []
        names: dict[str, Any] = {}  # the line's platform and sensor
        for feature in data.get("features", []):
            geometry, props = feature["geometry"], feature["properties"]
            if props.get("kind") == "track":
                names = props
                columns = zip(
                    geometry["coordinates"], props["t"], props["time"], props["altitude"],
                    props["heading"], strict=True,
                )  # fmt: skip
                points += [
                    TrackPoint(t, tm, lat, lon, *more) for (lon, lat), t, tm, *more in columns
                ]
            elif props.get("kind") == "footprint":
                corners = tuple((lat, lon) for lon, lat in geometry["coordinates"][0][:4])
                centre = props.get("centre")
                footprints.append(
                    Footprint(props["t"], props["time"], corners, tuple(centre) if centre else None)
                )
        info, bbox = data.get("properties", {}), data.get("bbox")
        return cls(
            standards=tuple(Standard(s) for s in info.get("standards", [])),
            packets=info.get("packets", 0),
            bad_packets=info.get("bad_packets", 0),
            points=tuple(points),
            footprints=tuple(footprints),
            bounds=tuple(bbox) if bbox else None,
            start=parse_time(info.get("start")),
            end=parse_time(info.get("end")),
            platform=names.get("platform"),
            sensor=names.get("sensor"),
            samples=info.get("samples", 0),
        )


def _last_before(items: tuple[Any, ...], t: float) -> Any:
    best = items[0] if items else None
    for item in items:
        if item.t is not None and item.t <= t:
            best = item
        elif item.t is not None:
            break
    return best


def _iso(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def _number(sample: Sample, name: str) -> float | None:
    value = sample.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _position(sample: Sample, lat_name: str, lon_name: str) -> tuple[float, float] | None:
    lat, lon = _number(sample, lat_name), _number(sample, lon_name)
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0.0 and lon == 0.0:  # "null island": an unset fix, not a place
        return None
    return lat, lon


def parse_time(text: object) -> dt.datetime | None:
    """A sample's ISO 8601 UTC `precision_time_stamp` as an aware datetime; None if absent."""
    if not isinstance(text, str):
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _media_times(samples: list[Sample], stamps: list[dt.datetime | None]) -> list[float | None]:
    """Each sample's media time: its own, else its time stamp's seconds since the first."""
    first = next((s for s in stamps if s is not None), None)
    times: list[float | None] = []
    for sample, stamp in zip(samples, stamps, strict=True):
        own = _number(sample, MEDIA_TIME)
        if own is None and stamp is not None and first is not None:
            own = (stamp - first).total_seconds()
        times.append(own)
    return times


def _thin(times: list[float | None], hz: float) -> list[int]:
    """Indices kept: the first sample of each 1/hz slot (and the last); evenly when untimed."""
    if not times:
        return []
    if all(t is None for t in times):
        step = max(1, math.ceil(len(times) / MAX_UNTIMED))
        return sorted({*range(0, len(times), step), len(times) - 1})
    kept, slot = [], None
    for i, t in enumerate(times):
        if t is None:
            continue
        this = math.floor(t * hz)
        if this != slot:
            kept.append(i)
            slot = this
    last = max(i for i, t in enumerate(times) if t is not None)
    return kept if kept[-1] == last else [*kept, last]


def summarise(telemetry: Telemetry, hz: float = DEFAULT_HZ) -> Track:
    """The track of `telemetry`, thinned to `hz` points (and footprints) per second."""
    samples = telemetry.samples
    stamps = [parse_time(s.get("precision_time_stamp")) for s in samples]
    media = _media_times(samples, stamps)
    points: list[TrackPoint] = []
    footprints: list[Footprint] = []
    located = [
        i for i, s in enumerate(samples) if _position(s, "sensor_latitude", "sensor_longitude")
    ]
    for i in (located[k] for k in _thin([media[i] for i in located], hz)):
        s = samples[i]
        lat, lon = _position(s, "sensor_latitude", "sensor_longitude") or (0.0, 0.0)
        points.append(
            TrackPoint(
                media[i],
                _iso(stamps[i]),
                lat,
                lon,
                _number(s, "sensor_true_altitude"),
                _number(s, "platform_heading_angle"),
            )
        )
    cornered = [i for i, s in enumerate(samples) if _corners(s) is not None]
    for i in (cornered[k] for k in _thin([media[i] for i in cornered], hz)):
        s = samples[i]
        footprints.append(
            Footprint(
                media[i],
                _iso(stamps[i]),
                _corners(s) or (),
                _position(s, "frame_center_latitude", "frame_center_longitude"),
            )
        )
    known = [s for s in stamps if s is not None]
    return Track(
        standards=tuple(telemetry.standards),
        packets=telemetry.packets,
        bad_packets=telemetry.bad_packets,
        points=tuple(points),
        footprints=tuple(footprints),
        bounds=_bounds(points, footprints),
        start=min(known) if known else None,
        end=max(known) if known else None,
        platform=_first_text(samples, "platform_designation"),
        sensor=_first_text(samples, "image_source_sensor"),
        samples=len(samples),
    )


def _corners(sample: Sample) -> tuple[tuple[float, float], ...] | None:
    corners = [_position(sample, lat, lon) for lat, lon in _CORNERS]
    if any(c is None for c in corners):
        return None
    return tuple(c for c in corners if c is not None)


def _bounds(points: list[TrackPoint], footprints: list[Footprint]) -> Bounds | None:
    lats = [p.latitude for p in points] + [c[0] for f in footprints for c in f.corners]
    lons = [p.longitude for p in points] + [c[1] for f in footprints for c in f.corners]
    if not lats:
        return None
    return min(lons), min(lats), max(lons), max(lats)


def _first_text(samples: list[Sample], name: str) -> str | None:
    for sample in samples:
        value = sample.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
