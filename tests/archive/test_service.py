"""The service as a user runs it (`landrec archive serve`): a file dropped into the storage is
indexed, a deleted one becomes missing, an upload is stored and classified, a correction
persists."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import httpx

from conftest import write_image

from .test_crash import free_port, start_service


def poll(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def files(port: int, **query: str) -> dict:
    url = f"http://127.0.0.1:{port}/api/files?" + "&".join(f"{k}={v}" for k, v in query.items())
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_watch_upload_correct(tmp_path: Path, red_blue_checkpoint: Path) -> None:
    storage = tmp_path / "storage"
    write_image(storage / "first.jpg", (220, 30, 30), seed=1)
    port = free_port()
    service = start_service(storage, red_blue_checkpoint, port)
    base = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: _up(port) and files(port)["total"] == 1)
        poll(lambda: files(port, status="indexed")["total"] == 1)

        staged = write_image(storage / ".partial.jpg", (30, 30, 220), seed=2)
        staged.rename(storage / "dropped.jpg")  # as copy tools do: written, then renamed in
        poll(lambda: files(port, status="indexed", q="dropped")["total"] == 1)

        (storage / "first.jpg").unlink()
        poll(lambda: files(port, status="missing")["total"] == 1)

        photo = write_image(tmp_path / "src" / "up.jpg", (30, 30, 220), seed=3).read_bytes()
        escape = httpx.post(f"{base}/api/upload", files={"file": ("../up.jpg", photo)})
        assert escape.status_code == 400 and not (tmp_path / "up.jpg").exists()
        sent = httpx.post(f"{base}/api/upload", files={"file": ("up.jpg", photo)}, timeout=60)
        assert sent.status_code == 201, sent.text
        item = sent.json()
        assert item["path"] == "up.jpg" and item["context"] in ("red", "blue")
        assert (storage / "up.jpg").read_bytes() == photo

        label = "blue" if item["context"] == "red" else "red"  # the model's own clears
        fixed = httpx.put(f"{base}/api/files/{item['id']}/context", json={"context": label})
        assert fixed.status_code == 200 and fixed.json()["corrected"]
        detail = httpx.get(f"{base}/api/files/{item['id']}").json()
        assert detail["context"] == label and detail["model_context"] == item["context"]
        thumb = httpx.get(f"{base}/api/files/{item['id']}/thumbnail")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        bad = httpx.put(f"{base}/api/files/{item['id']}/context", json={"context": "lava"})
        assert bad.status_code == 422 and "detail" in bad.json()
    finally:
        service.send_signal(signal.SIGINT)
        service.wait(30)


def _up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
            return True
    except OSError:
        return False
