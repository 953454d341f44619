"""The read endpoints: health, the list and its filters, one file, statistics, corrections."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import get_args

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db import queries
from landrec.archive.db.models import Correction, File, Segment
from landrec.archive.settings import ArchiveSettings
from landrec.archive.web import create_app
from landrec.archive.web.routes_files import Sort

UTC = timezone.utc
AddFile = Callable[..., File]


@pytest.fixture
def corpus(add_file: AddFile) -> dict[str, File]:
    """Seven rows that each filter tells apart."""
    rows = {
        "a": add_file("trips/alps/glacier1.jpg", context="glacier", model_context="glacier",
                      confidence=0.9, camera_make="Canon", camera_model="EOS R5", size=500,
                      taken_at=datetime(2023, 6, 1, 12, tzinfo=UTC), latitude=46.5,
                      longitude=8.0, width=32, height=24),
        "b": add_file("coast/beach.png", context="coast", model_context="coast",
                      confidence=0.6, format="PNG image", camera_make="Apple",
                      camera_model="iPhone 12", taken_at=datetime(2024, 2, 10, tzinfo=UTC),
                      latitude=-33.9, longitude=151.2, size=300),
        "c": add_file("video/clip.mp4", kind="video", format="MP4/QuickTime video",
                      context="forest", confidence=0.8, size=1000),
        "d": add_file("misc/notes.txt", kind="other", status="unsupported", format="text"),
        "e": add_file("unk/blurry.jpg", context="unknown", confidence=0.2,
                      taken_at=datetime(2024, 12, 31, 23, tzinfo=UTC), size=50),
        "f": add_file("fiji/island.jpg", context="coast", model_context="desert",
                      confidence=0.95, corrected=True, latitude=-17.0, longitude=179.5),
        "g": add_file("new/incoming.jpg", kind="other", status="pending", format=None),
    }  # fmt: skip
    return rows


def paths(client: TestClient, query: str) -> set[str]:
    response = client.get(f"/api/files?{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {item["path"] for item in body["items"]}


FILTERS = [
    ("context=glacier", "a"),
    ("min_confidence=0.85", "af"),
    ("kind=video", "c"),
    ("format=PNG%20image", "b"),
    ("camera=canon", "a"),
    ("camera=IPHONE", "b"),
    ("from=2024-01-01", "be"),
    ("to=2023-12-31", "a"),
    ("from=2024-12-31&to=2024-12-31", "e"),  # a date is the whole day
    ("from=2024-02-10T00:00:00Z&to=2024-02-10T00:00:00%2B00:00", "b"),
    ("bbox=5,45,10,48", "a"),
    ("bbox=179,-20,-179,-10", "f"),  # across the antimeridian
    ("status=unsupported", "d"),
    ("status=pending", "g"),
    ("corrected=true", "f"),
    ("corrected=false", "abcdeg"),
    ("unknown=true", "e"),
    ("q=ALPS", "a"),
    ("kind=image&min_confidence=0.5", "abf"),
    ("context=coast&corrected=false", "b"),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS)
def test_filters(client: TestClient, corpus: dict[str, File], query: str, expected: str) -> None:
    assert paths(client, query) == {corpus[key].path for key in expected}


def test_list_items_sorting_and_pages(client: TestClient, corpus: dict[str, File]) -> None:
    body = client.get("/api/files?sort=-size&page=2&page_size=2").json()
    assert (body["total"], body["page"], body["page_size"]) == (7, 2, 2)
    # sizes: c 1000, a 500, b 300, then d f g 100 (ties by id, descending), e 50
    assert [item["path"] for item in body["items"]] == [corpus["b"].path, corpus["g"].path]
    first = client.get("/api/files?sort=id&page_size=1").json()["items"][0]
    assert first["id"] == corpus["a"].id
    assert first["taken_at"] == "2023-06-01T12:00:00Z"
    expected = {"path": corpus["a"].path, "kind": "image", "status": "indexed", "width": 32}
    assert expected.items() <= first.items()
    assert first["thumbnail_url"] is None
    assert client.get("/api/files?page=9").json()["items"] == []


def test_sort_choices_match_queries() -> None:
    assert set(get_args(Sort)) == set(queries.SORTS)


BAD_QUERIES = [
    "page=0", "page_size=0", "page_size=501", "page=1000000000000000000000000", "bbox=1,2,3",
    "bbox=a,b,c,d", "bbox=0,95,1,96", "bbox=200,0,201,1", "bbox=0,10,1,5", "bbox=nan,0,1,1",
    "from=yesterday", "to=2024-13-01", "sort=name", "kind=audio", "status=nope",
    "min_confidence=2", "min_confidence=nan", "corrected=maybe", "q=" + "x" * 300,
]  # fmt: skip


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_queries_are_422(client: TestClient, query: str) -> None:
    response = client.get(f"/api/files?{query}")
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


def test_health_and_stats(client: TestClient, corpus: dict[str, File]) -> None:
    health = client.get("/api/health").json()
    assert health == {"status": "ok", "files": 7, "pending": 1}  # embedded: no queues
    stats = client.get("/api/stats").json()
    assert stats["distributed"] is None
    assert stats["context"] == {"glacier": 1, "coast": 2, "forest": 1, "unknown": 1}
    assert stats["kind"] == {"image": 4, "video": 1, "other": 2}
    assert stats["status"] == {"indexed": 5, "unsupported": 1, "pending": 1}
    assert stats["format"]["JPEG image"] == 3
    assert (stats["total"], stats["pending"]) == (7, 1)


def test_detail(
    client: TestClient, corpus: dict[str, File], sessions: sessionmaker[Session]
) -> None:
    clip = corpus["c"]
    with sessions() as session:
        row = session.get(File, clip.id)
        assert row is not None
        row.top_k = [{"label": "forest", "probability": 0.8}]
        row.extra = {"Software": "test"}
        row.segments = [
            Segment(index=i, start_s=i * 2.0, end_s=i * 2.0 + 2, context=c, confidence=0.7)
            for i, c in enumerate(["forest", "coast"])
        ]
        session.commit()
    body = client.get(f"/api/files/{clip.id}").json()
    assert body["path"] == clip.path
    assert body["top_k"] == [{"label": "forest", "probability": 0.8}]
    assert body["extra"] == {"Software": "test"}
    assert [(s["index"], s["start_s"], s["context"]) for s in body["segments"]] == [
        (0, 0.0, "forest"),
        (1, 2.0, "coast"),
    ]
    assert body["first_seen"] == "2024-01-01T00:00:00Z"
    assert body["corrections"] == []
    missing = client.get("/api/files/999999")
    assert (missing.status_code, missing.json()) == (404, {"detail": "file not found"})
    assert client.get("/api/files/abc").status_code == 422


@pytest.fixture
def classes_client(settings: ArchiveSettings, sessions: sessionmaker[Session]) -> TestClient:
    return TestClient(create_app(settings, sessions, classes=["coast", "glacier", "forest"]))


def test_correct_context(
    classes_client: TestClient, corpus: dict[str, File], sessions: sessionmaker[Session]
) -> None:
    beach = corpus["b"]
    response = classes_client.put(f"/api/files/{beach.id}/context", json={"context": "glacier"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["context"], body["model_context"], body["corrected"]) == (
        "glacier", "coast", True
    )  # fmt: skip
    detail = classes_client.get(f"/api/files/{beach.id}").json()
    assert [c["context"] for c in detail["corrections"]] == ["glacier"]
    assert paths(classes_client, "context=glacier&corrected=true") == {beach.path}
    with sessions() as session:
        assert session.query(Correction).count() == 1


@pytest.mark.parametrize("context", ["desert", "unknown", "", " ", "x" * 65])
def test_correct_context_refuses_other_classes(
    classes_client: TestClient, corpus: dict[str, File], context: str
) -> None:
    beach = corpus["b"]
    response = classes_client.put(f"/api/files/{beach.id}/context", json={"context": context})
    assert response.status_code == 422, response.text
    assert classes_client.get(f"/api/files/{beach.id}").json()["context"] == "coast"


@pytest.mark.parametrize("context", ["../etc", "unknown", "a\nb", "glacier;drop"])
def test_correct_context_without_classes_checks_names(
    client: TestClient, corpus: dict[str, File], context: str
) -> None:
    response = client.put(f"/api/files/{corpus['a'].id}/context", json={"context": context})
    assert response.status_code == 422, response.text


def test_correct_context_errors(client: TestClient, corpus: dict[str, File]) -> None:
    ok = client.put(f"/api/files/{corpus['e'].id}/context", json={"context": "Snowy peaks"})
    assert (ok.status_code, ok.json()["context"]) == (200, "Snowy peaks")
    missing = client.put("/api/files/999999/context", json={"context": "coast"})
    assert missing.status_code == 404
    assert client.put(f"/api/files/{corpus['a'].id}/context", json={}).status_code == 422
    assert client.put(f"/api/files/{corpus['a'].id}/context", content=b"{").status_code == 422


@pytest.mark.parametrize(
    "file_id", ["9223372036854775808", "99999999999999999999999", "-9223372036854775809"]
)
@pytest.mark.parametrize(
    "method, url",
    [
        ("GET", "/api/files/{}"),
        ("GET", "/api/files/{}/thumbnail"),
        ("GET", "/api/files/{}/content"),
        ("PUT", "/api/files/{}/context"),
    ],
)
def test_an_id_beyond_64_bits_is_422(
    settings: ArchiveSettings, sessions: sessionmaker[Session], method: str, url: str, file_id: str
) -> None:
    with TestClient(create_app(settings, sessions), raise_server_exceptions=False) as client:
        response = client.request(method, url.format(file_id), json={"context": "coast"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "file_id"]


def test_months_count_files_taken_per_month_with_the_list_filters(
    client: TestClient, corpus: dict[str, File]
) -> None:
    response = client.get("/api/months")
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"year": 2024, "month": 12, "files": 1},
        {"year": 2024, "month": 2, "files": 1},
        {"year": 2023, "month": 6, "files": 1},
    ]
    assert client.get("/api/months?context=coast").json() == [
        {"year": 2024, "month": 2, "files": 1}
    ]
    assert client.get("/api/months?min_confidence=2").status_code == 422
