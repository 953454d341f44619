"""The main map in Chromium against the service: an offline Natural Earth base map under the
points, clusters that spiderfy where photos share a place, popups with a thumbnail, "filter the
grid to this area" (the bbox filter, honoured by the map too), points reachable by keyboard,
and no sideways scroll on a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from .conftest import BLUE, GPS, RED, open_page
from .helpers import ready, served, write_gps_jpeg
from .test_csp import violations

SAME_PLACE = 5  # photos of one camera at GPS (the Bernese Alps)
ELSEWHERE = {"rio.jpg": (-22.9, -43.2), "sydney.jpg": (-33.87, 151.21)}
ATLAS = "/vendor/world-atlas/countries-"


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory, colour_model: Path) -> Iterator[str]:
    """The service over 5 photos taken at one place and 2 far from it: its URL."""
    root = tmp_path_factory.mktemp("placed")
    storage = root / "storage"
    for i in range(SAME_PLACE):
        colour = RED if i % 2 else BLUE
        taken = f"2024:06:0{i + 1} 12:00:00"
        write_gps_jpeg(storage / f"alp{i}.jpg", Image.new("RGB", (64, 48), colour), *GPS, taken)
    for name, (lat, lon) in ELSEWHERE.items():
        write_gps_jpeg(storage / name, Image.new("RGB", (64, 48), RED), lat, lon)
    with served(storage, colour_model, SAME_PLACE + len(ELSEWHERE)) as url:
        yield url


@pytest.fixture
def tab(browser, placed: str) -> Iterator:
    with open_page(browser, placed) as page:
        yield page


def map_ready(page) -> None:
    """The map view drawn, its base map too."""
    ready(page)
    page.wait_for_selector("#map[data-basemap=ready]")


def labels(page, selector: str) -> list[str]:
    return [str(node.get_attribute("aria-label")) for node in page.locator(selector).all()]


def test_base_map_draws_land_coasts_and_borders_once_under_the_points(tab) -> None:
    atlas: list[str] = []
    tab.on("request", lambda r: atlas.append(r.url) if ATLAS in r.url else None)
    tab.goto("/#/map")
    map_ready(tab)
    base = tab.locator("#map .leaflet-basemap-pane")
    for kind in ("land", "coast", "border"):
        path = base.locator(f"path.{kind}")
        expect(path).to_have_count(1)
        assert len(str(path.get_attribute("d"))) > 5_000  # Natural Earth, not a box
        assert "leaflet-interactive" not in str(path.get_attribute("class"))
    # Land and sea read apart; the base map lies under the points, which stay clickable.
    land = base.locator("path.land").evaluate("p => getComputedStyle(p).fill")
    sea = tab.locator("#map").evaluate("m => getComputedStyle(m).backgroundColor")
    assert land != sea and "rgb(" in land and "rgb(" in sea
    z = tab.evaluate(
        "['basemap', 'marker'].map(n => +getComputedStyle("
        "document.querySelector(`#map .leaflet-${n}-pane`)).zIndex)"
    )
    assert z[0] < z[1]
    draws = tab.evaluate("performance.getEntriesByName('landrec-basemap-draw').length")
    assert draws == 1
    assert tab.get_attribute("#map", "data-scale") == "110m"  # the world: the light one
    # The detail's minimap and the map again: drawn from the data fetched once.
    tab.locator("#map .point").first.click()
    tab.locator(".leaflet-popup-content a").click()
    # Each state waited for in turn, so a failure says which one never came (this wait timed
    # out twice in full-suite runs and never alone; the cause is not known yet).
    expect(tab).to_have_url(re.compile(r"#/file/\d+"))
    ready(tab)
    tab.wait_for_selector("#minimap[data-basemap]")
    assert tab.get_attribute("#minimap", "data-basemap") == "ready"  # not "failed"
    assert tab.get_attribute("#minimap", "data-scale") == "50m"  # zoomed in: more detail
    expect(tab.locator("#minimap .leaflet-basemap-pane path.land")).to_have_count(1)
    tab.go_back()
    map_ready(tab)
    assert len(atlas) == len(set(atlas)) == 2, atlas  # each scale fetched once
    assert tab.evaluate("performance.getEntriesByName('landrec-basemap-load').length") == 2
    assert tab.evaluate("performance.getEntriesByName('landrec-basemap-draw').length") == 3


def test_photos_at_one_place_cluster_and_spiderfy(tab) -> None:
    tab.goto("/#/map")
    map_ready(tab)
    cluster = tab.locator("#map .cluster")
    expect(cluster).to_have_count(1)
    assert cluster.inner_text() == str(SAME_PLACE)
    assert sorted(labels(tab, "#map .point")) == ["rio.jpg, red", "sydney.jpg, red"]
    cluster.click()  # one place: every photo spread out around it, each reachable
    points = tab.locator("#map .point")
    expect(points).to_have_count(SAME_PLACE + len(ELSEWHERE))
    spread = [n for n in labels(tab, "#map .point") if n.startswith("alp")]
    assert sorted(spread) == [f"alp{i}.jpg, {'red' if i % 2 else 'blue'}" for i in range(5)]
    boxes = [tab.locator(f'#map .point[aria-label^="alp{i}"]').bounding_box() for i in range(5)]
    assert len({(round(b["x"]), round(b["y"])) for b in boxes if b}) == SAME_PLACE  # apart
    tab.locator('#map .point[aria-label^="alp3"]').click()
    expect(tab.locator(".leaflet-popup-content .name")).to_have_text("alp3.jpg")


def test_popup_shows_thumbnail_name_badge_date_and_links_back_to_the_map(tab) -> None:
    tab.goto("/#/map?kind=image&camera=TestCam")
    map_ready(tab)
    tab.locator('#map .point[aria-label^="rio.jpg"]').click()
    popup = tab.locator(".leaflet-popup-content")
    thumb = popup.locator("img")
    assert thumb.get_attribute("alt") == "Thumbnail of rio.jpg"
    assert "/thumbnail" in str(thumb.get_attribute("src"))
    tab.wait_for_function("document.querySelector('.leaflet-popup-content img').naturalWidth > 0")
    assert popup.locator(".name").inner_text() == "rio.jpg"
    assert popup.locator(".badge").inner_text().startswith("red")
    assert "2024-06-01" in popup.locator(".taken").inner_text()
    link = str(popup.locator("a.name").get_attribute("href"))
    query = parse_qs(link.split("?", 1)[1])
    assert query == {"kind": ["image"], "camera": ["TestCam"], "back": ["map"]}
    popup.locator("a.name").click()
    tab.wait_for_url(re.compile(r"#/file/\d+\?"))
    ready(tab)
    tab.keyboard.press("Escape")  # back to the map it was opened from, filters kept
    tab.wait_for_url(re.compile(r"#/map\?"))
    map_ready(tab)
    assert parse_qs(tab.url.split("?", 1)[1]) == {"kind": ["image"], "camera": ["TestCam"]}


def test_map_honours_the_bbox_and_filters_the_grid_to_its_area(tab, placed: str) -> None:
    tab.goto("/#/map?kind=image&bbox=7,46,9,47")
    map_ready(tab)
    assert tab.inner_text("#map-count") == f"{SAME_PLACE} files with a position"
    expect(tab.locator("#map .cluster")).to_have_text(str(SAME_PLACE))
    assert tab.locator("#map .point").count() == 0  # Rio and Sydney are outside
    tab.click("#map-area")
    tab.wait_for_url(re.compile(r"#/files\?"))
    ready(tab)
    query = parse_qs(tab.url.split("?", 1)[1])
    assert query["kind"] == ["image"]
    box = [float(v) for v in query["bbox"][0].split(",")]
    assert all(re.fullmatch(r"-?\d+(\.\d{1,4})?", v) for v in query["bbox"][0].split(","))
    assert box[0] <= 7 and box[1] <= 46 and box[2] >= 9 and box[3] >= 47  # the view holds it
    assert box[2] - box[0] < 20 and box[3] - box[1] < 10  # and is no wider than a region
    expect(tab.locator("#grid .card")).to_have_count(SAME_PLACE)  # the grid drawn, not the map
    total = httpx.get(f"{placed}/api/files", params={"bbox": query["bbox"][0]}).json()["total"]
    assert total == SAME_PLACE
    # Zoomed out to the whole world, the box is clamped to the valid ranges.
    tab.goto("/#/map?bbox=-180,-90,180,90")
    map_ready(tab)
    tab.click("#map-area")
    tab.wait_for_url(re.compile(r"#/files\?"))
    ready(tab)
    world = [float(v) for v in parse_qs(tab.url.split("?", 1)[1])["bbox"][0].split(",")]
    assert world[0] == -180 and world[2] == 180 and -90 <= world[1] < world[3] <= 90
    expect(tab.locator("#grid .card")).to_have_count(SAME_PLACE + len(ELSEWHERE))


def test_points_and_clusters_are_reachable_by_keyboard(tab) -> None:
    tab.goto("/#/map?kind=image")
    map_ready(tab)
    tab.focus("#map")
    reached: list[str] = []
    for _ in range(4):
        tab.keyboard.press("Tab")
        reached.append(str(tab.evaluate("document.activeElement.getAttribute('aria-label')")))
    assert sorted(reached[:3]) == sorted(
        [f"{SAME_PLACE} files at one place: Enter shows them", "rio.jpg, red", "sydney.jpg, red"]
    )
    assert reached[3] == "Zoom in", reached  # then on to the map's controls
    tab.focus("#map .cluster")
    tab.keyboard.press("Enter")  # spread out, the first of them focused
    expect(tab.locator("#map .point")).to_have_count(SAME_PLACE + len(ELSEWHERE))
    tab.wait_for_function("document.activeElement.matches('#map .point')")
    tab.focus('#map .point[aria-label^="alp2"]')
    tab.keyboard.press(" ")  # Space opens the popup and moves into it
    expect(tab.locator(".leaflet-popup-content .name")).to_have_text("alp2.jpg")
    tab.wait_for_function("document.activeElement.matches('.leaflet-popup-content a.name')")
    tab.keyboard.press("Escape")  # closes the popup, back on the point
    expect(tab.locator(".leaflet-popup")).to_have_count(0)
    tab.wait_for_function("document.activeElement.matches('#map .point[aria-label^=alp2]')")
    tab.keyboard.press("Enter")
    tab.wait_for_function("document.activeElement.matches('.leaflet-popup-content a.name')")
    tab.keyboard.press("Enter")  # the link: the detail
    tab.wait_for_url(re.compile(r"#/file/\d+\?.*back=map"))


def test_map_has_no_sideways_scroll_on_a_phone(browser, placed: str) -> None:
    with open_page(browser, placed, phone=True) as tab:
        tab.goto("/#/map")
        map_ready(tab)
        wide = tab.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
        assert wide[0] <= wide[1], wide
        assert tab.locator("#map-area").bounding_box()["height"] >= 24


def test_clusters_and_popups_render_under_the_policy(browser, placed: str) -> None:
    assert not violations(browser, placed, ["#/map"], "#map .cluster")
