"""GET /api/failures: the failed and the unsupported files (one status, or both), each with its
status and a reason, the most recently tried first."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from .conftest import AddFile

T1, T2 = (datetime(2024, 5, d, tzinfo=timezone.utc) for d in (1, 2))


@pytest.fixture
def failing(add_file: AddFile) -> None:
    add_file("ok.jpg")
    add_file("broken.jpg", status="failed", error="truncated", last_processed=T1)
    add_file("notes.txt", kind="other", status="unsupported", format="text", last_processed=T2)
    add_file("waiting.jpg", status="pending")


def paths(client: TestClient, query: str = "") -> list[tuple[str, str, str]]:
    response = client.get(f"/api/failures{query}")
    assert response.status_code == 200, response.text
    return [(f["path"], f["status"], f["error"]) for f in response.json()]


@pytest.mark.usefixtures("failing")
def test_failures_list_both_statuses_with_their_reasons(client: TestClient) -> None:
    assert paths(client) == [
        ("notes.txt", "unsupported", "not an image or a video: text"),
        ("broken.jpg", "failed", "truncated"),
    ]
    assert paths(client, "?limit=1") == [paths(client)[0]]


@pytest.mark.usefixtures("failing")
@pytest.mark.parametrize(
    ("status", "expected"), [("failed", ["broken.jpg"]), ("unsupported", ["notes.txt"])]
)
def test_failures_of_one_status(client: TestClient, status: str, expected: list[str]) -> None:
    found = paths(client, f"?status={status}")
    assert [p for p, _, _ in found] == expected and {s for _, s, _ in found} == {status}


@pytest.mark.usefixtures("failing")
@pytest.mark.parametrize("status", ["indexed", "pending", "FAILED", ""])
def test_failures_refuse_other_statuses(client: TestClient, status: str) -> None:
    assert client.get(f"/api/failures?status={status}").status_code == 422
