"""Fixtures of the GUI's browser tests: one real service for the package (`landrec archive serve`
in a subprocess) over a storage of generated media, and Debian's Chromium driven by
Playwright; a fresh browser context (no cache, no storage) per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from conftest import write_image, write_truncated

from .helpers import (
    launch_chromium,
    served,
    write_gps_jpeg,
    write_video,
)

RED, BLUE = (220, 30, 30), (30, 30, 220)
GPS = (46.55, 7.98)  # the photo's position (degrees)
VIDEO_PLACE = "+46.5000+008.0000/"  # the video's ISO 6709 location tag
N_FILES = 6
# The clip's shots, in seconds each: at least the 8 s a context must last to become a
# segment of its own (VideoOptions.min_segment_s); 2 frames a second keep encoding cheap.
SHOT_S = 9.0


def write_storage(storage: Path) -> None:
    """Red and blue photos, one with GPS EXIF, a red-blue-red video, one truncated JPEG."""
    write_image(storage / "red1.jpg", RED, seed=1)
    write_image(storage / "trip" / "red2.jpg", RED, seed=2)
    write_image(storage / "blue1.jpg", BLUE, seed=3)
    write_gps_jpeg(storage / "trip" / "gps.jpg", Image.new("RGB", (64, 48), BLUE), *GPS)
    write_video(
        storage / "clip.mp4", [RED, BLUE, RED], SHOT_S, fps=2, size=(96, 72), location=VIDEO_PLACE
    )
    write_truncated(storage / "broken.jpg", RED, seed=4)  # truncated: fails with a reason


@dataclass(frozen=True)
class Archive:
    url: str  # http://127.0.0.1:PORT


@pytest.fixture(scope="package")
def archive(tmp_path_factory: pytest.TempPathFactory, colour_model: Path) -> Iterator[Archive]:
    """The real service over the generated storage, every file indexed (or failed)."""
    root = tmp_path_factory.mktemp("gui")
    write_storage(root / "storage")
    with served(root / "storage", colour_model, N_FILES) as url:
        yield Archive(url)


@pytest.fixture(scope="package")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)  # fails loudly when Chromium is missing
        yield chromium
        chromium.close()


DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@contextmanager
def open_page(browser, url: str, phone: bool = False) -> Iterator:
    """A new page on the service at `url`, in a fresh context of a desktop's size (`phone`: a
    390x844 touch screen); JavaScript errors fail."""
    # bypass_csp: Playwright's wait_for_function(text) evals in the page, which the archive's
    # policy forbids; test_csp.py loads every view under the policy.
    screen = {"viewport": PHONE, "has_touch": True, "is_mobile": True} if phone else {}
    context = browser.new_context(**{"viewport": DESKTOP, **screen}, base_url=url, bypass_csp=True)
    context.set_default_timeout(30_000)  # a cap on waits for states, ample under load
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture
def page(browser, archive: Archive) -> Iterator:
    """A new page in a fresh context on the archive; JavaScript errors fail the test."""
    with open_page(browser, archive.url) as tab:
        yield tab
