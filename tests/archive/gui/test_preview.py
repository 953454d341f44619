"""Every stored file viewable in Chromium, against the service: what this Chromium plays by
itself (H.264/AAC MP4, not MPEG-TS); an airborne MPEG-TS (MPEG-2 video, an ST 0601 KLV data
stream) playing through its H.264 proxy, seeking, the track following; a large JPEG shown by its
1600 px copy and in full resolution on a click; the preview's pending, failed and unplayable
states, forced by answering the page's requests for one file (the service makes a real
preview too fast to catch pending, and fails only where indexing fails too)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Route, expect

from telemetry_media import st0601_packets, write_ts

from .conftest import open_page
from .helpers import served
from .test_csp import violations
from .test_track import file_id, last_at, parts, ready, shown

FIXES = 7  # one a second over the 7 s transport stream
SEEK = 3.5  # seconds: the 4th fix (t = 3 s) is the current one
BIG = (4000, 3000)  # the large JPEG's pixels; its preview's long side is 1600
DISPLAY = 1600
WAIT_MS = 20_000  # for a state the page reaches after a seek or a poll, under load
MADE = {"ready", "original", "failed"}  # a preview's final states
AVC_AAC = 'video/mp4; codecs="avc1.42E01E, mp4a.40.2"'


def write_mp4_with_sound(path: Path, seconds: int = 3, fps: int = 10) -> Path:
    """An H.264 (yuv420p) and AAC MP4 with its index first: what the proxies are, and what this
    Chromium should play as it is."""
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = out.add_stream("aac", rate=48_000)
        for i in range(seconds * fps):
            pixels = np.full((120, 160, 3), (i * 8) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        for start in range(0, seconds * 48_000, 1024):
            sound = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
            sound.sample_rate, sound.pts, sound.time_base = 48_000, start, Fraction(1, 48_000)
            out.mux(audio.encode(sound))
        out.mux(audio.encode())
    return path


def write_big_jpeg(path: Path) -> Path:
    """A BIG-pixel JPEG of smooth gradients (small on disk, slow to show at full size)."""
    x = np.linspace(0, 255, BIG[0], dtype=np.float32)
    y = np.linspace(0, 255, BIG[1], dtype=np.float32)[:, None]
    pixels = np.stack([np.broadcast_to(x, (BIG[1], BIG[0])), np.broadcast_to(y, (BIG[1], BIG[0]))])
    pixels = np.concatenate([pixels, pixels[:1] * 0 + 90]).transpose(1, 2, 0)
    Image.fromarray(pixels.astype(np.uint8)).save(path, quality=85)
    return path


def wait_previews(url: str, names: list[str], timeout: float = 240) -> dict[str, dict]:
    """Each file's detail once its preview is made (or failed); raise if not in `timeout`."""
    deadline = time.monotonic() + timeout
    details: dict[str, dict] = {}
    while time.monotonic() < deadline:
        details = {n: httpx.get(f"{url}/api/files/{file_id(url, n)}").json() for n in names}
        if all(d.get("preview_status") in MADE for d in details.values()):
            return details
        time.sleep(0.25)
    states = {n: d.get("preview_status") for n, d in details.items()}
    raise RuntimeError(f"previews not made in {timeout} s: {states}")


@pytest.fixture(scope="module")
def previewed(tmp_path_factory: pytest.TempPathFactory, colour_model: Path) -> Iterator[str]:
    """The service over an MPEG-TS with a KLV data stream, an H.264/AAC MP4 and a 4000 px JPEG,
    every preview made: its URL."""
    root = tmp_path_factory.mktemp("previewed")
    storage = root / "storage"
    storage.mkdir()
    write_ts(storage / "flight.ts", FIXES, fps=10, klv_streams=[st0601_packets(FIXES, rate_hz=1.0)])
    write_mp4_with_sound(storage / "sound.mp4")
    write_big_jpeg(storage / "big.jpg")
    with served(storage, colour_model, 3) as url:
        wait_previews(url, ["flight.ts", "sound.mp4", "big.jpg"])
        yield url


@pytest.fixture
def tab(browser, previewed: str) -> Iterator:
    with open_page(browser, previewed) as page:
        yield page


def detail_pattern(file: int) -> re.Pattern[str]:
    return re.compile(rf"/api/files/{file}$")


def preview_pattern(file: int) -> re.Pattern[str]:
    return re.compile(rf"/api/files/{file}/preview$")


def answer_detail(tab, file: int, **fields: object) -> None:
    """Answer the page's requests for the file's detail with the service's, `fields` changed."""

    def handle(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), **fields})

    tab.route(detail_pattern(file), handle)


