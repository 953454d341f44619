"""A secured archive in Chromium: the page sends an unknown visitor to the login page; after
logging in the grid shows, and a correction (a cookie PUT: the CSRF header) is saved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import write_image
from landrec.archive.accounts import user_add
from landrec.archive.db.models import Role

from .conftest import BLUE, RED
from .helpers import served

PASSWORD = "a long password"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, colour_model: Path) -> Iterator[str]:
    """The service over two photos, with an editor, `ada`, and a viewer, `bob`: its URL."""
    root = tmp_path_factory.mktemp("secured")
    write_image(root / "storage" / "red.jpg", RED, seed=1)
    write_image(root / "storage" / "blue.jpg", BLUE, seed=2)
    db = f"sqlite:///{root / '.landrec-archive-storage' / 'archive.sqlite3'}"
    user_add(db, "ada", Role.EDITOR, PASSWORD)
    user_add(db, "bob", Role.VIEWER, PASSWORD)
    with served(root / "storage", colour_model, 2) as url:  # /api/health stays public
        yield url


def test_login_page_then_the_grid_and_a_correction(browser, secured: str) -> None:
    assert httpx.get(f"{secured}/api/files").status_code == 401
    context = browser.new_context(base_url=secured)
    context.set_default_timeout(30_000)  # a cap on waits for states, ample under load
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/")
        page.wait_for_url("**/login")
        page.fill("input[name=name]", "ada")
        page.fill("input[name=password]", "wrong password")
        page.click("button[type=submit]")
        page.wait_for_selector("#login-error:not([hidden])")
        assert "Wrong name or password" in page.inner_text("#login-error")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#view[data-state=ready]")
        assert page.locator("#grid .card").count() == 2
        page.wait_for_selector("#user #logout")
        assert "ada (editor)" in page.inner_text("#user")
        cookie = next(c for c in context.cookies() if c["name"] == "landrec_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        page.click("#grid .card >> text=blue.jpg")
        page.wait_for_selector("#view[data-state=ready] #correct")
        assert page.locator("#metadata select#campaign").count() == 1  # an editor's
        page.select_option("#correct", "red")
        page.click(".correction button[type=submit]")
        page.wait_for_selector("#corrected")  # saved: the PUT carried the CSRF token
        page.click("#logout")
        page.wait_for_url("**/login?next=*")
        page.goto("/")
        page.wait_for_url("**/login")
    finally:
        context.close()
    assert not errors, errors


def test_a_viewer_gets_no_campaign_select(browser, secured: str) -> None:
    context = browser.new_context(base_url=secured)
    context.set_default_timeout(30_000)  # a cap on waits for states, ample under load
    page = context.new_page()
    try:
        page.goto("/")
        page.wait_for_url("**/login")
        page.fill("input[name=name]", "bob")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#view[data-state=ready]")
        page.wait_for_selector("#user #logout")
        assert "bob (viewer)" in page.inner_text("#user")
        page.click("#grid .card >> text=red.jpg")
        page.wait_for_selector("#view[data-state=ready] #metadata")
        assert page.locator("#campaign").count() == 0
    finally:
        context.close()
