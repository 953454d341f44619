"""The GUI under the archive's Content-Security-Policy (the other GUI tests bypass it, for
Playwright's own evaluated waits): every view renders, the browser reports no violation."""

from __future__ import annotations

from .conftest import Archive
from .test_views import file_id

VIEWS = ["#/files", "#/map", "#/stats", "#/ingest"]


def violations(browser, url: str, views: list[str], drawn: str) -> list[str]:
    """The policy's violations reported while each view renders (under the policy) and then
    the last one draws `drawn` (a selector)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=url)
    context.set_default_timeout(30_000)  # a cap on waits for states, ample under load
    tab = context.new_page()
    messages: list[str] = []
    tab.on("console", lambda message: messages.append(message.text))
    tab.on("pageerror", lambda error: messages.append(str(error)))
    try:
        response = tab.goto("/")
        assert response is not None
        assert "script-src 'self'" in response.headers["content-security-policy"]
        for view in views:
            tab.goto("about:blank")  # a new document: never the previous view still drawn
            tab.goto(f"/{view}")
            tab.wait_for_selector("#view[data-state=ready]")
        tab.wait_for_selector(drawn)
    finally:
        context.close()
    return [m for m in messages if "Content Security Policy" in m]


def test_every_view_renders_under_the_policy(browser, archive: Archive) -> None:
    photo = f"#/file/{file_id(archive, 'gps.jpg')}"
    # Leaflet drew the photo's place
    assert not violations(browser, archive.url, [*VIEWS, photo], "#minimap .point")