def played(tab, selector: str = "#player") -> None:
    """Wait until the player has a decoded frame (readyState >= 2, a width), then plays on."""
    tab.wait_for_function(
        f"(() => {{ const v = document.querySelector('{selector}');"
        " return v.readyState >= 2 && v.videoWidth > 0; })()",
        timeout=WAIT_MS,
    )
    start = tab.locator(selector).evaluate(
        "v => { v.muted = true; v.play(); return v.currentTime }"
    )
    tab.wait_for_function(
        f"document.querySelector('{selector}').currentTime > {start + 0.2}", timeout=WAIT_MS
    )


def test_this_chromium_plays_h264_aac_mp4_but_not_mpeg_ts(tab, previewed: str) -> None:
    tab.goto("/")
    ready(tab)
    can = tab.evaluate(
        "types => types.map(t => document.createElement('video').canPlayType(t))",
        [AVC_AAC, "video/mp2t", 'video/mp4; codecs="hvc1.1.6.L93.B0"'],
    )
    assert can == ["probably", "", ""]  # H.264/AAC MP4 yes; MPEG-TS, HEVC no
    mp4 = file_id(previewed, "sound.mp4")
    assert httpx.get(f"{previewed}/api/files/{mp4}").json()["preview_status"] == "original"
    tab.goto(f"/#/file/{mp4}")
    ready(tab)
    expect(tab.locator("#viewer")).to_have_attribute("data-preview", "original")
    played(tab)
    source = tab.locator("#player").evaluate("v => v.currentSrc")
    assert source.endswith(f"/api/files/{mp4}/content")
    # and what it cannot do by itself: the original transport stream, as the old detail played it
    ts = file_id(previewed, "flight.ts")
    code = tab.evaluate(
        """src => new Promise(done => { const v = document.createElement('video');
             v.addEventListener('error', () => done(v.error.code));
             v.addEventListener('loadeddata', () => done(0)); v.src = src; })""",
        f"/api/files/{ts}/content",
    )
    assert code == 4  # MEDIA_ERR_SRC_NOT_SUPPORTED


def test_mpeg_ts_plays_its_proxy_seeks_and_the_track_follows(tab, previewed: str) -> None:
    ts = file_id(previewed, "flight.ts")
    detail = httpx.get(f"{previewed}/api/files/{ts}").json()
    assert (detail["preview_status"], detail["has_track"]) == ("ready", True), detail[
        "preview_error"
    ]
    proxy = httpx.get(f"{previewed}/api/files/{ts}/preview", headers={"Range": "bytes=0-99"})
    assert proxy.status_code == 206 and proxy.headers["content-type"] == "video/mp4"
    line, _ = parts(previewed, ts)
    coordinates = line["geometry"]["coordinates"]
    tab.goto(f"/#/file/{ts}")
    ready(tab)
    viewer = tab.locator("#viewer")
    expect(viewer).to_have_attribute("data-preview", "ready")
    player = tab.locator("#player")
    assert player.evaluate("v => v.currentSrc").endswith(f"/api/files/{ts}/preview")
    played(tab)
    player.evaluate("v => v.pause()")
    at = player.evaluate(
        """(v, target) => new Promise(done => {
             v.addEventListener('seeked', () => done(v.currentTime), { once: true });
             v.currentTime = target; })""",
        SEEK,
    )
    assert at == pytest.approx(SEEK, abs=0.05)
    minimap = tab.locator("#minimap")
    expect(minimap).to_have_attribute("data-t", f"{at:.3f}", timeout=WAIT_MS)
    fix = coordinates[last_at(line["properties"]["t"], at)]
    expect(minimap).to_have_attribute("data-position", shown([fix]))
    assert fix != coordinates[0]  # the marker moved
    assert not viewer.locator(".preview-state").is_visible()  # nothing to say
    link = viewer.locator("a.download")
    assert link.get_attribute("href") == f"/api/files/{ts}/content"
    assert link.get_attribute("download") == "flight.ts"


def test_pending_preview_shows_progress_then_plays_without_a_reload(tab, previewed: str) -> None:
    mp4 = file_id(previewed, "sound.mp4")
    answer_detail(tab, mp4, preview_status="running", preview_progress=0.42)
    progress = [0.42, 0.9]  # what the first polls hear; the service's answer after them
    polls: list[float] = []

    def making(route: Route) -> None:
        polls.append(time.monotonic())
        if len(polls) > len(progress):
            route.fallback()
            return
        body = {"status": "running", "progress": progress[len(polls) - 1]}
        headers = {"Retry-After": "1"}
        route.fulfill(status=202, headers=headers, json=body)

    tab.route(preview_pattern(mp4), making)
    tab.goto(f"/#/file/{mp4}")
    ready(tab)
    tab.evaluate("window.sameDocument = true")
    state = tab.locator("#viewer .preview-state")
    expect(state).to_have_text("Preparing a playable copy… 42%")
    assert tab.locator("#player").get_attribute("src") is None  # nothing to play yet
    expect(state).to_have_text("Preparing a playable copy… 90%", timeout=WAIT_MS)
    expect(tab.locator("#viewer")).to_have_attribute("data-preview", "ready", timeout=WAIT_MS)
    played(tab)  # what the service serves at /preview once it is there
    expect(state).to_be_hidden()
    assert tab.evaluate("window.sameDocument") is True  # no reload
    waits = np.diff(polls[: len(progress) + 1])
    assert len(waits) == len(progress) and (waits >= 0.9).all()  # as Retry-After said


