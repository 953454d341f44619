"""A file's telemetry reduced to its track (`landrec.data.telemetry.track`): thinning to 1 Hz,
footprints, bounds, times, positions at a media time, and the GeoJSON that the archive stores
and reads back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from landrec.data.telemetry import MEDIA_TIME, Standard, Telemetry, Track, summarise
from landrec.data.telemetry.track import MAX_UNTIMED
from telemetry_media import flight


def telemetry(samples: list[dict], standard: Standard = Standard.ST0601) -> Telemetry:
    return Telemetry(Path("x.klv"), [standard], len(samples), 0, samples)


def test_ten_hertz_is_thinned_to_one_point_a_second_and_the_last() -> None:
    track = summarise(telemetry(flight(100)))  # 9.9 s from the time stamps alone
    assert [p.t for p in track.points] == pytest.approx([*range(10), 9.9])
    assert [f.t for f in track.footprints] == pytest.approx([*range(10), 9.9])
    assert track.points[3].latitude == pytest.approx(47.0 + 0.0005 * 30)
    assert track.points[3].altitude == 1530.0 and track.points[3].heading == 45.0
    assert track.footprints[0].centre == pytest.approx((47.01, 8.01))
    assert (track.samples, track.packets, track.platform, track.sensor) == (
        100, 100, "TEST-UAV", "EO",
    )  # fmt: skip
    assert track.start == dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc)
    assert track.end == track.start + dt.timedelta(seconds=9.9)
    # the bounds hold every point and every footprint corner (the corners reach furthest)
    last = 0.0005 * 99
    assert track.bounds == pytest.approx((8.0, 47.0, 8.012 + last, 47.012 + last))
    assert track.airborne


def test_media_times_come_first_and_untimed_samples_are_kept_evenly() -> None:
    samples = flight(30)
    for k, sample in enumerate(samples):
        sample[MEDIA_TIME] = 100.0 + k / 2  # the stream's own times win over its time stamps
    assert [p.t for p in summarise(telemetry(samples)).points][:3] == [100.0, 101.0, 102.0]
    untimed = [{"sensor_latitude": 1.0 + k * 1e-6, "sensor_longitude": 2.0} for k in range(25_001)]
    points = summarise(telemetry(untimed, Standard.GPX)).points
    assert len(points) <= MAX_UNTIMED + 1 and points[-1].latitude == untimed[-1]["sensor_latitude"]
    assert all(p.t is None for p in points)


def test_unset_and_impossible_positions_are_no_points() -> None:
    samples = flight(3)
    samples[0].update(sensor_latitude=0.0, sensor_longitude=0.0)  # "null island": unset
    samples[1].update(sensor_latitude=91.0)
    samples[2].update(corner_latitude_point_3=None)
    track = summarise(telemetry(samples))
    assert [p.t for p in track.points] == [pytest.approx(0.2)]
    assert [f.t for f in track.footprints] == [0.0, 0.1]  # 0 and 1 had whole corners (1: the last)


def test_position_at_a_media_time() -> None:
    track = summarise(telemetry(flight(50)))
    point, footprint = track.at(2.5)
    assert point is not None and point.t == 2.0
    assert footprint is not None and footprint.t == 2.0
    assert track.at(-1.0)[0] is track.points[0]  # before the first: the first
    assert track.at(1e9)[0] is track.points[-1]
    assert Track((), 0, 0).at(1.0) == (None, None)


def test_geojson_and_back() -> None:
    track = summarise(telemetry(flight(25)))
    data = track.geojson()
    line, *polygons = data["features"]
    assert line["geometry"]["type"] == "LineString"
    assert line["geometry"]["coordinates"][1] == pytest.approx([8.005, 47.005])
    assert len(polygons) == len(track.footprints) == 4  # 0, 1, 2 s and the last (2.4 s)
    ring = polygons[0]["geometry"]["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    assert data["properties"]["standards"] == ["MISB ST 0601"]
    assert Track.from_geojson(data) == track
