"""The web GUI at 100,000 files: time to the first grid paint and to a filtered grid, in
Debian's Chromium driven by Playwright, read from the page's own performance timeline.

  python benchmarks/bench_gui.py       # 100,000 rows, 5 rounds -> docs/benchmarks/bench_gui.json
  python benchmarks/bench_gui.py --rows 10000 --rounds 2 --quick

The grid's code marks `grid-request` when it asks the API for a page and `grid-paint` in the
animation frame after the cards are in the DOM; "first paint" is `grid-paint` since the
navigation started (HTML, CSS, scripts, the API call, the DOM), "filtered" the `grid`
measure between the two marks after a filter changes the URL. The synthetic rows have no
thumbnails: image downloads are not in these figures.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from archive_load import synthetic_service
from common import REPO, machine_info, out_dir_for, write_results

sys.path.insert(0, str(REPO / "tests/archive/gui"))
from helpers import CHROMIUM, launch_chromium

# name -> how the filter is applied: a select's value, or a hash typed into the URL.
FILTERED = {
    "context select (glacier)": ("select", "context", "glacier"),
    "camera substring (cam7)": ("fill", "camera", "cam7"),
    "file-name search (img00123)": ("fill", "q", "img00123"),
    "date range (2021)": ("hash", "#/files?from=2021-01-01&to=2021-12-31", None),
    "deep page (the middle one)": ("hash", "#/files?page={middle}", None),
}
READY = "#view[data-state=ready]"
PAGE_SIZE = 60  # the grid's (js/grid.js)


def last_grid_ms(page) -> float:
    return float(page.evaluate("performance.getEntriesByName('grid').at(-1).duration"))


def apply(page, how: str, name: str, value: str | None) -> None:
    """Change one filter (from the unfiltered grid) and wait for the new grid's paint."""
    count = page.evaluate("performance.getEntriesByName('grid').length")
    if how == "select":
        page.select_option(f"#filters select[name={name}]", value)
    elif how == "fill":
        page.fill(f"#filters input[name={name}]", value or "")
        page.press(f"#filters input[name={name}]", "Enter")
    else:
        page.evaluate(f"location.hash = {name!r}")  # name: the hash
    page.wait_for_function(f"performance.getEntriesByName('grid').length > {count}")


def one_round(browser, url: str, rows: int) -> dict[str, float]:
    """A cold load (fresh context: no cache) of the grid, then each filter in turn."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(READY)
    page.wait_for_function("performance.getEntriesByName('grid-paint').length > 0")
    times = {
        "first_grid_paint_ms": page.evaluate(
            "performance.getEntriesByName('grid-paint')[0].startTime"
        ),
        "first_api_page_ms": last_grid_ms(page),
        "first_contentful_paint_ms": page.evaluate(
            "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
        ),
    }
    for label, (how, name, value) in FILTERED.items():
        page.evaluate("location.hash = '#/files'")
        page.wait_for_function(f"document.getElementById('view').dataset.total === '{rows}'")
        apply(page, how, name.format(middle=rows // PAGE_SIZE // 2 + 1), value)
        times[label] = last_grid_ms(page)
    context.close()
    return times


def measure(rows: int, rounds: int) -> tuple[list[dict[str, float]], float]:
    """Build the database, serve it, and time `rounds` cold loads (after one warm-up)."""
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="bench-gui-") as tmp,
        synthetic_service(Path(tmp), rows) as (port, build_s),
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        address = f"http://127.0.0.1:{port}/"
        one_round(browser, address, rows)  # warm-up: the server's caches
        timings = [one_round(browser, address, rows) for _ in range(rounds)]
        browser.close()
    return timings, build_s


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    timings, build_s = measure(args.rows, args.rounds)
    results: dict[str, Any] = {
        key: {
            "median_ms": statistics.median(t[key] for t in timings),
            "rounds_ms": [t[key] for t in timings],
        }
        for key in timings[0]
        if timings[0][key] is not None
    }
    results["database_build_s"] = build_s
    version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True)
    notes = [
        version.stdout.strip(),
        "API served by benchmarks/archive_load.py serve (uvicorn, SQLite, no indexer running).",
        "first_grid_paint_ms: navigation start -> the frame after the first 60 cards are shown.",
        "filtered: the grid-request -> grid-paint measure after the filter changes the URL.",
    ]
    settings = {"rows": args.rows, "rounds": args.rounds, "page_size": PAGE_SIZE}
    settings["quick"] = args.quick
    write_results("bench_gui", out_dir_for(args), machine_info(), settings, results, notes)


if __name__ == "__main__":
    main()
