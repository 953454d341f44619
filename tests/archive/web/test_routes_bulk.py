"""Bulk actions (POST /api/files/bulk: correct, clear, re-index many files by ids or by the
list's filter, one transaction, one audit row) and the correction's own semantics: the model's
label clears a correction, DELETE /api/files/{id}/context undoes one."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive import accounts
from landrec.archive.db.models import Audit, Correction, File, Role
from landrec.archive.settings import ArchiveSettings
from landrec.archive.web import create_app
from landrec.archive.web.schemas import MAX_BULK_IDS

from .conftest import AddFile
from .test_auth import bearer, login

CLASSES = ["coast", "desert", "forest", "glacier"]


@pytest.fixture
def api(settings: ArchiveSettings, sessions: sessionmaker[Session]) -> TestClient:
    return TestClient(create_app(settings, sessions, classes=CLASSES))


@pytest.fixture
def rows(add_file: AddFile) -> dict[str, File]:
    """A glacier, a coast, a coast corrected from desert, a failed file and a missing one."""
    return {
        "glacier": add_file("alps/glacier.jpg", context="glacier", model_context="glacier",
                            confidence=0.9, sha256="a" * 64),
        "coast": add_file("sea/beach.jpg", context="coast", model_context="coast",
                          confidence=0.6, sha256="b" * 64),
        "fixed": add_file("sea/island.jpg", context="coast", model_context="desert",
                          confidence=0.95, corrected=True, sha256="c" * 64),
        "failed": add_file("bad/broken.jpg", status="failed", error="truncated", attempts=3,
                           sha256="d" * 64),
        "gone": add_file("old/gone.jpg", status="missing", context="forest",
                         model_context="forest", sha256="e" * 64),
    }  # fmt: skip


def state(sessions: sessionmaker[Session], row: File) -> tuple[Any, ...]:
    with sessions() as session:
        now = session.get(File, row.id)
        assert now is not None
        return now.context, now.corrected, now.status, now.attempts, now.error, now.sha256


def history(sessions: sessionmaker[Session], row: File) -> list[tuple[str, str | None]]:
    with sessions() as session:
        query = select(Correction).where(Correction.file_id == row.id).order_by(Correction.id)
        return [(c.context, c.model_context) for c in session.scalars(query)]


def audits(sessions: sessionmaker[Session]) -> list[tuple[str, str | None, str | None]]:
    with sessions() as session:
        query = select(Audit).where(Audit.action == "bulk").order_by(Audit.id)
        return [(a.actor, a.target, a.detail) for a in session.scalars(query)]


def test_correct_by_ids_changes_only_what_differs_and_records_each(
    api: TestClient, rows: dict[str, File], sessions: sessionmaker[Session]
) -> None:
    ids = [rows["glacier"].id, rows["coast"].id, rows["fixed"].id, rows["coast"].id, 999_999]
    response = api.post("/api/files/bulk", json={"action": "correct", "context": "glacier",
                                                 "ids": ids})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json() == {"matched": 3, "changed": 2}  # the glacier was one already
    assert state(sessions, rows["glacier"])[:2] == ("glacier", False)
    assert state(sessions, rows["coast"])[:2] == ("glacier", True)
    assert state(sessions, rows["fixed"])[:2] == ("glacier", True)
    assert history(sessions, rows["glacier"]) == []
    assert history(sessions, rows["coast"]) == [("glacier", "coast")]
    assert history(sessions, rows["fixed"]) == [("glacier", "desert")]
    assert audits(sessions) == [("anonymous", "correct to glacier", "2 of 3 files changed")]
    listed = api.get("/api/files", params={"context": "glacier", "corrected": "true"}).json()
    assert {i["path"] for i in listed["items"]} == {"sea/beach.jpg", "sea/island.jpg"}


def test_correct_to_the_models_label_clears_the_correction(
    api: TestClient, rows: dict[str, File], sessions: sessionmaker[Session]
) -> None:
    body = {"action": "correct", "context": "desert", "ids": [rows["fixed"].id]}
    assert api.post("/api/files/bulk", json=body).json() == {"matched": 1, "changed": 1}
    assert state(sessions, rows["fixed"])[:2] == ("desert", False)
    assert history(sessions, rows["fixed"]) == [("desert", "desert")]


def test_clear_by_filter_takes_every_matching_file_not_one_page(
    api: TestClient, rows: dict[str, File], sessions: sessionmaker[Session]
) -> None:
    body = {"action": "clear", "filter": {"context": "coast"}}
    assert api.post("/api/files/bulk", json=body).json() == {"matched": 2, "changed": 1}
    assert state(sessions, rows["fixed"])[:2] == ("desert", False)
    assert state(sessions, rows["coast"])[:2] == ("coast", False)
    assert history(sessions, rows["fixed"]) == [("desert", "desert")]
    assert history(sessions, rows["coast"]) == []
    # every filter key of the list: a matching file, and one that matches none
    wide = {"context": "desert", "kind": "image", "format": "JPEG image", "from": "2000-01-01",
            "to": "2100-12-31", "min_confidence": 0.9, "corrected": False, "q": "island",
            "status": "indexed", "camera": None, "unknown": False, "campaign": None,
            "bbox": None}  # fmt: skip
    corrected = {"action": "correct", "context": "forest", "filter": wide}
    assert api.post("/api/files/bulk", json=corrected).json() == {"matched": 0, "changed": 0}
    wide["from"] = None  # no time taken: no date filter matches it
    wide["to"] = None
    assert api.post("/api/files/bulk", json=corrected).json() == {"matched": 1, "changed": 1}
    assert state(sessions, rows["fixed"])[:2] == ("forest", True)


def test_reindex_makes_files_pending_again_but_not_missing_ones(
    api: TestClient, rows: dict[str, File], sessions: sessionmaker[Session]
) -> None:
    ids = [rows["failed"].id, rows["glacier"].id, rows["gone"].id]
    response = api.post("/api/files/bulk", json={"action": "reindex", "ids": ids})
    assert response.json() == {"matched": 3, "changed": 2}
    pending = ("pending", 0, None, None)
    assert state(sessions, rows["failed"])[2:] == pending
    assert state(sessions, rows["glacier"])[2:] == pending
    assert state(sessions, rows["glacier"])[:2] == ("glacier", False)  # labels kept
    assert state(sessions, rows["gone"])[2:] == ("missing", 0, None, "e" * 64)
    again = api.post("/api/files/bulk", json={"action": "reindex", "ids": ids})
    assert again.json() == {"matched": 3, "changed": 0}
    assert api.get("/api/health").json()["pending"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {"action": "correct", "context": "mountain", "ids": [1]},  # not one of the classes
        {"action": "correct", "context": "unknown", "ids": [1]},
        {"action": "correct", "ids": [1]},  # correct without a context
        {"action": "clear", "context": "coast", "ids": [1]},  # a context with clear
        {"action": "retag", "ids": [1]},
        {"action": "clear", "ids": []},
        {"action": "clear"},  # neither ids nor a filter
        {"action": "clear", "ids": [1], "filter": {}},  # both
        {"action": "clear", "filter": {"contxt": "coast"}},  # a misspelt key: never "all"
        {"action": "clear", "filter": {"page": 2}},  # the list's paging is no filter
        {"action": "clear", "filter": {"from": "yesterday"}},
        {"action": "clear", "filter": {"bbox": "1,2,3"}},
        {"action": "clear", "filter": {"min_confidence": 95}},
        {"action": "clear", "filter": {"kind": "sound"}},
        {"action": "clear", "ids": [2**63]},
        {"action": "clear", "ids": ["1; drop"]},
    ],
)
def test_invalid_bodies_are_422_and_change_nothing(
    api: TestClient, rows: dict[str, File], sessions: sessionmaker[Session], body: dict
) -> None:
    response = api.post("/api/files/bulk", json=body)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)
    assert state(sessions, rows["fixed"])[:2] == ("coast", True)
    assert audits(sessions) == []


def test_more_ids_than_the_cap_are_refused_clearly(api: TestClient, rows: dict[str, File]) -> None:
    ids = list(range(1, MAX_BULK_IDS + 2))
    response = api.post("/api/files/bulk", json={"action": "clear", "ids": ids})
    assert response.status_code == 422
    assert f"at most {MAX_BULK_IDS} items" in response.text
    ok = api.post("/api/files/bulk", json={"action": "clear", "ids": ids[:MAX_BULK_IDS]})
    assert ok.json() == {"matched": 5, "changed": 1}


def test_a_viewer_is_refused_a_cookie_needs_the_csrf_token(
    client: TestClient, rows: dict[str, File], sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        viewer = accounts.create_token(session, "cam", Role.VIEWER, "test")
        accounts.create_user(session, "ada", Role.EDITOR, "correct horse battery", "test")
    body = {"action": "clear", "ids": [rows["fixed"].id]}
    assert client.post("/api/files/bulk", json=body).status_code == 401
    assert client.post("/api/files/bulk", json=body, headers=bearer(viewer)).status_code == 403
    csrf = login(client, "ada", "correct horse battery")
    assert client.post("/api/files/bulk", json=body).status_code == 403
    ok = client.post("/api/files/bulk", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.json() == {"matched": 1, "changed": 1}
    assert audits(sessions) == [("ada", "clear", "1 of 1 files changed")]


def test_put_of_the_models_label_clears_and_delete_undoes(
    api: TestClient, rows: dict[str, File], sessions: sessionmaker[Session]
) -> None:
    coast, fixed = rows["coast"], rows["fixed"]
    back = api.put(f"/api/files/{fixed.id}/context", json={"context": "desert"})
    assert back.status_code == 200, back.text
    assert (back.json()["context"], back.json()["corrected"]) == ("desert", False)
    assert api.get("/api/files", params={"corrected": "true"}).json()["total"] == 0
    put = api.put(f"/api/files/{coast.id}/context", json={"context": "forest"})
    assert (put.json()["context"], put.json()["corrected"]) == ("forest", True)
    undone = api.delete(f"/api/files/{coast.id}/context")
    assert undone.status_code == 200, undone.text
    assert (undone.json()["context"], undone.json()["corrected"]) == ("coast", False)
    detail = api.get(f"/api/files/{coast.id}").json()
    assert [c["context"] for c in detail["corrections"]] == ["forest", "coast"]
    again = api.delete(f"/api/files/{coast.id}/context")  # not corrected: nothing to undo
    assert (again.status_code, again.json()["context"]) == (200, "coast")
    assert history(sessions, coast) == [("forest", "coast"), ("coast", "coast")]
    assert api.delete("/api/files/999999/context").status_code == 404
