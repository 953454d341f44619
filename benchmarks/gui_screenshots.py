"""Screenshots of the web GUI's main views for the docs (docs/archive/*.png): the real service
with a trained model over a temporary storage of real photos (some given GPS EXIF), a video
made of three of them, and one truncated file; taken in Debian's Chromium by Playwright.

  python benchmarks/gui_screenshots.py                    # model runs/mobilenet_v2
  python benchmarks/gui_screenshots.py --model runs/x --data ../shared/data/landscapes
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sys
import tempfile
from pathlib import Path

import httpx
from PIL import Image

from archive_load import free_port
from common import DEFAULT_DATA, REPO, sample_files

sys.path.insert(0, str(REPO / "tests/archive/gui"))
from helpers import launch_chromium, start_service, stop, wait_indexed, write_gps_jpeg, write_video

OUT = REPO / "docs/archive"
MAX_BYTES = 200_000  # a committed screenshot stays under this
VIEWPORT = {"width": 1200, "height": 760}
PLACES = [(46.55, 7.98), (61.2, 6.9), (27.1, 33.8), (-41.3, 173.2), (36.1, -112.1),
          (64.1, -16.2), (-33.9, 18.4), (47.6, 12.8), (25.0, 55.2), (49.7, -125.9)]  # fmt: skip


def build_storage(data: Path, storage: Path, photos: int) -> int:
    """Copies of `photos` real test photos (the first ten with a GPS position), a video of
    three of them, one truncated JPEG; returns the number of files."""
    files = sample_files(data / "test", photos, seed=1)
    for i, photo in enumerate(files):
        target = storage / photo.parent.name / photo.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if i < len(PLACES):
            taken = f"2023:0{1 + i % 9}:1{i % 9} 10:00:00"
            write_gps_jpeg(target, Image.open(photo), *PLACES[i], taken=taken)
        else:
            shutil.copyfile(photo, target)
    by_class = {p.parent.name: p for p in reversed(files)}
    shots = [Image.open(by_class[name]) for name in ("coast", "forest", "glacier")]
    write_video(storage / "drone" / "flight.mp4", shots, 3.0, 10, (320, 240), "+61.2+006.9/")
    (storage / "broken.jpg").write_bytes(files[-1].read_bytes()[:300])
    return len(files) + 2


def save(page, name: str, full_page: bool = False) -> None:
    """A PNG of the page, its palette reduced (256, 128, 64 colours) until under MAX_BYTES."""
    png = page.screenshot(full_page=full_page)
    for colours in (256, 128, 64):
        if len(png) <= MAX_BYTES:
            break
        image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colours)
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        png = out.getvalue()
    (OUT / f"{name}.png").write_bytes(png)
    print(f"{OUT / name}.png: {len(png) // 1000} KB")


def shoot(base: str) -> None:
    from playwright.sync_api import sync_playwright

    items = httpx.get(f"{base}/api/files", params={"page_size": 200}).json()["items"]
    video = next(i for i in items if i["kind"] == "video")
    placed = next(i for i in items if i["latitude"] is not None and i["kind"] == "image")
    fixed = random.Random(0).choice([i for i in items if i["kind"] == "image" and i["context"]])
    other = next(c for c in ("forest", "mountain") if c != fixed["context"])
    httpx.put(f"{base}/api/files/{fixed['id']}/context", json={"context": other})
    views = {
        "grid": "/#/files",
        "photo": f"/#/file/{placed['id']}",
        "video": f"/#/file/{video['id']}",
        "map": "/#/map",
        "stats": "/#/stats",
        "ingest": "/#/ingest",
    }
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT, base_url=base)
        for name, target in views.items():
            page.goto(target)
            page.wait_for_selector("#view[data-state=ready]")
            if name == "video":
                page.wait_for_function("document.getElementById('player').readyState >= 2")
                page.locator(".timeline .segment").nth(1).click()
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(400)  # the map's and the player's last frame
            save(page, name, full_page=name in ("photo", "video"))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "runs/mobilenet_v2")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--photos", type=int, default=40)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gui-shots-") as tmp:
        root = Path(tmp)
        count = build_storage(args.data, root / "storage", args.photos)
        port, log = free_port(), root / "service.log"
        service = start_service(root / "storage", args.model, port, log)
        try:
            wait_indexed(service, port, count, log)
            shoot(f"http://127.0.0.1:{port}")
        finally:
            stop(service)


if __name__ == "__main__":
    main()
