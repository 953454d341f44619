"""The ingest view in Chromium against its own service (uploads and retries change the archive):
failed and unsupported files listed with their reasons and linked, a Retry per file and
"Retry all failed" through the bulk API (editors only), and a refresh that updates the counters
and the table in place, keeping the focus and the upload panel."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Route, expect

from conftest import write_image, write_truncated

from .conftest import RED, open_page
from .helpers import ready, served

FILES = 3  # a photo, a truncated JPEG (failed), a text file (unsupported)
WAIT_MS = 20_000  # for a state the page reaches after the service's work, under load
VIEWER = {"name": "vera", "role": "viewer", "via": "token", "csrf": None}


@pytest.fixture(scope="module")
def ingesting(tmp_path_factory: pytest.TempPathFactory, colour_model: Path) -> Iterator[str]:
    """The service over a photo, a truncated JPEG and a text file: its URL."""
    root = tmp_path_factory.mktemp("ingesting")
    storage = root / "storage"
    write_image(storage / "red1.jpg", RED, seed=1)
    write_truncated(storage / "broken.jpg", RED, seed=4)
    (storage / "notes.txt").write_text("not a photo\n")
    with served(storage, colour_model, FILES) as url:
        yield url


@pytest.fixture
def tab(browser, ingesting: str) -> Iterator:
    with open_page(browser, ingesting) as page:
        yield page


def failures(url: str) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in httpx.get(f"{url}/api/failures").json()}


def jpeg(colour: tuple[int, int, int] = RED) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "JPEG")
    return out.getvalue()


def test_failed_and_unsupported_files_are_listed_with_their_reasons(tab, ingesting: str) -> None:
    tab.goto("/#/ingest")
    ready(tab)
    assert tab.locator(".counter.failed .n").inner_text() == "1"
    assert tab.locator(".counter.unsupported .n").inner_text() == "1"
    rows = tab.locator("#failures tbody tr")
    expect(rows).to_have_count(2, timeout=WAIT_MS)
    known = failures(ingesting)
    for path, status in (("broken.jpg", "failed"), ("notes.txt", "unsupported")):
        row = tab.locator(f"#failures tbody tr[data-status={status}]")
        assert row.locator(".status").inner_text() == status
        assert row.locator(".reason").inner_text() == known[path]["error"]
        assert row.locator("a").get_attribute("href") == f"#/file/{known[path]['id']}"
    reason = tab.locator("#failures tr[data-status=unsupported] .reason").inner_text()
    assert reason == "unsupported format (text)"  # the indexer's own words
    tab.locator("#failures tr[data-status=unsupported] a").click()
    tab.wait_for_url(f"**/#/file/{known['notes.txt']['id']}")
    ready(tab)


def test_refresh_updates_counters_in_place_keeping_focus_and_uploads(tab, ingesting: str) -> None:
    tab.goto("/#/ingest")
    ready(tab)
    indexed = int(tab.locator(".counter.indexed .n").inner_text())
    link = tab.locator("#failures tbody tr", has_text="broken.jpg").locator("a")
    link.focus()
    link.evaluate("a => { a.dataset.mark = 'kept'; }")
    files = {"file": ("refresh.jpg", jpeg(), "image/jpeg")}
    assert httpx.post(f"{ingesting}/api/upload", files=files).status_code == 201
    expect(tab.locator(".counter.indexed .n")).to_have_text(str(indexed + 1), timeout=WAIT_MS)
    assert tab.evaluate("document.activeElement.dataset.mark") == "kept"
    # the upload panel (uploads in progress) is kept through a refresh too
    tab.locator(".upload-panel").evaluate("p => { p.dataset.mark = 'kept'; }")
    files = {"file": ("refresh2.jpg", jpeg(), "image/jpeg")}
    assert httpx.post(f"{ingesting}/api/upload", files=files).status_code == 201
    expect(tab.locator(".counter.indexed .n")).to_have_text(str(indexed + 2), timeout=WAIT_MS)
    assert tab.locator(".upload-panel[data-mark=kept]").count() == 1
    assert tab.evaluate("document.activeElement.dataset.mark") == "kept"


def test_retry_one_file_and_all_failed_through_the_bulk_api(tab, ingesting: str) -> None:
    sent: list[dict[str, Any]] = []

    def bulk(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        sent.append(body)
        matched = len(body.get("ids", [])) or 1
        route.fulfill(json={"matched": matched, "changed": matched})

    tab.route("**/api/files/bulk", bulk)
    tab.goto("/#/ingest")
    ready(tab)
    known = failures(ingesting)
    status = tab.locator("#retry-status[role=status]")
    tab.get_by_role("button", name="Retry notes.txt").click()
    expect(status).to_have_text(
        "Retried notes.txt: 1 of 1 queued for indexing again.", timeout=WAIT_MS
    )
    tab.locator("#retry-all").click()
    expect(status).to_have_text(
        "Retried all failed files: 1 of 1 queued for indexing again.", timeout=WAIT_MS
    )
    assert sent == [
        {"action": "reindex", "ids": [known["notes.txt"]["id"]]},
        {"action": "reindex", "filter": {"status": "failed"}},
    ]


def test_retry_reindexes_the_failed_file(tab, ingesting: str) -> None:
    """Against the real bulk API: the file is tried again (and fails again, later)."""
    before = failures(ingesting)["broken.jpg"]["last_processed"]
    tab.goto("/#/ingest")
    ready(tab)
    tab.get_by_role("button", name="Retry broken.jpg").click()
    expect(tab.locator("#retry-status")).to_have_text(
        "Retried broken.jpg: 1 of 1 queued for indexing again.", timeout=WAIT_MS
    )
    deadline = time.monotonic() + 60
    while failures(ingesting).get("broken.jpg", {}).get("last_processed", before) <= before:
        assert time.monotonic() < deadline, "the retried file was not tried again"
        time.sleep(0.2)  # polling the service's state, as wait_indexed does
    expect(tab.locator("#failures tr[data-status=failed] .path")).to_have_text(
        "broken.jpg", timeout=WAIT_MS
    )


def test_viewers_get_neither_retry_nor_upload(tab) -> None:
    tab.route("**/api/me", lambda route: route.fulfill(json=VIEWER))
    tab.goto("/#/ingest")
    ready(tab)
    expect(tab.locator("#failures tbody tr")).to_have_count(2, timeout=WAIT_MS)
    assert tab.locator("#failures button").count() == 0
    assert tab.locator("#retry-all, #upload-pick, #upload-input, #dropzone").count() == 0
