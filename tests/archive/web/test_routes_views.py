"""The model's view in the API (issue 29): each file's and segment's view, the list's `view`
filter (the model's views only: 422 on another, its OpenAPI enum), the views counted in the
statistics, a bulk filter by view, and a video's share of its time beside its label."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db.models import File, Segment
from landrec.archive.settings import ArchiveSettings
from landrec.archive.web import create_app

from .conftest import AddFile

VIEWS = ["ground", "overhead"]
SHARES = [{"label": "coast", "probability": 0.68}, {"label": "desert", "probability": 0.32}]


@pytest.fixture
def rows(add_file: AddFile, sessions: sessionmaker[Session]) -> dict[str, File]:
    """A ground photo, an overhead photo, an overhead video (coast 68% of its time, then
    desert) with a segment per view, and a photo tagged before views (none)."""
    rows = {
        "ground": add_file("a/street.jpg", context="coast", model_context="coast",
                           confidence=0.9, view="ground", view_confidence=0.97),
        "overhead": add_file("b/roofs.jpg", context="desert", model_context="desert",
                             confidence=0.8, view="overhead", view_confidence=0.88),
        "video": add_file("c/flight.mp4", kind="video", format="MP4 video", context="coast",
                          model_context="coast", confidence=0.74, top_k=SHARES,
                          duration_s=300.0, view="overhead", view_confidence=0.9),
        "old": add_file("d/old.jpg", context="coast", model_context="coast", confidence=0.7),
    }  # fmt: skip
    with sessions() as session:
        session.add_all(
            [
                Segment(file_id=rows["video"].id, index=0, start_s=0.0, end_s=204.0,
                        context="coast", confidence=0.8, view="overhead", view_confidence=0.95),
                Segment(file_id=rows["video"].id, index=1, start_s=204.0, end_s=300.0,
                        context="desert", confidence=0.6, view="ground", view_confidence=0.7),
            ]
        )  # fmt: skip
        session.commit()
    return rows


@pytest.fixture
def api(settings: ArchiveSettings, sessions: sessionmaker[Session]) -> TestClient:
    """The API of an archive whose model tells ground from overhead."""
    return TestClient(create_app(settings, sessions, classes=["coast", "desert"], views=VIEWS))


def listed(api: TestClient, query: str) -> set[str]:
    response = api.get(f"/api/files?{query}")
    assert response.status_code == 200, response.text
    return {item["path"] for item in response.json()["items"]}


def test_the_list_filters_by_view_and_says_each_files_view(
    api: TestClient, rows: dict[str, File]
) -> None:
    assert listed(api, "view=overhead") == {"b/roofs.jpg", "c/flight.mp4"}
    assert listed(api, "view=ground") == {"a/street.jpg"}
    assert listed(api, "view=overhead&kind=image") == {"b/roofs.jpg"}
    assert listed(api, "") == {r.path for r in rows.values()}  # no filter: every view, none
    items = {i["path"]: i for i in api.get("/api/files").json()["items"]}
    assert (items["b/roofs.jpg"]["view"], items["b/roofs.jpg"]["view_confidence"]) == (
        "overhead", 0.88,
    )  # fmt: skip
    assert (items["d/old.jpg"]["view"], items["d/old.jpg"]["view_confidence"]) == (None, None)
    tracks = api.get("/api/tracks?view=ground")  # the map's twin takes the same filter
    assert tracks.status_code == 200, tracks.text


@pytest.mark.parametrize("view", ["aerial", "Overhead", "", "x" * 65])
def test_a_view_the_model_does_not_have_is_422(
    api: TestClient, rows: dict[str, File], view: str
) -> None:
    response = api.get("/api/files", params={"view": view})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == "view"
    bulk = api.post(
        "/api/files/bulk", json={"action": "reindex", "filter": {"view": view or "none"}}
    )
    assert bulk.status_code == 422, bulk.text


def test_without_a_model_any_view_name_filters(client: TestClient, rows: dict[str, File]) -> None:
    assert client.get("/api/files?view=aerial").json()["total"] == 0
    assert {i["path"] for i in client.get("/api/files?view=ground").json()["items"]} == {
        "a/street.jpg"
    }
    assert client.get("/api/views").json() == VIEWS  # the archive's own, with no model


def test_the_openapi_enum_is_the_models_views(
    api: TestClient, settings: ArchiveSettings, sessions: sessionmaker[Session]
) -> None:
    schema = api.get("/openapi.json").json()
    parameter = next(
        p for p in schema["paths"]["/api/files"]["get"]["parameters"] if p["name"] == "view"
    )
    branches = parameter["schema"].get("anyOf", [parameter["schema"]])
    assert [b.get("enum") for b in branches if b.get("type") == "string"] == [VIEWS]
    bulk = schema["components"]["schemas"]["BulkFilter"]["properties"]["view"]
    assert [b.get("enum") for b in bulk["anyOf"] if b.get("type") == "string"] == [VIEWS]
    plain = TestClient(create_app(settings, sessions)).get("/openapi.json").json()
    parameter = next(
        p for p in plain["paths"]["/api/files"]["get"]["parameters"] if p["name"] == "view"
    )
    assert "enum" not in str(parameter)  # no model views: any name
    assert api.get("/api/views").json() == VIEWS


def test_stats_count_files_per_view(api: TestClient, rows: dict[str, File]) -> None:
    stats = api.get("/api/stats").json()
    assert stats["view"] == {"ground": 1, "overhead": 2}  # the file without a view: uncounted


def test_a_bulk_action_takes_the_view_filter(api: TestClient, rows: dict[str, File]) -> None:
    body = {"action": "correct", "context": "desert", "filter": {"view": "ground"}}
    response = api.post("/api/files/bulk", json=body)
    assert response.json() == {"matched": 1, "changed": 1}, response.text
    assert listed(api, "context=desert&corrected=true") == {"a/street.jpg"}


def test_a_videos_share_of_its_time_is_its_first_top_k(
    api: TestClient, rows: dict[str, File]
) -> None:
    items = {i["path"]: i for i in api.get("/api/files").json()["items"]}
    assert items["c/flight.mp4"]["share"] == 0.68  # the badge's number: coast 68% of 5:00
    assert items["b/roofs.jpg"]["share"] is None  # an image's badge says its confidence
    detail = api.get(f"/api/files/{rows['video'].id}").json()
    assert detail["share"] == detail["top_k"][0]["probability"] == 0.68
    assert (detail["view"], detail["view_confidence"]) == ("overhead", 0.9)
    segments = [(s["context"], s["view"], s["view_confidence"]) for s in detail["segments"]]
    assert segments == [("coast", "overhead", 0.95), ("desert", "ground", 0.7)]
    fixed = api.put(f"/api/files/{rows['video'].id}/context", json={"context": "desert"})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["share"] == 0.68  # still the model's label's share (the GUI hides it)
