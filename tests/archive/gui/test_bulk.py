"""Bulk work in the grid, in Chromium against the service: select cards (checkbox, shift-click
for a range, a click on a card while selecting, Space), select every file matching the filter
(more than a page: confirmed first, the API gets the filter), correct, put back to the model's
label, re-index (a failed file is tried again at once); a viewer gets no selection."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from conftest import write_image, write_truncated

from .conftest import BLUE, RED, open_page
from .helpers import ready, served

N_RED = 62  # more than a page of the grid (60)
N_FILES = N_RED + 2 + 1  # and two blue photos, one truncated JPEG


@pytest.fixture(scope="module")
def bulk_archive(tmp_path_factory: pytest.TempPathFactory, colour_model: Path) -> Iterator[str]:
    """The service over 62 red photos, 2 blue ones and a broken JPEG (its own storage: the
    tests here change the archive): its URL."""
    root = tmp_path_factory.mktemp("bulk")
    storage = root / "storage"
    for i in range(N_RED):
        write_image(storage / "red" / f"r{i:02d}.jpg", RED, seed=100 + i, size=32)
    write_image(storage / "b1.jpg", BLUE, seed=1, size=32)
    write_image(storage / "b2.jpg", BLUE, seed=2, size=32)
    write_truncated(storage / "broken.jpg", RED, seed=3)
    with served(storage, colour_model, N_FILES) as url:
        yield url


@pytest.fixture
def tab(browser, bulk_archive: str) -> Iterator:
    with open_page(browser, bulk_archive) as page:
        yield page


def total(url: str, **params: str) -> int:
    return int(httpx.get(f"{url}/api/files", params=params).json()["total"])


def undo_all(url: str) -> None:
    """Every correction made by a test taken back (the next test sees the archive as indexed)."""
    body = {"action": "clear", "filter": {"corrected": True}}
    assert httpx.post(f"{url}/api/files/bulk", json=body).status_code == 200
    assert total(url, corrected="true") == 0


def test_select_with_clicks_and_shift_click_then_correct(tab, bulk_archive: str) -> None:
    tab.goto("/#/files?sort=path&q=b")
    ready(tab)
    cards = tab.locator("#grid .card")
    names = cards.locator(".name").all_inner_texts()
    assert names == ["b1.jpg", "b2.jpg", "broken.jpg"]
    boxes = tab.locator("#grid .card .pick")
    assert [b.get_attribute("aria-label") for b in boxes.all()] == [f"Select {n}" for n in names]
    size = boxes.first.bounding_box()
    assert size and size["width"] >= 24 and size["height"] >= 24
    try:
        boxes.nth(0).click()
        expect(tab.locator(".select-count")).to_have_text("1 file selected")
        boxes.nth(2).click(modifiers=["Shift"])  # the range from the last one clicked
        expect(tab.locator(".select-count")).to_have_text("3 files selected")
        cards.nth(1).locator(".open").click()  # while selecting, a click toggles the card
        expect(tab.locator(".select-count")).to_have_text("2 files selected")
        assert "#/files" in tab.url  # not opened
        cards.nth(1).locator(".open").focus()
        tab.keyboard.press("Space")
        expect(tab.locator(".select-count")).to_have_text("3 files selected")
        assert tab.locator("#grid .card.selected").count() == 3
        tab.select_option("#bulk-context", "red")
        with tab.expect_request("**/api/files/bulk") as sent:
            tab.click("#bulk-apply")  # on this page only: no confirmation
        assert sorted(json.loads(sent.value.post_data or "{}")["ids"]) == sorted(
            int(c.get_attribute("data-id") or 0) for c in cards.all()
        )
        # b1, b2 blue -> red; broken.jpg has no label: corrected to red too
        expect(tab.locator(".selectbar [role=status]")).to_have_text("3 files corrected to red")
        ready(tab)
        badges = tab.locator("#grid .card .badge").all_inner_texts()
        assert [b.split()[0] for b in badges] == ["red", "red", "red"]
        assert tab.locator("#grid .card .corrected").count() == 3
        assert tab.locator("#grid .card .pick:checked").count() == 0  # the selection cleared
        assert tab.locator(".select-count").count() == 0
        # back to the model's label: the correction cleared, in one action
        boxes.nth(0).click()
        boxes.nth(1).click()
        tab.click("#bulk-clear")
        expect(tab.locator(".selectbar [role=status]")).to_have_text(
            "2 files back to the model's label"
        )
        ready(tab)
        badges = tab.locator("#grid .card .badge").all_inner_texts()
        assert [b.split()[0] for b in badges] == ["blue", "blue", "red"]
        assert total(bulk_archive, corrected="true") == 1
    finally:
        undo_all(bulk_archive)


def test_select_all_matching_takes_every_page_after_a_confirmation(tab, bulk_archive: str) -> None:
    tab.goto("/#/files?context=red")
    ready(tab)
    assert tab.locator("#grid .card").count() == 60  # one page of the 62
    try:
        tab.click("text=Select all 62 files matching")
        expect(tab.locator(".select-count")).to_have_text("62 files selected")
        assert tab.locator("#grid .card .pick:checked").count() == 60
        tab.select_option("#bulk-context", "blue")
        tab.click("#bulk-apply")
        expect(tab.locator(".select-question")).to_contain_text("Correct 62 files to blue?")
        assert total(bulk_archive, context="blue") == 2  # nothing done before the confirmation
        tab.click(".select-actions button.cancel")
        expect(tab.locator(".select-count")).to_have_text("62 files selected")
        tab.click("#bulk-apply")
        with tab.expect_request("**/api/files/bulk") as sent:
            tab.click(".select-actions button.confirm")
        body = json.loads(sent.value.post_data or "{}")
        assert body == {"action": "correct", "context": "blue", "filter": {"context": "red"}}
        expect(tab.locator(".selectbar [role=status]")).to_have_text("62 files corrected to blue")
        ready(tab)
        assert tab.inner_text("#total") == "0 files"
        assert total(bulk_archive, context="blue", corrected="true") == 62
    finally:
        undo_all(bulk_archive)


def test_reindex_tries_a_failed_file_again_at_once(tab, bulk_archive: str) -> None:
    (failed,) = httpx.get(f"{bulk_archive}/api/files", params={"status": "failed"}).json()["items"]
    before = httpx.get(f"{bulk_archive}/api/files/{failed['id']}").json()["last_processed"]
    tab.goto("/#/files?status=failed")
    ready(tab)
    tab.locator("#grid .card .pick").click()
    tab.click("#bulk-reindex")
    expect(tab.locator(".selectbar [role=status]")).to_have_text("1 file queued for re-indexing")
    deadline = time.monotonic() + 30  # a cap: the loop is woken, not left to its 60 s rescan
    while time.monotonic() < deadline:
        now = httpx.get(f"{bulk_archive}/api/files/{failed['id']}").json()
        if now["status"] == "failed" and now["last_processed"] != before:
            break
        time.sleep(0.2)
    assert now["status"] == "failed" and now["last_processed"] > before, now
    assert now["error"] == failed["error"]  # the same reason, found again


@pytest.mark.parametrize(("role", "boxes"), [("viewer", 0), ("editor", 60)])
def test_only_an_editor_gets_the_selection(
    browser, bulk_archive: str, role: str, boxes: int
) -> None:
    with open_page(browser, bulk_archive) as page:
        me = {"name": "bob", "role": role, "via": "token", "csrf": None}
        page.route("**/api/me", lambda route: route.fulfill(json=me))
        page.goto("/")
        ready(page)
        assert page.locator("#grid .card").count() == 60
        assert page.locator("#grid .pick").count() == boxes
        assert page.locator(".selectbar").count() == (1 if boxes else 0)
