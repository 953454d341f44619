"""Every view of the GUI, at a desktop's 1280x800 and a phone's 390x844 (a browser context of
its own per size): no serious or critical axe-core violation, and on the phone no sideways
scroll."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .a11y import sideways_overflow, violations
from .conftest import Archive, open_page
from .test_views import file_id

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
# view -> (its URL, or a file's name for its detail; what shows once it has drawn)
VIEWS = {
    "grid": ("#/files", "#view[data-state=ready] .card"),
    "photo": ("gps.jpg", "#view[data-state=ready] #picture"),
    "video": ("clip.mp4", "#view[data-state=ready] .timeline .segment"),
    "map": ("#/map", "#view[data-state=ready]"),
    "stats": ("#/stats", "#view[data-state=ready]"),
    "ingest": ("#/ingest", "#view[data-state=ready]"),
    "filtered": ("#/files?context=red&kind=image", "#view[data-state=ready] .card"),
    "selected": ("#/files", "#view[data-state=ready] .card input[type=checkbox]"),
    "uploading": ("#/ingest", "#view[data-state=ready] #upload-pick"),
    "login": ("/login", "form#login"),
}
REFUSED = {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo\n"}


@pytest.fixture(params=list(SIZES), scope="module")
def sized(request: pytest.FixtureRequest, browser, archive: Archive) -> Iterator:
    """A tab in a browser context of one size (JavaScript errors fail), kept for its views."""
    width, height = SIZES[request.param]
    with open_page(browser, archive.url) as tab:
        tab.set_viewport_size({"width": width, "height": height})
        yield tab


def show(page, archive: Archive, view: str) -> None:
    """Navigate to `view` and wait until it has drawn (its data, its thumbnails)."""
    target, drawn = VIEWS[view]
    if not target.startswith(("#", "/")):
        target = f"#/file/{file_id(archive, target)}"
    page.goto("about:blank")  # a new document: never the previous view still drawn
    page.goto(target if target.startswith("/") else f"/{target}")
    page.wait_for_selector(drawn)
    if view == "filtered":  # the bar shows the filter and the count of what matches it
        query = {"context": "red", "kind": "image"}  # other tests may correct files to red
        total = httpx.get(f"{archive.url}/api/files", params=query).json()["total"]
        page.wait_for_function(f"document.getElementById('view').dataset.total === '{total}'")
    elif view == "selected":  # two cards selected: the bulk actions show
        page.locator(drawn).nth(0).click()
        page.locator(drawn).nth(1).click()
        page.wait_for_function("document.querySelectorAll('.card input:checked').length === 2")
    elif view == "uploading":  # a row of the upload list (refused: the archive is unchanged)
        page.set_input_files("#upload-input", files=[REFUSED])
        page.wait_for_selector("#uploads [data-state=refused]")


@pytest.mark.parametrize("view", list(VIEWS))
def test_no_serious_or_critical_violation(sized, archive: Archive, view: str) -> None:
    show(sized, archive, view)
    found = violations(sized)
    assert not found, "\n".join(str(v) for v in found)
    if sized.viewport_size["width"] == SIZES["phone"][0]:
        assert sideways_overflow(sized) <= 0, "scrolls sideways on a phone"


def test_the_check_finds_what_it_should(browser) -> None:
    """The checker itself: an unnamed button and grey-on-white text break those rules, a page
    without them breaks none; a 600 px wide block scrolls a phone's page sideways."""
    broken = (
        "<html lang=en><title>t</title><main><h1>x</h1>"
        "<p style='color:#aaa'>faint</p><button></button>"
        "<div style='width:600px'>wide</div></main>"
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    try:
        page = context.new_page()
        page.set_content(broken)
        assert {v.id for v in violations(page)} >= {"color-contrast", "button-name"}
        assert sideways_overflow(page) == 600 + 8 - 390  # the body's default margin: 8 px
        page.set_content("<html lang=en><title>t</title><main><h1>x</h1><p>fine</p></main>")
        assert violations(page) == [] and sideways_overflow(page) == 0
    finally:
        context.close()
