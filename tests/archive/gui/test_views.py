"""The detail (photo metadata, the video's context timeline seeking the player), the
correction, the map, the stats chart and the ingest view, in Chromium against the service."""

from __future__ import annotations

import httpx

from .conftest import GPS, SHOT_S, Archive
from .helpers import ready


def file_id(archive: Archive, name: str) -> int:
    items = httpx.get(f"{archive.url}/api/files", params={"q": name}).json()["items"]
    (item,) = [i for i in items if i["path"].endswith(name)]
    return int(item["id"])


def test_photo_detail_shows_metadata_and_its_place(page, archive: Archive) -> None:
    page.goto(f"/#/file/{file_id(archive, 'gps.jpg')}")
    ready(page)
    assert page.inner_text(".detail-head h2") == "trip/gps.jpg"
    meta = page.inner_text("#metadata")
    for text in ("JPEG image", "64 px", "48 px", "Landrec", "TestCam 1", "2024-06-01 12:00:00"):
        assert text in meta, (text, meta)
    assert f"{GPS[0]:.6f}" in meta and f"{GPS[1]:.6f}" in meta
    picture = page.locator("#picture")
    picture.evaluate("img => img.decode()")
    assert picture.evaluate("img => img.naturalWidth") == 64  # the original, not the thumbnail
    assert page.locator(".topk li").first.inner_text().startswith("blue")
    assert page.locator("#minimap .point").count() == 1


def test_video_timeline_click_seeks_the_player(page, archive: Archive) -> None:
    ranged: list[int] = []
    page.on("response", lambda r: ranged.append(r.status) if "/content" in r.url else None)
    page.goto(f"/#/file/{file_id(archive, 'clip.mp4')}")
    ready(page)
    segments = page.locator(".timeline .segment")
    assert [s.get_attribute("data-context") for s in segments.all()] == ["red", "blue", "red"]
    assert "h264" in page.inner_text("#metadata")
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    assert 206 in ranged  # the player reads the file by HTTP Range
    for index in (1, 2, 0):  # each segment seeks to its start: shot `index` begins there
        start = index * SHOT_S
        segments.nth(index).click()
        page.wait_for_function(
            f"Math.abs(document.getElementById('player').currentTime - {start}) < 0.05"
        )


def test_correction_persists_after_reload(page, archive: Archive) -> None:
    target = file_id(archive, "blue1.jpg")
    page.goto(f"/#/file/{target}")
    ready(page)
    assert page.locator("#corrected").count() == 0
    page.select_option("#correct", "red")
    page.click(".correction button[type=submit]")
    page.wait_for_selector("#corrected")
    page.reload()
    ready(page)
    assert page.inner_text("#context").startswith("red")
    assert "model: blue" in page.inner_text("#corrected")
    assert "blue → red" in page.inner_text(".history")
    detail = httpx.get(f"{archive.url}/api/files/{target}").json()
    assert detail["corrected"] and detail["context"] == "red"
    page.goto("/#/files?corrected=true")
    ready(page)
    assert page.locator("#grid .card .corrected").count() == 1


def test_map_shows_a_point_for_the_gps_photo(page) -> None:
    page.goto("/#/map?kind=image")
    ready(page)
    assert page.inner_text("#map-count") == "1 files with a position"
    points = page.locator("#map .point")
    assert points.count() == 1
    points.first.click()
    assert page.locator(".leaflet-popup-content a").inner_text().startswith("gps.jpg")
    assert page.locator("#map .grid-label").count() > 0  # the offline graticule is drawn
    page.goto("/#/map")
    page.wait_for_function("document.querySelectorAll('#map .point').length === 2")


def test_stats_chart_counts_per_context(page, archive: Archive) -> None:
    stats = httpx.get(f"{archive.url}/api/stats").json()
    page.goto("/#/stats")
    ready(page)
    chart = page.locator(".chart", has_text="Files per context")
    for context, count in stats["context"].items():
        row = chart.locator(f"li[data-name={context}]")
        assert row.locator(".value").inner_text() == str(count)
    chart.locator("li[data-name=blue] a").click()
    page.wait_for_url("**/#/files?context=blue")


def test_ingest_view_lists_the_failure_with_its_reason(page, archive: Archive) -> None:
    page.goto("/#/ingest")
    ready(page)
    assert page.locator(".counter.failed .n").inner_text() == "1"
    assert page.locator(".counter.pending .n").inner_text() == "0"
    row = page.locator("#failures tbody tr")
    assert row.count() == 1
    assert "broken.jpg" in row.inner_text()
    assert "truncated" in row.locator(".reason").inner_text()
    failures = httpx.get(f"{archive.url}/api/failures").json()
    assert [f["path"] for f in failures] == ["broken.jpg"] and failures[0]["error"]
