"""The app as a whole: JSON errors (no traceback), OpenAPI, a constant number of queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db.models import File, Segment
from landrec.archive.settings import ArchiveSettings
from landrec.archive.web import create_app

AddFile = Callable[..., File]


def test_unexpected_errors_are_json_without_traceback(
    settings: ArchiveSettings, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, sessions)

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/api/busy")
    def busy() -> None:
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/api/boom")
    assert (response.status_code, response.json()) == (500, {"detail": "internal server error"})
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "secret internals" in caplog.text  # logged server-side
    busy_response = client.get("/api/busy")
    assert busy_response.status_code == 503
    assert busy_response.headers["retry-after"] == "5"
    assert "locked" not in busy_response.text


def test_http_errors_are_json(client: TestClient) -> None:
    for method, url, status in [
        ("GET", "/api/nothing", 404),
        ("DELETE", "/api/files/1", 405),
        ("GET", "/api/files/1", 404),
        ("GET", "/api/files/-1/content", 404),
    ]:
        response = client.request(method, url)
        assert response.status_code == status, url
        assert response.headers["content-type"] == "application/json"
        assert "detail" in response.json()


def test_openapi(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {
        "/api/health", "/api/files", "/api/files/{file_id}", "/api/files/{file_id}/thumbnail",
        "/api/files/{file_id}/content", "/api/stats", "/api/files/{file_id}/context",
        "/api/upload",
    } <= set(spec["paths"])  # fmt: skip
    names = {p["name"] for p in spec["paths"]["/api/files"]["get"]["parameters"]}
    assert {"from", "to", "bbox", "page_size", "sort"} <= names


def test_list_queries_do_not_grow_with_rows(
    client: TestClient, add_file: AddFile, sessions: sessionmaker[Session]
) -> None:
    """Three statements (any credential?, count, page) for any page size: no query per item or
    per segment."""
    for i in range(30):
        add_file(f"v{i}.mp4", kind="video", context="forest", confidence=0.5)
    with sessions() as session:
        for row in session.query(File):
            row.segments = [Segment(index=0, context="forest"), Segment(index=1, context="coast")]
        session.commit()
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        items = client.get("/api/files?page_size=30&context=forest").json()["items"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(items) == 30
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3
