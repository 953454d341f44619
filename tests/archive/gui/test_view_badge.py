"""The model's view in the GUI (issue 29), in Debian's Chromium against the real service with a
model that tells views apart: a view pill on each card and in the detail, the View filter (kept
in the URL and in a detail's), a segment's view in the timeline, and a video's badge, top-k and
timeline saying the same share of its time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import write_image

from .a11y import violations
from .conftest import open_page
from .helpers import ready, served, write_video

RED, YELLOW, CYAN = (220, 30, 30), (220, 200, 30), (30, 200, 220)  # cyan: blue, overhead
N_FILES = 4
BADGE = re.compile(r"^(\w+) · (\d+)% of (\d+:\d\d)$")  # a video's: "red · 67% of 0:27"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, view_model: Path) -> Iterator[str]:
    """The service over two ground photos, an overhead one and a video (18 s red on the
    ground, then 9 s blue from overhead), with a model that has views, all indexed."""
    storage = tmp_path_factory.mktemp("views") / "storage"
    write_image(storage / "red.jpg", RED, seed=1)
    write_image(storage / "blue.jpg", (30, 30, 220), seed=2)
    write_image(storage / "roofs.jpg", YELLOW, seed=3)
    write_video(storage / "flight.mp4", [RED, RED, CYAN], seconds_each=9.0, fps=2)
    with served(storage, view_model, N_FILES) as address:
        yield address


@pytest.fixture
def tab(browser, url: str) -> Iterator:
    with open_page(browser, url) as page:
        yield page


def items(url: str, **params: str) -> dict[str, dict]:
    listed = httpx.get(f"{url}/api/files", params=params).json()["items"]
    return {i["path"]: i for i in listed}


def total_is(tab, n: int) -> None:
    tab.wait_for_function(f"document.getElementById('view').dataset.total === '{n}'")
    ready(tab)


def test_each_card_and_the_detail_show_the_view_with_its_confidence(tab, url: str) -> None:
    files = items(url)
    assert {p: i["view"] for p, i in files.items()} == {
        "red.jpg": "ground", "blue.jpg": "ground", "roofs.jpg": "overhead",
        "flight.mp4": "ground",
    }  # fmt: skip
    tab.goto("/")
    ready(tab)
    for path, item in files.items():
        pill = tab.locator("#grid .card", has_text=path).locator(".view-pill")
        assert pill.inner_text() == item["view"]
        confidence = f"{round(100 * item['view_confidence'])}%"
        assert confidence in pill.get_attribute("title"), pill.get_attribute("title")
    tab.locator("#grid .card", has_text="roofs.jpg").locator("a").click()
    tab.wait_for_url(re.compile(r"#/file/\d+"))
    ready(tab)
    pill = tab.locator(".detail-head .view-pill")
    assert pill.inner_text() == "overhead" and "confidence" in pill.get_attribute("title")
    assert violations(tab) == []


def test_the_view_filter_narrows_and_is_kept_in_the_url_and_the_detail(tab, url: str) -> None:
    overhead = items(url, view="overhead")
    assert list(overhead) == ["roofs.jpg"]
    tab.goto("/")
    ready(tab)
    options = tab.locator("#filters select[name=view] option").all_inner_texts()
    assert options == ["any", "ground", "overhead"]
    tab.select_option("#filters select[name=view]", "overhead")
    total_is(tab, 1)
    assert "view=overhead" in tab.url
    assert tab.locator("#grid .card .view-pill").all_inner_texts() == ["overhead"]
    tab.locator("#grid .card a").first.click()
    tab.wait_for_url(re.compile(r"#/file/\d+"))
    assert "view=overhead" in tab.url  # the list it walks is the filtered one
    ready(tab)
    tab.keyboard.press("Escape")
    total_is(tab, 1)
    assert tab.input_value("#filters select[name=view]") == "overhead"
    tab.reload()  # the state is in the URL
    total_is(tab, 1)
    assert tab.input_value("#filters select[name=view]") == "overhead"
    tab.select_option("#filters select[name=view]", "ground")
    total_is(tab, 3)


def test_a_videos_badge_top_k_and_timeline_say_the_same_share(tab, url: str) -> None:
    video = items(url)["flight.mp4"]
    tab.goto("/")
    ready(tab)
    card = tab.locator("#grid .card", has_text="flight.mp4").locator(".badge").inner_text()
    tab.goto(f"/#/file/{video['id']}")
    ready(tab)
    badge = tab.locator("#context .badge")
    text = badge.inner_text()
    assert text == card, (text, card)  # the grid's badge and the detail's say the same
    found = BADGE.match(text)
    assert found, text
    label, share = found[1], int(found[2])
    assert label == video["context"]
    assert "model confidence" in badge.get_attribute("title")
    first = tab.locator(".topk li").first
    assert first.locator(".label").inner_text() == label
    assert first.locator(".value").inner_text() == f"{share}%"  # the badge's number
    # The timeline's proportion: the label's segments' widths over the bar's
    bar = tab.locator(".timeline")
    segments = bar.locator(".segment").evaluate_all(
        "s => s.map((e) => [e.dataset.context, e.getBoundingClientRect().width, e.title])"
    )
    width = bar.evaluate("b => b.getBoundingClientRect().width")
    proportion = 100 * sum(w for context, w, _ in segments if context == label) / width
    assert abs(proportion - share) <= 1, (proportion, share, segments)
    assert len(segments) >= 2  # a context change: red on the ground, then blue from overhead
    titles = [title for _, _, title in segments]
    assert "ground view" in titles[0] and "overhead view" in titles[-1], titles
