"""Where files were shot, through the API: a track as GeoJSON, the map's tracks, the list's
bbox, time and campaign filters matching a file by its track, and the campaign's correction."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive import accounts
from landrec.archive.db import queries
from landrec.archive.db.models import Action, Audit, Role
from landrec.archive.indexer import Indexer
from landrec.archive.scanner import scan
from landrec.archive.settings import ArchiveSettings
from telemetry_media import st0601_packets, write_raw_klv

from ..test_tracks import POINTS, photo_at

Archive = tuple[TestClient, dict[str, int]]


def index(settings: ArchiveSettings, sessions: sessionmaker[Session]) -> dict[str, int]:
    """A scan of the storage without a model (files fresh from the test taken as complete);
    the ids by path."""
    indexer = Indexer(dataclasses.replace(settings, stable_s=0.0), sessions)
    try:
        scan(indexer, settle_s=0.0)
    finally:
        indexer.close()
    with sessions() as session:
        _, rows = queries.search(session, queries.FileFilter(page_size=500))
    return {r.path: r.id for r in rows}


@pytest.fixture
def archive(
    settings: ArchiveSettings, sessions: sessionmaker[Session], client: TestClient
) -> Iterator[Archive]:
    """An indexed flight (raw .klv, 10 s from 2024-05-01 10:00 UTC, from 47.0 N 8.0 E to the
    north-east), a photo at sea and one in Paris."""
    write_raw_klv(settings.storage / "flight.klv", st0601_packets(100))
    photo_at(settings.storage / "sea.jpg", 45.0, -30.0)
    photo_at(settings.storage / "paris.jpg", 48.85, 2.35)
    yield client, index(settings, sessions)


def paths(client: TestClient, query: str) -> list[str]:
    answer = client.get(f"/api/files?{query}")
    assert answer.status_code == 200, answer.text
    return sorted(i["path"] for i in answer.json()["items"])


def test_the_track_is_geojson_with_a_1_hz_line_and_footprint_polygons(archive: Archive) -> None:
    client, ids = archive
    answer = client.get(f"/api/files/{ids['flight.klv']}/track")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "FeatureCollection"
    line, *footprints = body["features"]
    assert line["geometry"]["type"] == "LineString"
    coordinates = line["geometry"]["coordinates"]
    assert len(coordinates) == POINTS
    assert coordinates[0] == pytest.approx([8.0, 47.0])
    assert coordinates[-1] == pytest.approx([8.0495, 47.0495])
    assert line["properties"]["t"] == pytest.approx([*range(10), 9.9])
    assert line["properties"]["platform"] == "TEST-UAV"
    assert len(footprints) == POINTS
    ring = footprints[0]["geometry"]["coordinates"][0]
    assert footprints[0]["geometry"]["type"] == "Polygon" and len(ring) == 5
    assert ring[0] == ring[-1] == pytest.approx([8.008, 47.012])
    assert body["bbox"] == pytest.approx([8.0, 47.0, 8.0615, 47.0615])
    assert body["properties"]["packets"] == 100
    assert body["properties"]["start"] == "2024-05-01T10:00:00.000000Z"
    assert client.get(f"/api/files/{ids['sea.jpg']}/track").status_code == 404
    assert client.get("/api/files/999/track").json() == {"detail": "track not found"}


def test_the_list_and_the_detail_say_campaign_track_platform_and_bounds(archive: Archive) -> None:
    client, ids = archive
    items = {i["path"]: i for i in client.get("/api/files").json()["items"]}
    assert {p: (i["campaign"], i["has_track"], i["kind"]) for p, i in items.items()} == {
        "flight.klv": ("air", True, "track"),
        "sea.jpg": ("sea", False, "image"),
        "paris.jpg": ("land", False, "image"),
    }
    detail = client.get(f"/api/files/{ids['flight.klv']}").json()
    assert (detail["platform"], detail["sensor"], detail["campaign_corrected"]) == (
        "TEST-UAV", "EO", False,
    )  # fmt: skip
    assert detail["track_bounds"] == pytest.approx([8.0, 47.0, 8.0615, 47.0615])
    photo = client.get(f"/api/files/{ids['sea.jpg']}").json()
    assert (photo["track_bounds"], photo["platform"], photo["has_track"]) == (None, None, False)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("bbox=8.044,47.044,8.050,47.050", ["flight.klv"]),  # track points far from the first
        ("bbox=8.0075,47.0115,8.0085,47.0125", ["flight.klv"]),  # one footprint corner only
        ("bbox=8.1,47.1,8.2,47.2", []),
        ("bbox=-31,44,-29,46", ["sea.jpg"]),  # a photo's own position still counts
        ("bbox=170,40,8.003,47.003", ["flight.klv", "sea.jpg"]),  # across the antimeridian
        ("bbox=170,40,-29,46", ["sea.jpg"]),
        ("from=2024-05-01T10:00:05Z&to=2024-05-01T10:00:06Z", ["flight.klv"]),  # in its span
        ("from=2024-05-01T10:00:09Z", ["flight.klv"]),
        ("to=2024-05-01T09:59:59Z", []),
        ("from=2024-05-01T10:00:10.5Z", []),
        ("campaign=air", ["flight.klv"]),
        ("campaign=sea", ["sea.jpg"]),
        ("campaign=land&kind=image", ["paris.jpg"]),
        ("kind=track&bbox=8.044,47.044,8.050,47.050", ["flight.klv"]),
    ],
)
def test_the_list_filters_match_a_file_by_its_track(
    archive: Archive, query: str, expected: list[str]
) -> None:
    client, _ = archive
    assert paths(client, query) == expected


def test_a_campaign_outside_the_three_is_refused(archive: Archive) -> None:
    client, ids = archive
    assert client.get("/api/files?campaign=space").status_code == 422
    answer = client.put(f"/api/files/{ids['sea.jpg']}/campaign", json={"campaign": "space"})
    assert answer.status_code == 422


def test_the_map_draws_one_line_per_matching_file(archive: Archive) -> None:
    client, ids = archive
    body = client.get("/api/tracks").json()
    assert (body["type"], body["truncated"]) == ("FeatureCollection", False)
    [feature] = body["features"]
    assert feature["properties"] == {
        "id": ids["flight.klv"], "path": "flight.klv", "context": None, "campaign": "air",
        "kind": "track",
    }  # fmt: skip
    assert feature["geometry"]["type"] == "LineString"
    assert len(feature["geometry"]["coordinates"]) == POINTS
    assert client.get("/api/tracks?campaign=sea").json()["features"] == []
    assert client.get("/api/tracks?bbox=8.1,47.1,8.2,47.2").json()["features"] == []


def test_the_map_thins_long_tracks_and_says_when_it_is_truncated(
    settings: ArchiveSettings, sessions: sessionmaker[Session], client: TestClient
) -> None:
    write_raw_klv(settings.storage / "long.klv", st0601_packets(3000, rate_hz=1.0))
    ids = index(settings, sessions)
    line = client.get("/api/tracks").json()["features"][0]["geometry"]["coordinates"]
    assert len(line) == 200
    assert line[0] == pytest.approx([8.0, 47.0])
    assert line[-1] == pytest.approx([8.0 + 0.0005 * 2999, 47.0 + 0.0005 * 2999])
    full = client.get(f"/api/files/{ids['long.klv']}/track").json()
    assert len(full["features"][0]["geometry"]["coordinates"]) == 3000
    with sessions() as session:
        rows, truncated = queries.map_tracks(session, queries.FileFilter(), limit=0)
    assert (rows, truncated) == ([], True)


def test_a_corrected_campaign_needs_an_editor_is_audited_and_survives_a_reindex(
    archive: Archive, settings: ArchiveSettings, sessions: sessionmaker[Session]
) -> None:
    client, ids = archive
    with sessions() as session:
        viewer = accounts.create_token(session, "viewer-bot", Role.VIEWER, "test")
        editor = accounts.create_token(session, "editor-bot", Role.EDITOR, "test")
    url, body = f"/api/files/{ids['sea.jpg']}/campaign", {"campaign": "air"}
    refused = client.put(url, json=body, headers={"Authorization": f"Bearer {viewer}"})
    assert refused.status_code == 403
    answer = client.put(url, json=body, headers={"Authorization": f"Bearer {editor}"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["campaign"], answer.json()["has_track"]) == ("air", False)
    with sessions() as session:
        audit = session.query(Audit).filter(Audit.action == Action.CAMPAIGN.value).one()
    assert (audit.actor, audit.target, audit.detail) == (
        "editor-bot", "sea.jpg", f"file {ids['sea.jpg']}: sea -> air",
    )  # fmt: skip
    photo_at(settings.storage / "sea.jpg", 45.01, -30.0)  # new content: indexed again
    assert index(settings, sessions)["sea.jpg"] == ids["sea.jpg"]
    auth = {"Authorization": f"Bearer {viewer}"}
    detail = client.get(f"/api/files/{ids['sea.jpg']}", headers=auth).json()
    assert detail["latitude"] == pytest.approx(45.01)
    assert (detail["campaign"], detail["campaign_corrected"]) == ("air", True)
    missing = client.put("/api/files/999/campaign", json=body, headers=auth | {})
    assert missing.status_code == 403  # a viewer is refused before the file is looked for
    editor_auth = {"Authorization": f"Bearer {editor}"}
    assert client.put("/api/files/999/campaign", json=body, headers=editor_auth).status_code == 404
