"""The distributed mode's progress where people look: `GET /api/health` (queue depths),
`GET /api/stats` (each worker's counts) and the GUI's Ingest view (a Workers panel), against
`landrec archive serve --broker` with a real worker."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import write_image

from ..gui.conftest import open_page
from ..gui.helpers import launch_chromium, ready, served

RED, BLUE = (220, 30, 30), (30, 30, 220)
N = 6


@pytest.fixture
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def test_health_stats_and_the_ingest_view_show_the_queues_and_the_workers(
    tmp_path: Path, fresh_postgres: str, broker_url: str, colour_model: Path, start_worker, browser
) -> None:
    storage = tmp_path / "storage"
    for i in range(N):
        write_image(storage / f"img{i}.jpg", BLUE if i % 2 else RED, seed=i)
    model = str(colour_model)
    start_worker(fresh_postgres, broker_url, "--storage", str(storage), "--model", model)
    extra = ["--db", fresh_postgres, "--broker", broker_url]
    with served(storage, colour_model, N, extra) as url:
        health = httpx.get(f"{url}/api/health").json()
        assert health["status"] == "ok" and health["pending"] == 0
        assert health["queues"] == {
            "landrec.index": 0,
            "landrec.previews": health["queues"]["landrec.previews"],
        }
        progress = httpx.get(f"{url}/api/stats").json()["distributed"]
        assert progress["queued"] == 0
        (worker,) = progress["workers"]
        assert worker["name"].startswith("w1@") and worker["indexed"] == N
        assert worker["failed"] == 0
        with open_page(browser, url) as tab:
            tab.goto("/#/ingest")
            ready(tab)
            panel = tab.locator("#workers")
            assert panel.is_visible()
            row = panel.locator(f"tr[data-name='{worker['name']}']")
            assert row.locator("td").nth(2).text_content() == str(N)
            assert re.search(r"landrec\.index: \d+", tab.locator("#queues").text_content() or "")


def test_health_is_degraded_while_the_broker_is_down_and_the_api_still_answers(
    tmp_path: Path, fresh_postgres: str, colour_model: Path
) -> None:
    from ..servers import Redis

    storage = tmp_path / "storage"
    storage.mkdir()
    redis = Redis().start()
    try:
        extra = ["--db", fresh_postgres, "--broker", redis.url]
        with served(storage, colour_model, 0, extra) as url:
            assert httpx.get(f"{url}/api/health").json()["status"] == "ok"
            redis.stop()
            health = httpx.get(f"{url}/api/health", timeout=30).json()
            assert health["status"] == "degraded" and "queues" not in health
            stats = httpx.get(f"{url}/api/stats", timeout=30).json()
            assert stats["distributed"]["queues"] is None
            assert httpx.get(f"{url}/api/files").status_code == 200
            redis.start()
            assert httpx.get(f"{url}/api/health", timeout=30).json()["status"] == "ok"
    finally:
        redis.close()