def test_failed_preview_says_why_and_offers_the_original(tab, previewed: str) -> None:
    ts = file_id(previewed, "flight.ts")
    reason = "no decodable video frame"
    answer_detail(tab, ts, preview_status="failed", preview_error=reason)
    tab.route(preview_pattern(ts), lambda r: r.fulfill(status=422, json={"detail": reason}))
    tab.goto(f"/#/file/{ts}")
    ready(tab)
    expect(tab.locator("#viewer")).to_have_attribute("data-preview", "failed")
    state = tab.locator("#viewer .preview-state")
    expect(state).to_contain_text(f"A playable copy could not be made: {reason}")
    assert "cannot play" not in tab.inner_text("#view")  # the old, misleading message
    with tab.expect_download() as download:
        tab.click("#viewer a.download")
    assert download.value.suggested_filename == "flight.ts"
    original = Path(download.value.path()).read_bytes()
    assert original == httpx.get(f"{previewed}/api/files/{ts}/content").content


def test_a_proxy_that_will_not_play_says_what_happened(tab, previewed: str) -> None:
    mp4 = file_id(previewed, "sound.mp4")
    answer_detail(tab, mp4, preview_status="ready")
    broken = {"status": 200, "content_type": "video/mp4", "body": b"not a video at all"}
    tab.route(preview_pattern(mp4), lambda r: r.fulfill(**broken))
    tab.goto(f"/#/file/{mp4}")
    ready(tab)
    expect(tab.locator("#viewer")).to_have_attribute("data-preview", "error", timeout=WAIT_MS)
    text = tab.inner_text("#viewer .preview-state")
    assert text.startswith("The playable copy could not be played: ")
    assert "Download the original" in text


def test_large_jpeg_shows_its_display_copy_and_full_resolution_on_click(
    tab, previewed: str
) -> None:
    big = file_id(previewed, "big.jpg")
    assert httpx.get(f"{previewed}/api/files/{big}").json()["preview_status"] == "ready"
    fetched: list[str] = []
    tab.on("response", lambda r: fetched.append(r.url) if f"/files/{big}/" in r.url else None)
    tab.goto(f"/#/file/{big}")
    ready(tab)
    picture = tab.locator("#picture")
    expect(picture).to_have_attribute("src", f"/api/files/{big}/preview")
    picture.evaluate("img => img.decode()")
    assert picture.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [1600, 1200]
    assert not any(u.endswith("/content") for u in fetched)  # the original stays on the server
    picture.click()
    full = tab.locator(".zoom #full")
    full.evaluate("img => img.decode()")
    assert full.evaluate("img => [img.naturalWidth, img.naturalHeight]") == list(BIG)
    assert full.evaluate("img => img.getBoundingClientRect().width") <= 1280  # fitted
    full.click()  # actual pixels
    expect(tab.locator(".zoom")).not_to_have_class(re.compile("fitted"))
    assert full.evaluate("img => img.getBoundingClientRect().width") == BIG[0]
    tab.keyboard.press("Escape")
    expect(tab.locator(".zoom")).to_have_count(0)
    assert re.search(rf"#/file/{big}$", tab.url)  # Esc closed the view, not the detail
    tab.click("#viewer .full-resolution")  # the control does the same
    expect(tab.locator(".zoom #full")).to_have_attribute("src", f"/api/files/{big}/content")


def test_a_still_whose_preview_failed_says_why_and_offers_the_original(tab, previewed: str) -> None:
    big = file_id(previewed, "big.jpg")
    reason = "cannot identify image file"
    answer_detail(tab, big, preview_status="failed", preview_error=reason)
    tab.goto(f"/#/file/{big}")
    ready(tab)
    expect(tab.locator("#viewer .preview-state")).to_contain_text(
        f"A display copy could not be made: {reason}"
    )
    picture = tab.locator("#picture")
    assert "/thumbnail" in str(picture.get_attribute("src"))  # at its own size: a stand-in
    expect(picture).to_have_class(re.compile("stand-in"))
    assert tab.locator("#viewer a.download").get_attribute("download") == "big.jpg"
    tab.click("#viewer .full-resolution")
    tab.locator(".zoom #full").evaluate("img => img.decode()")


def test_preview_views_render_under_the_policy(browser, previewed: str) -> None:
    views = [f"#/file/{file_id(previewed, n)}" for n in ("big.jpg", "flight.ts")]
    assert not violations(browser, previewed, views, "#minimap path.position")
