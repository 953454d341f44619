"""The grid and its filter bar in daily use: typing never loses focus or characters, a date
or a percent is sent only when whole, every filter (status, map area) is in the bar and kept
on opening a file, files sorted by when they were taken under a heading per month, a jump to
a month, pagers above and below, the result count announced. A storage of 80 dated photos
over three months, so that the grid has two pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from .conftest import open_page
from .helpers import ready, served, write_gps_jpeg

# month -> photos taken then; the grid (60 a page, newest first) starts January on page 2
MONTHS = {"2024-03": 40, "2024-02": 30, "2024-01": 10}
N_PHOTOS = sum(MONTHS.values())


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory, colour_model: Path) -> Iterator[str]:
    """The service over 80 dated photos: red ones in the Alps, blue ones elsewhere; half of
    each strongly coloured (a confidence near 1), half faintly."""
    root = tmp_path_factory.mktemp("dated")
    n = 0
    for month, count in MONTHS.items():
        year, mon = month.split("-")
        for day in range(count):
            strong = n % 4 < 2  # a confidence near 1, else about 0.8
            red, blue = (
                ((220, 30, 30), (30, 30, 220)) if strong else ((140, 100, 100), (100, 100, 140))
            )
            colour, place = (red, (46.5, 8.0)) if n % 2 else (blue, (40.0, -3.0))
            taken = f"{year}:{mon}:{1 + day % 28:02d} {day % 24:02d}:00:00"
            name = root / "storage" / f"{month}" / f"photo{n:03d}.jpg"
            write_gps_jpeg(name, Image.new("RGB", (48, 36), colour), *place, taken=taken)
            n += 1
    with served(root / "storage", colour_model, N_PHOTOS) as url:
        yield url


@pytest.fixture
def tab(browser, dated: str) -> Iterator:
    with open_page(browser, dated) as page:
        yield page


def total_is(page, n: int) -> None:
    page.wait_for_function(f"document.getElementById('view').dataset.total === '{n}'")
    ready(page)


def api_total(url: str, **params: str) -> int:
    return int(httpx.get(f"{url}/api/files", params=params).json()["total"])


def record_hashes(page) -> None:
    """Keep every URL hash the page goes through in `window.hashes`."""
    page.evaluate(
        "window.hashes = []; addEventListener('hashchange', () => hashes.push(location.hash))"
    )


def test_typing_a_name_keeps_the_focus_and_every_character(tab) -> None:
    tab.goto("/")
    ready(tab)
    field = tab.locator("#filters input[name=q]")
    field.click()
    tab.keyboard.type("photo00")
    total_is(tab, 10)  # the grid redrew after the pause: photo000..photo009
    tab.keyboard.type("7")
    total_is(tab, 1)
    assert field.input_value() == "photo007"
    assert field.evaluate("f => f === document.activeElement")
    assert "q=photo007" in tab.url


def test_a_date_is_sent_only_once_its_year_is_whole(tab, dated: str) -> None:
    tab.goto("/")
    ready(tab)
    record_hashes(tab)
    tab.locator("#filters input[name=from]").focus()
    tab.keyboard.type("03012024")  # en-US order: month, day, year; each digit fires events
    expected = api_total(dated, **{"from": "2024-03-01"})
    total_is(tab, expected)
    assert expected == MONTHS["2024-03"]
    hashes = tab.evaluate("hashes")
    assert [h for h in hashes if "from=" in h] == [h for h in hashes if "from=2024-03-01" in h]
    assert tab.input_value("#filters input[name=from]") == "2024-03-01"


def test_min_confidence_is_typed_as_a_percent(tab, dated: str) -> None:
    expected = api_total(dated, min_confidence="0.95")
    assert expected == N_PHOTOS // 2  # the strongly coloured ones
    tab.goto("/")
    ready(tab)
    tab.fill("#filters input[name=min_confidence]", "95")
    total_is(tab, expected)
    assert "min_confidence=0.95" in tab.url
    assert not tab.locator(".error").count()


def test_an_invalid_link_says_which_field_is_wrong(tab) -> None:
    tab.goto("/#/files?min_confidence=2")
    tab.wait_for_selector("#view[data-state=error]")
    message = tab.inner_text("#view .error")
    assert "min_confidence" in message and "less than or equal to 1" in message
    assert "[object Object]" not in message


def test_status_and_map_area_are_in_the_bar_and_kept_on_opening_a_file(tab, dated: str) -> None:
    bbox = "7,46,9,47"  # the Alps: the red photos
    expected = api_total(dated, bbox=bbox, status="indexed")
    assert expected == N_PHOTOS // 2
    tab.goto(f"/#/files?bbox={bbox}")
    ready(tab)
    chip = tab.locator("#area")
    assert chip.is_visible() and "46.00°N 7.00°E to 47.00°N 9.00°E" in chip.inner_text()
    tab.select_option("#filters select[name=status]", "indexed")
    total_is(tab, expected)
    tab.locator("#grid .card a, #grid a.card").first.click()
    tab.wait_for_url(re.compile(r"#/file/\d+"))
    assert "bbox=" in tab.url and "status=indexed" in tab.url
    ready(tab)
    tab.keyboard.press("Escape")
    total_is(tab, expected)
    assert tab.input_value("#filters select[name=status]") == "indexed"
    tab.click("#clear-area")
    total_is(tab, N_PHOTOS)
    assert "bbox" not in tab.url and chip.is_hidden()


def test_files_sort_by_date_taken_under_a_heading_per_month(tab, dated: str) -> None:
    newest = httpx.get(f"{dated}/api/files", params={"sort": "-taken_at", "page_size": 60})
    tab.goto("/")
    ready(tab)
    names = tab.locator("#grid .card .name").all_inner_texts()
    assert names == [item["path"].split("/")[-1] for item in newest.json()["items"]]
    headings = tab.locator("#grid .date-heading").all_inner_texts()
    assert headings == ["March 2024", "February 2024"]  # page 1: 40 of March, 20 of February
    assert tab.locator("[data-month='2024-03'] .card").count() == 40
    tab.select_option("#sort", "-id")
    ready(tab)
    assert "sort=-id" in tab.url and not tab.locator("#grid .date-heading").count()


def test_jump_to_a_month_opens_its_page_and_focuses_its_heading(tab) -> None:
    tab.goto("/")
    ready(tab)
    options = tab.locator("#jump option").all_inner_texts()
    assert options[1:] == ["March 2024 (40)", "February 2024 (30)", "January 2024 (10)"]
    tab.select_option("#jump", "2024-01")
    tab.wait_for_url(re.compile(r"page=2"))
    ready(tab)
    heading = tab.locator("#month-2024-01")
    assert heading.inner_text() == "January 2024"
    assert heading.evaluate("h => h === document.activeElement")
    assert tab.locator("[data-month='2024-01'] .card").count() == 10


def test_pagers_above_and_below_and_the_count_announced(tab) -> None:
    tab.goto("/")
    ready(tab)
    assert tab.locator("nav.pager").count() == 2
    assert tab.inner_text("#announce") == f"{N_PHOTOS} files"
    tab.locator("nav.pager").last.locator("[rel=next]").click()
    tab.wait_for_url(re.compile(r"page=2"))
    ready(tab)
    assert tab.inner_text("#announce") == f"{N_PHOTOS} files, page 2"
    assert tab.evaluate("scrollY") == 0  # the new page starts at its top
    assert tab.locator("#grid .card").count() == N_PHOTOS - 60


def test_phone_width_never_scrolls_sideways(browser, dated: str) -> None:
    with open_page(browser, dated, phone=True) as page:
        for view in ["#/files", "#/stats", "#/ingest", "#/map"]:
            page.goto(f"/{view}")
            ready(page)
            width = page.evaluate("document.scrollingElement.scrollWidth - innerWidth")
            assert width <= 0, f"{view} scrolls sideways by {width} px"


def test_phone_folds_the_filter_bar_behind_a_button(browser, dated: str) -> None:
    with open_page(browser, dated, phone=True) as page:
        page.goto("/#/files?status=indexed")
        ready(page)
        toggle = page.locator("#filters-toggle")
        assert toggle.inner_text() == "Filters (1 set)"
        assert page.locator("#filters select[name=context]").is_hidden()
        assert page.locator("#grid .card").first.bounding_box()["y"] < 400  # the grid is up
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true"
        page.select_option("#filters select[name=context]", "red")
        page.wait_for_url(re.compile(r"context=red"))
        ready(page)
        box = toggle.bounding_box()
        assert box["height"] >= 24 and box["width"] >= 24


def test_a_heading_and_a_skip_link_to_the_content(tab) -> None:
    tab.goto("/#/stats")  # a view that focuses nothing of its own
    ready(tab)
    assert tab.locator("h1").inner_text() == "landrec archive"
    tab.keyboard.press("Tab")
    skip = tab.locator("#skip")
    assert skip.evaluate("a => a === document.activeElement") and skip.is_visible()
    assert skip.bounding_box()["y"] >= 0  # on screen once focused
    tab.keyboard.press("Enter")
    assert tab.evaluate("document.activeElement.id") == "view"
    assert tab.url.endswith("#/stats")  # the route did not change


def test_next_in_a_detail_follows_the_grids_default_order(tab) -> None:
    tab.goto("/")
    ready(tab)
    ids = tab.locator("#grid .card").evaluate_all("cards => cards.map(c => c.dataset.id)")
    tab.locator("#grid .card a").first.click()
    tab.wait_for_url(re.compile(rf"#/file/{ids[0]}\b"))
    ready(tab)
    tab.locator(".walk-next").click()
    tab.wait_for_url(re.compile(rf"#/file/{ids[1]}\b"))
