"""Telemetry in the GUI, in Chromium against the service: a video's track on its detail map,
the position and the footprint following the player; a raw .klv file's whole track and every
footprint; a line per track on the main map; the campaign filter and an editor's correction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from conftest import write_image
from telemetry_media import flight, st0601_packets, write_raw_klv

from .conftest import BLUE, RED, open_page
from .helpers import ready, served, write_video
from .test_csp import violations

FIXES = 7  # one a second, 0 s to 6 s: the video's 3 shots of 2 s
SEEK = 3.5  # seconds: the 4th fix (t = 3 s) and footprint are the current ones
WAIT_MS = 15_000  # for a state the page reaches after a seek, under load


@pytest.fixture(scope="module")
def flown(tmp_path_factory: pytest.TempPathFactory, colour_model: Path) -> Iterator[str]:
    """The service over a video with a side .klv file (its track; also a file of its own) and
    a photo with no position: its URL."""
    root = tmp_path_factory.mktemp("flown")
    storage = root / "storage"
    write_video(storage / "flight.mp4", [RED, BLUE, RED])
    write_raw_klv(storage / "flight.klv", st0601_packets(FIXES, rate_hz=1.0))
    write_image(storage / "still.jpg", BLUE, seed=5)
    with served(storage, colour_model, 3) as url:
        yield url


@pytest.fixture
def tab(browser, flown: str) -> Iterator:
    with open_page(browser, flown) as page:
        yield page


def file_id(url: str, name: str) -> int:
    items = httpx.get(f"{url}/api/files", params={"q": name}).json()["items"]
    (item,) = [i for i in items if i["path"] == name]
    return int(item["id"])


def parts(url: str, file: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The file's track line and its footprints, as the API gives them."""
    body = httpx.get(f"{url}/api/files/{file}/track").json()
    kinds = [f["properties"]["kind"] for f in body["features"]]
    line = body["features"][kinds.index("track")]
    return line, [f for f in body["features"] if f["properties"]["kind"] == "footprint"]


def last_at(times: list[float | None], t: float) -> int:
    return max(i for i, at in enumerate(times) if at is not None and at <= t)


def shown(lon_lats: list[list[float]]) -> str:
    """GeoJSON [lon, lat] pairs as the map's data attributes write them."""
    return " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat in lon_lats)


def test_video_track_position_and_footprint_follow_the_player(tab, flown: str) -> None:
    video = file_id(flown, "flight.mp4")
    line, footprints = parts(flown, video)
    coordinates = line["geometry"]["coordinates"]
    assert len(coordinates) == len(footprints) == FIXES
    tab.goto(f"/#/file/{video}")
    ready(tab)
    minimap = tab.locator("#minimap")
    expect(minimap).to_have_attribute("data-points", str(FIXES))
    assert tab.locator("#minimap path.track").count() == 1
    assert tab.locator("#minimap path.position").count() == 1
    assert tab.locator("#minimap path.footprint").count() == 1  # the current one only
    expect(minimap).to_have_attribute("data-position", shown(coordinates[:1]))
    tab.wait_for_function("document.getElementById('player').readyState >= 1")
    tab.locator("#player").evaluate(f"video => {{ video.currentTime = {SEEK}; }}")
    at = last_at(line["properties"]["t"], SEEK)
    expect(minimap).to_have_attribute("data-position", shown([coordinates[at]]), timeout=WAIT_MS)
    ring = footprints[last_at([f["properties"]["t"] for f in footprints], SEEK)]
    corners = ring["geometry"]["coordinates"][0][:4]
    expect(minimap).to_have_attribute("data-footprint", shown(corners), timeout=WAIT_MS)
    fix = flight(FIXES, rate_hz=1.0)[3]  # what was written for t = 3 s
    lat, lon = map(float, minimap.get_attribute("data-position").split(","))
    assert (lat, lon) == pytest.approx((fix["sensor_latitude"], fix["sensor_longitude"]), abs=1e-6)
    meta = tab.inner_text("#metadata")
    assert "TEST-UAV" in meta and "EO" in meta
    assert tab.input_value("#campaign") == "air"  # KLV: airborne


def test_raw_klv_file_shows_its_whole_track_and_every_footprint(tab, flown: str) -> None:
    tab.goto(f"/#/file/{file_id(flown, 'flight.klv')}")
    ready(tab)
    expect(tab.locator("#minimap")).to_have_attribute("data-footprints", str(FIXES))
    assert tab.locator("#minimap path.footprint").count() == FIXES
    assert tab.locator("#minimap path.track").count() == 1
    assert tab.locator("#minimap path.position").count() == 0  # no player to follow
    assert "track and footprints" in tab.inner_text(".stage .note")


def test_main_map_draws_a_line_per_track_linking_to_its_file(tab, flown: str) -> None:
    tracked = {file_id(flown, "flight.mp4"), file_id(flown, "flight.klv")}
    tab.goto("/#/map")
    ready(tab)
    lines = tab.locator("#map path.track")
    expect(lines).to_have_count(len(tracked))
    assert {int(str(line.get_attribute("data-id"))) for line in lines.all()} == tracked
    assert tab.inner_text("#map-tracks") == f"{len(tracked)} with a track"
    # The two lines overlap (the last drawn is on top), under the cluster of their 2 files.
    lines.last.dispatch_event("click")
    tab.locator(".leaflet-popup-content a").click()
    tab.wait_for_url(re.compile(r"#/file/\d+"))
    assert int(re.findall(r"#/file/(\d+)", tab.url)[0]) in tracked
    ready(tab)
    tab.goto("/#/map?kind=video")
    expect(tab.locator("#map path.track")).to_have_count(1)
    assert tab.inner_text("#map-tracks") == "1 with a track"


def test_campaign_filter_narrows_the_list(tab, flown: str) -> None:
    air = httpx.get(f"{flown}/api/files", params={"campaign": "air"}).json()["total"]
    assert air == 2  # the video and its .klv; the photo has no campaign
    tab.goto("/")
    ready(tab)
    tab.select_option("#filters select[name=campaign]", "air")
    tab.wait_for_function(f"document.getElementById('view').dataset.total === '{air}'")
    ready(tab)
    assert "campaign=air" in tab.url
    names = tab.locator("#grid .card .name").all_inner_texts()
    assert sorted(names) == ["flight.klv", "flight.mp4"]


def test_campaign_correction_by_an_editor_persists(tab, flown: str) -> None:
    still = file_id(flown, "still.jpg")
    tab.goto(f"/#/file/{still}")
    ready(tab)
    assert tab.input_value("#campaign") == ""  # no position: no campaign yet
    tab.select_option("#campaign", "sea")
    tab.click(".campaign button[type=submit]")
    tab.wait_for_selector(".campaign .corrected")
    tab.reload()
    ready(tab)
    assert tab.input_value("#campaign") == "sea"
    detail = httpx.get(f"{flown}/api/files/{still}").json()
    assert detail["campaign"] == "sea" and detail["campaign_corrected"]
    tab.goto("/#/files?campaign=sea")
    ready(tab)
    assert tab.locator("#grid .card .name").all_inner_texts() == ["still.jpg"]


def test_track_views_render_under_the_policy(browser, flown: str) -> None:
    views = ["#/map", f"#/file/{file_id(flown, 'flight.klv')}"]
    views.append(f"#/file/{file_id(flown, 'flight.mp4')}")
    assert not violations(browser, flown, views, "#minimap path.position")
