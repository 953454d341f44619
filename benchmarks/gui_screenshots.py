"""Screenshots of every view of the web GUI at a desktop's 1280x800 and a phone's 390x844, for
the docs (docs/archive/<view>-<width>.png): the real service, a trained model and a secured
archive (one admin user, logged in as a person would) over a temporary storage of real photos
(ten given GPS EXIF), a video made of three of them and a truncated JPEG; Debian's Chromium
driven by Playwright. Never copies a photo into the repository: only the screenshots.

  python benchmarks/gui_screenshots.py --model ../runs/base_mnv2/best.fp32.onnx
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from PIL import ExifTags, Image

from archive_load import free_port
from common import DEFAULT_DATA, REPO, sample_files

sys.path.insert(0, str(REPO / "tests/archive/gui"))
from helpers import launch_chromium, start_service, stop, wait_indexed, write_gps_jpeg, write_video

OUT = REPO / "docs/archive"
MAX_BYTES = 300_000  # a committed screenshot stays under this
SIZES = {1280: 800, 390: 844}
USER, PASSWORD = "ana", "screenshots-only-password"
READY = "#view[data-state=ready]"
PLACES = [(46.55, 7.98), (46.6, 8.05), (46.5, 7.9), (61.2, 6.9), (64.1, -16.2), (36.1, -112.1),
          (-41.3, 173.2), (27.1, 33.8), (47.6, 12.8), (49.7, -125.9)]  # fmt: skip
MONTHS = ["2024:06", "2024:04", "2023:09"]  # when the photos were taken: a few per month
SELECTABLE = ".card input[type=checkbox], .card .select"  # the bulk selection's toggles


def build_storage(data: Path, storage: Path, photos: int) -> int:
    """Copies of `photos` real test photos (the first ten with GPS), a video of three of them,
    one truncated JPEG; returns the number of files."""
    files = sample_files(data / "test", photos, seed=1)
    for i, photo in enumerate(files):
        target = storage / ("trip" if i % 3 else "survey") / photo.name
        target.parent.mkdir(parents=True, exist_ok=True)
        taken = MONTHS[i % len(MONTHS)] + f":{10 + i % 18} 10:{i:02d}:00"
        if i < len(PLACES):
            write_gps_jpeg(target, Image.open(photo), *PLACES[i], taken=taken)
        elif i % 5:
            dated_jpeg(photo, target, taken)
        else:  # no EXIF at all: the grid's "no date" group
            shutil.copyfile(photo, target)
    by_class = {p.parent.name: p for p in reversed(files)}
    shots = [Image.open(by_class[name]) for name in ("coast", "forest", "glacier")]
    write_video(storage / "drone" / "flight.mp4", shots, 3.0, 10, (320, 240), "+61.2+006.9/")
    (storage / "broken.jpg").write_bytes(files[-1].read_bytes()[:300])
    return len(files) + 2


def dated_jpeg(photo: Path, target: Path, taken: str) -> None:
    """`photo` saved as a JPEG whose EXIF says when it was taken (and nothing else)."""
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    Image.open(photo).convert("RGB").save(target, "JPEG", quality=90, exif=exif)


def landrec(*args: str, stdin: str = "") -> str:
    """A `landrec` command's output (stdout)."""
    command = [sys.executable, "-m", "landrec.cli.main", *args]
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def save(page, name: str, full_page: bool = False) -> None:
    """A PNG of the page, its palette reduced (256, 128, 64 colours) until under MAX_BYTES."""
    png = page.screenshot(full_page=full_page)
    for colours in (256, 128, 64):
        image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colours)
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        png = out.getvalue()
        if len(png) <= MAX_BYTES:
            break
    (OUT / f"{name}.png").write_bytes(png)
    print(f"{OUT / name}.png: {len(png) // 1000} KB")


def drawn(page, selector: str = READY) -> None:
    """Wait for the view and every image on screen to be complete, and the network quiet."""
    page.wait_for_selector(selector)
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "[...document.images].filter((i) => i.getBoundingClientRect().top < innerHeight)"
        ".every((i) => i.complete)"
    )


