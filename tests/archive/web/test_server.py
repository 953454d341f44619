"""The app behind a real uvicorn server: uploads streamed over a socket, ranges, limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.settings import ArchiveSettings
from landrec.archive.web import create_app

START_TIMEOUT_S = 10


@pytest.fixture
def base_url(settings: ArchiveSettings, sessions: sessionmaker[Session]) -> Iterator[str]:
    config = uvicorn.Config(create_app(settings, sessions), host="127.0.0.1", port=0,
                            log_level="warning", lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=START_TIMEOUT_S)


def test_upload_and_range_over_http(
    base_url: str, settings: ArchiveSettings, jpeg: Callable[..., bytes], add_file: Callable
) -> None:
    data = jpeg()
    (settings.storage / "old.jpg").write_bytes(data)
    row = add_file("old.jpg", size=len(data))
    with httpx.Client(base_url=base_url, timeout=10) as client:
        tail = client.get(f"/api/files/{row.id}/content", headers={"Range": "bytes=-10"})
        assert (tail.status_code, tail.content) == (206, data[-10:])
        stored = client.post("/api/upload", files={"file": ("net.jpg", data)}, data={"folder": "n"})
        assert (stored.status_code, stored.json()) == (202, {"path": "n/net.jpg"})
        too_big = client.post("/api/upload", files={"file": ("big.jpg", data + b"\0" * 70_000)})
        assert too_big.status_code == 413
        assert client.get("/api/health").json() == {"status": "ok", "files": 1, "pending": 0}
    assert sorted(p.name for p in settings.storage.rglob("*")) == ["n", "net.jpg", "old.jpg"]
