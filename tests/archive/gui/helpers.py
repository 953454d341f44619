"""What the GUI's browser tests, its screenshots and its benchmark share: Debian's Chromium
launched by Playwright, media with metadata (a JPEG with GPS EXIF, an H.264 video of changing
colours), and the real service started in a subprocess until it has indexed everything."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; scripts/setup.sh installs it
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
Colour = tuple[int, int, int]


def launch_chromium(playwright):  # -> playwright.sync_api.Browser
    """Debian's Chromium driven by Playwright (its own browser download cannot work here)."""
    if not CHROMIUM.is_file():
        raise RuntimeError(
            f"{CHROMIUM} is missing: run scripts/setup.sh (apt-get install chromium)"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def dms(degrees: float) -> tuple[float, float, float]:
    """Degrees as EXIF's (degrees, minutes, seconds) of a positive angle."""
    degrees = abs(degrees)
    minutes = (degrees - int(degrees)) * 60
    return float(int(degrees)), float(int(minutes)), round((minutes - int(minutes)) * 60, 4)


def write_gps_jpeg(
    path: Path, image: Image.Image, lat: float, lon: float, taken: str = "2024:06:01 12:00:00"
) -> Path:
    """`image` saved as a JPEG with a camera, a time and a GPS position in its EXIF."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Landrec"
    exif[ExifTags.Base.Model] = "TestCam 1"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
    gps[ExifTags.GPS.GPSLatitude] = dms(lat)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
    gps[ExifTags.GPS.GPSLongitude] = dms(lon)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, "JPEG", quality=90, exif=exif)
    return path


def noisy(colour: Colour, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An (H, W, 3) uint8 frame of `colour` with mild noise."""
    pixels = np.array(colour) + rng.normal(0, 10, (*shape, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def write_video(
    path: Path,
    shots: Sequence[Colour | Image.Image],
    seconds_each: float = 2.0,
    fps: int = 10,
    size: tuple[int, int] = (160, 120),
    location: str | None = None,
) -> Path:
    """An H.264 MP4 (which Chromium plays) showing each shot in turn: a colour (with mild
    noise) or a picture; `location`: an ISO 6709 string ("+46.5+008.0/") in its tags."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    width, height = size
    with av.open(str(path), "w") as container:
        if location:
            container.metadata["location"] = location
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for shot in shots:
            still = None
            if isinstance(shot, Image.Image):
                still = np.asarray(shot.convert("RGB").resize(size), dtype=np.uint8)
            for _ in range(round(seconds_each * fps)):
                pixels = still if still is not None else noisy(shot, (height, width), rng)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return path


def start_service(
    storage: Path, model: Path, port: int, log: Path, extra: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """`landrec archive serve` on `storage` in a subprocess, its output into `log`."""
    command = [sys.executable, "-m", "landrec.cli.main", "archive", "serve"]
    command += ["--storage", str(storage), "--model", str(model), "--port", str(port), *extra]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def free_port() -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(storage: Path, model: Path, files: int, extra: Sequence[str] = ()) -> Iterator[str]:
    """The real service over `storage` (its log beside it), once it has indexed all `files`:
    its URL; interrupted on leaving."""
    port, log = free_port(), storage.parent / "service.log"
    service = start_service(storage, model, port, log, extra)
    try:
        wait_indexed(service, port, files, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(service)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.loads(response.read()))


def wait_indexed(
    service: subprocess.Popen[bytes], port: int, files: int, log: Path, timeout: float = 180
) -> None:
    """Return once the service has all `files` and none pending; raise with its log if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise RuntimeError(f"the service exited ({service.returncode}):\n{log.read_text()}")
        try:
            health = get_json(f"http://127.0.0.1:{port}/api/health")
            if health["files"] >= files and health["pending"] == 0:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"not indexed in {timeout} s:\n{log.read_text()[-3000:]}")


def stop(service: subprocess.Popen[bytes]) -> None:
    """Interrupt the service (as Ctrl-C does) and wait for it; kill it if it hangs."""
    service.send_signal(2)
    try:
        service.wait(30)
    except subprocess.TimeoutExpired:
        service.kill()
        service.wait()


def ready(page) -> None:
    """Wait until the view of the page's current URL is drawn (`#view[data-state=ready]` alone
    may still be the previous view's: a link changes the URL before the page hears of it).
    Evaluates in the page: for contexts that bypass the Content-Security-Policy."""
    page.wait_for_function(
        "() => { const v = document.getElementById('view');"
        " return v.dataset.state === 'ready' && v.dataset.route === location.hash; }"
    )
