"""Upload from the ingest view, in Chromium against its own service (uploads change the
archive): the file picker and a drop of files, several at once, a row per file with its size,
progress and outcome (stored and linked, refused with the server's reason), at most two sent at
once, a busy service (503) asked again after its Retry-After, the counters following."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Route, expect

from conftest import write_image

from .a11y import sideways_overflow, violations
from .conftest import BLUE, RED, open_page
from .helpers import ready, served

WAIT_MS = 20_000  # for a state the page reaches after the service's work, under load
LIMIT = 200_000  # --max-upload-bytes


@pytest.fixture(scope="module")
def uploading(tmp_path_factory: pytest.TempPathFactory, colour_model: Path) -> Iterator[str]:
    """The service over one photo, uploads limited to LIMIT bytes: its URL."""
    root = tmp_path_factory.mktemp("uploading")
    write_image(root / "storage" / "first.jpg", RED, seed=1)
    extra = ["--max-upload-bytes", str(LIMIT)]
    with served(root / "storage", colour_model, 1, extra) as url:
        yield url


@pytest.fixture
def tab(browser, uploading: str) -> Iterator:
    with open_page(browser, uploading) as page:
        page.goto("/#/ingest")
        page.wait_for_selector("#view[data-state=ready]")
        yield page


def jpeg(colour: tuple[int, int, int] = BLUE, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def upload_row(tab, name: str):
    return tab.locator(f'#uploads li[data-name="{name}"]')


def indexed_count(tab) -> int:
    return int(tab.locator(".counter.indexed .n").inner_text().replace(",", ""))


def stored_id(url: str, name: str) -> int:
    items = httpx.get(f"{url}/api/files", params={"q": name}).json()["items"]
    (item,) = [i for i in items if i["path"] == name]
    assert item["status"] == "indexed"
    return int(item["id"])


def test_picker_uploads_several_files_with_their_outcomes(tab, uploading: str) -> None:
    indexed = indexed_count(tab)
    photo = jpeg()
    tab.set_input_files(
        "#upload-input",
        [
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo\n"},
            {"name": "sky.jpg", "mimeType": "image/jpeg", "buffer": photo},
        ],
    )
    refused, stored = upload_row(tab, "notes.txt"), upload_row(tab, "sky.jpg")
    expect(refused).to_have_attribute("data-state", "refused", timeout=WAIT_MS)
    assert refused.locator(".outcome").inner_text() == "refused: not an image or a video: text"
    expect(stored).to_have_attribute("data-state", "stored", timeout=WAIT_MS)
    assert stored.locator(".size").inner_text() == f"{len(photo)} B"
    progress = stored.locator("progress")
    assert progress.evaluate("p => p.value === p.max && p.max > 0")
    assert progress.get_attribute("aria-label") == "Upload of sky.jpg"
    link = stored.locator(".outcome a")
    assert link.inner_text() == "sky.jpg"
    assert link.get_attribute("href") == f"#/file/{stored_id(uploading, 'sky.jpg')}"
    expect(tab.locator("#upload-status")).to_have_text("1 stored, 1 refused.", timeout=WAIT_MS)
    expect(tab.locator(".counter.indexed .n")).to_have_text(str(indexed + 1), timeout=WAIT_MS)
    tab.goto("/#/files?q=sky")
    expect(tab.locator("#grid .card", has_text="sky.jpg")).to_have_count(1, timeout=WAIT_MS)


def test_files_go_into_the_folder_given(tab, uploading: str) -> None:
    tab.fill("#upload-folder", "campaigns/2024-06")
    tab.set_input_files(
        "#upload-input", [{"name": "sea.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )
    row = upload_row(tab, "sea.jpg")
    expect(row).to_have_attribute("data-state", "stored", timeout=WAIT_MS)
    assert row.locator(".outcome a").inner_text() == "campaigns/2024-06/sea.jpg"
    tab.fill("#upload-folder", "../outside")  # refused by the server, with its reason
    tab.set_input_files(
        "#upload-input", [{"name": "out.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )
    row = upload_row(tab, "out.jpg")
    expect(row).to_have_attribute("data-state", "refused", timeout=WAIT_MS)
    assert "folder" in row.locator(".outcome").inner_text()


def test_the_picker_is_a_real_button(tab) -> None:
    with tab.expect_file_chooser() as chooser:
        tab.get_by_role("button", name="Choose files…").click()
    assert chooser.value.is_multiple()


def test_dropped_files_are_uploaded(tab, uploading: str) -> None:
    data = base64.b64encode(jpeg(RED)).decode()
    transfer = tab.evaluate_handle(
        """data => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.jpg", { type: "image/jpeg" }));
            transfer.items.add(new File(["plain"], "dropped.txt", { type: "text/plain" }));
            return transfer;
        }""",
        data,
    )
    tab.dispatch_event("#dropzone", "dragover", {"dataTransfer": transfer})
    expect(tab.locator("#dropzone")).to_have_class("dropzone over", timeout=WAIT_MS)
    tab.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    expect(upload_row(tab, "dropped.jpg")).to_have_attribute(
        "data-state", "stored", timeout=WAIT_MS
    )
    expect(upload_row(tab, "dropped.txt")).to_have_attribute(
        "data-state", "refused", timeout=WAIT_MS
    )
    assert "not an image or a video" in upload_row(tab, "dropped.txt").inner_text()
    assert stored_id(uploading, "dropped.jpg") > 0
    expect(tab.locator("#dropzone")).to_have_class("dropzone", timeout=WAIT_MS)


def test_a_file_over_the_limit_is_refused_with_the_reason(tab) -> None:
    big = bytes(LIMIT + 1000)  # past the limit by less than the multipart overhead allowed
    tab.set_input_files(
        "#upload-input", [{"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": big}]
    )
    row = upload_row(tab, "huge.jpg")
    expect(row).to_have_attribute("data-state", "refused", timeout=WAIT_MS)
    assert row.locator(".outcome").inner_text().startswith("refused: ")
    assert f"the limit is {LIMIT} bytes" in row.locator(".outcome").inner_text()


def test_at_most_two_uploads_at_a_time(tab, uploading: str) -> None:
    held: list[Route] = []
    holding = [True]  # the first requests wait until the test lets them go

    def hold(route: Route) -> None:
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    tab.route("**/api/upload", hold)
    names = [f"two{i}.jpg" for i in range(3)]
    files = [{"name": n, "mimeType": "image/jpeg", "buffer": jpeg(RED)} for n in names]
    tab.set_input_files("#upload-input", files)
    expect(tab.locator("#uploads li[data-state=uploading]")).to_have_count(2, timeout=WAIT_MS)
    expect(upload_row(tab, names[2])).to_have_attribute("data-state", "queued", timeout=WAIT_MS)
    assert len(held) <= 2  # the third is not sent while two are unanswered
    holding[0] = False
    for route in held:
        route.continue_()
    for name in names:
        expect(upload_row(tab, name)).to_have_attribute("data-state", "stored", timeout=WAIT_MS)
    expect(tab.locator("#upload-status")).to_have_text("3 stored, 0 refused.", timeout=WAIT_MS)


def test_a_busy_service_is_asked_again_after_retry_after(tab, uploading: str) -> None:
    calls: list[int] = []

    def busy_once(route: Route) -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            headers = {"Retry-After": "2"}
            route.fulfill(status=503, headers=headers, json={"detail": "busy: retry"})
        else:
            route.continue_()

    tab.route("**/api/upload", busy_once)
    tab.set_input_files(
        "#upload-input", [{"name": "later.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )
    row = upload_row(tab, "later.jpg")
    expect(row).to_have_attribute("data-state", "busy", timeout=WAIT_MS)
    assert "server busy: trying again in 2 s (1/3)" in row.inner_text()
    expect(row).to_have_attribute("data-state", "stored", timeout=WAIT_MS)
    assert len(calls) == 2
    assert stored_id(uploading, "later.jpg") > 0


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)])
def test_the_upload_panel_with_its_rows_is_accessible(tab, size: tuple[int, int]) -> None:
    tab.set_viewport_size({"width": size[0], "height": size[1]})
    long = "a-very-long-file-name-that-a-phone-must-wrap-somewhere-0123456789.txt"
    tab.set_input_files(
        "#upload-input",
        [
            {"name": long, "mimeType": "text/plain", "buffer": b"text"},
            {"name": f"a11y{size[0]}.jpg", "mimeType": "image/jpeg", "buffer": jpeg()},
        ],
    )
    expect(upload_row(tab, long)).to_have_attribute("data-state", "refused", timeout=WAIT_MS)
    expect(upload_row(tab, f"a11y{size[0]}.jpg")).to_have_attribute(
        "data-state", "stored", timeout=WAIT_MS
    )
    assert [str(v) for v in violations(tab)] == []
    assert sideways_overflow(tab) == 0


def test_a_file_dropped_beside_the_zone_does_not_leave_the_archive(tab) -> None:
    stray = """() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(["x"], "beside.jpg", { type: "image/jpeg" }));
        const options = { dataTransfer: transfer, bubbles: true, cancelable: true };
        const drop = new DragEvent("drop", options);
        document.querySelector("h2").dispatchEvent(drop);
        return drop.defaultPrevented;
    }"""
    assert tab.evaluate(stray)  # the browser does not open the file in place of the page
    assert tab.locator("#uploads li").count() == 0  # nor is it uploaded
    tab.goto("/#/stats")
    ready(tab)
    assert not tab.evaluate(stray)  # other views leave drops alone
