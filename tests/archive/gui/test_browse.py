"""The grid, its filters (kept in the URL), keyboard use, and the cached static assets, in
Debian's Chromium against the real service."""

from __future__ import annotations

import re

import httpx

from .conftest import N_FILES, Archive
from .helpers import ready


def test_grid_shows_every_file_with_badges(page, archive: Archive) -> None:
    items = httpx.get(f"{archive.url}/api/files").json()["items"]
    page.goto("/")
    ready(page)
    assert page.inner_text("#total") == f"{N_FILES} files"
    cards = page.locator("#grid .card")
    assert cards.count() == N_FILES
    badges = page.locator("#grid .card .badge").all_inner_texts()
    assert [b.split()[0] for b in badges] == [i["context"] or "–" for i in items]
    assert {"red", "blue", "–"} == {i["context"] or "–" for i in items}
    assert all(re.search(r"\d+%( of \d+:\d\d)?$", b) for b in badges if not b.startswith("–"))
    first = page.locator("#grid .card img").first
    first.evaluate("img => img.decode()")
    assert first.evaluate("img => img.naturalWidth") > 0  # the WebP thumbnail was served
    assert page.locator("#grid .card", has_text="broken.jpg").locator(".status.failed").count()


def test_context_filter_narrows_and_survives_reload(page, archive: Archive) -> None:
    expected = httpx.get(f"{archive.url}/api/files", params={"context": "red"}).json()["total"]
    assert 0 < expected < N_FILES
    page.goto("/")
    ready(page)
    page.select_option("#filters select[name=context]", "red")
    page.wait_for_function(f"document.getElementById('view').dataset.total === '{expected}'")
    ready(page)
    assert "context=red" in page.url
    for _ in range(2):  # as filtered, then after a reload (the state is in the URL)
        assert page.inner_text("#total") == f"{expected} files"
        badges = page.locator("#grid .card .badge").all_inner_texts()
        assert len(badges) == expected and all(b.startswith("red") for b in badges)
        assert page.input_value("#filters select[name=context]") == "red"
        page.reload()
        ready(page)


def test_name_search_and_kind_filter_combine(page) -> None:
    page.goto("/#/files?kind=image&q=trip")
    ready(page)
    names = page.locator("#grid .card .name").all_inner_texts()
    assert sorted(names) == ["gps.jpg", "red2.jpg"]
    assert page.input_value("#filters input[name=q]") == "trip"
    page.fill("#filters input[name=q]", "gps")
    page.wait_for_function("document.getElementById('view').dataset.total === '1'")
    assert "q=gps" in page.url and "kind=image" in page.url


FOCUSED = "card => card.querySelector('a') === document.activeElement"  # the card's link


def test_keyboard_moves_opens_and_closes(page) -> None:
    page.goto("/")
    ready(page)
    cards = page.locator("#grid .card")
    assert cards.first.evaluate(FOCUSED)
    page.keyboard.press("ArrowRight")
    assert cards.nth(1).evaluate(FOCUSED)
    second = cards.nth(1).get_attribute("data-id")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"#/file/{second}\b"))
    ready(page)
    page.keyboard.press("Escape")
    page.wait_for_url(re.compile(r"#/files"))
    ready(page)
    assert cards.nth(1).evaluate(FOCUSED)  # back where it was


def test_static_assets_are_versioned_and_cached(archive: Archive) -> None:
    index = httpx.get(f"{archive.url}/")
    assert index.status_code == 200 and index.headers["cache-control"] == "no-cache"
    found = re.search(r'src="(/static/([0-9a-f]{12})/js/main\.js)"', index.text)
    assert found, index.text
    asset = httpx.get(f"{archive.url}{found[1]}")
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]
    stale = httpx.get(f"{archive.url}/static/000000000000/js/main.js")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    escape = httpx.get(f"{archive.url}/static/{found[2]}/..%2f..%2fapp.py")
    assert escape.status_code == 404
    assert httpx.get(f"{archive.url}/api/classes").json() == ["blue", "red"]