def log_in(page) -> None:
    page.fill("input[name=name]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(READY)


def shoot_size(browser, base: str, width: int, ids: dict[str, int], uploads: list[Path]) -> None:
    """Every view at one size, in a browser context of its own (logged in once)."""
    size = {"width": width, "height": SIZES[width]}
    # bypass_csp: Playwright's string waits evaluate in the page (the policy forbids eval)
    context = browser.new_context(viewport=size, base_url=base, bypass_csp=True)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto("/")
    page.wait_for_selector("form#login")
    save(page, f"login-{width}")
    log_in(page)
    views = {
        "grid": "/#/files",
        "photo": f"/#/file/{ids['photo']}",
        "video": f"/#/file/{ids['video']}",
        "map": "/#/map",
        "stats": "/#/stats",
    }
    for name, target in views.items():
        page.goto(target)
        drawn(page, ".timeline .segment" if name == "video" else READY)
        if name == "video":
            page.wait_for_function("document.getElementById('player').readyState >= 2")
            page.locator(".timeline .segment").nth(1).click()
            page.wait_for_function("!document.getElementById('player').seeking")
        save(page, f"{name}-{width}")
        if name == "grid":
            select(page, width)
    page.goto("/#/ingest")
    drawn(page)
    page.set_input_files("#upload-input", [str(p) for p in uploads])
    page.wait_for_function(
        f"document.querySelectorAll('#uploads [data-state=stored], #uploads [data-state=refused]')"
        f".length === {len(uploads)}"
    )
    save(page, f"ingest-{width}")
    context.close()


def select(page, width: int) -> None:
    """The grid with three cards selected (click, then shift-click), if selection exists."""
    toggles = page.locator(SELECTABLE)
    if toggles.count() < 3:
        print(f"no selection in the grid yet ({SELECTABLE}): grid-selection-{width} not taken")
        return
    toggles.nth(0).click()
    toggles.nth(2).click(modifiers=["Shift"])
    page.evaluate("window.scrollTo(0, 0)")
    save(page, f"grid-selection-{width}")
    page.keyboard.press("Escape")


def prepare(base: str, token: str) -> dict[str, int]:
    """The photo and video shown in detail; one photo corrected (its badge shows it)."""
    auth = {"Authorization": f"Bearer {token}"}
    items = httpx.get(f"{base}/api/files", params={"page_size": 200}, headers=auth).json()["items"]
    video = next(i for i in items if i["kind"] == "video")
    placed = next(i for i in items if i["latitude"] is not None and i["kind"] == "image")
    fixed = random.Random(0).choice([i for i in items if i["kind"] == "image" and i["context"]])
    other = next(c for c in ("forest", "mountain") if c != fixed["context"])
    httpx.put(f"{base}/api/files/{fixed['id']}/context", json={"context": other}, headers=auth)
    return {"photo": int(placed["id"]), "video": int(video["id"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "runs/mobilenet_v2")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--photos", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gui-shots-") as tmp:
        root = Path(tmp)
        count = build_storage(args.data, root / "storage", args.photos)
        db = f"sqlite:///{root / 'archive.sqlite3'}"
        landrec("archive", "user", "add", USER, "--db", db, "--role", "admin", stdin=PASSWORD)
        token = landrec("archive", "token", "create", "--db", db, "--name", "shots", "--role",
                        "editor")  # fmt: skip
        spare = sample_files(args.data / "val", 4, seed=2)  # uploaded from the ingest view
        (root / "notes.txt").write_text("not a photo\n")
        uploads = {1280: [spare[0], spare[1], root / "notes.txt"], 390: [spare[2], spare[3]]}
        port, log = free_port(), root / "service.log"
        service = start_service(root / "storage", args.model, port, log, ["--db", db])
        try:
            wait_indexed(service, port, count, log)
            base = f"http://127.0.0.1:{port}"
            ids = prepare(base, token)
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for width in SIZES:
                    shoot_size(browser, base, width, ids, uploads[width])
                browser.close()
        finally:
            stop(service)


if __name__ == "__main__":
    main()
