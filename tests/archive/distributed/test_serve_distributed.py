"""`landrec archive serve --broker` with one worker, all real subprocesses: the server only
registers and sends, the worker indexes what is dropped into the storage and what is uploaded,
then makes the previews."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conftest import write_image
from landrec.archive.db.models import File, Rendition, Tag
from landrec.archive.db.session import open_archive

from ..gui.helpers import free_port, start_service, stop
from .test_cli_distributed import totals, wait_for
from .test_scan import BLUE, RED

DEADLINE_S = 60.0


class Served:
    """A running `serve --broker` and its HTTP client."""

    def __init__(self, service: subprocess.Popen[bytes], log: Path, port: int) -> None:
        self.service, self.log = service, log
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def health(self) -> dict[str, Any] | None:
        """/api/health, or None while the server does not answer yet."""
        if self.service.poll() is not None:
            raise AssertionError(f"serve exited ({self.service.returncode}):\n{self.text()}")
        try:
            return dict(self.client.get("/api/health").json())
        except httpx.TransportError:
            return None

    def wait(self, condition: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """The first health answer meeting `condition`, polled until the deadline."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if (health := self.health()) is not None and condition(health):
                return health
            time.sleep(0.2)
        raise AssertionError(f"not done in {DEADLINE_S} s: {what}\n{self.text()[-3000:]}")

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def served(
    tmp_path: Path, fresh_postgres: str, broker_url: str, colour_model: Path, start_worker
) -> Iterator[Served]:
    """`serve --db PG --broker URL` on an empty storage, answering, and one worker, ready."""
    storage = tmp_path / "storage"
    storage.mkdir()
    port, log = free_port(), tmp_path / "serve.log"
    extra = ["--db", fresh_postgres, "--broker", broker_url, "--rescan", "600"]
    service = start_service(storage, colour_model, port, log, extra)
    server = Served(service, log, port)
    try:
        health = server.wait(lambda h: True, "serve answering")
        assert health["status"] == "ok" and health["files"] == 0, health
        assert health["queues"] == {"landrec.index": 0, "landrec.previews": 0}, health
        start_worker(fresh_postgres, broker_url, "--storage", str(storage), "--model",
                     str(colour_model))  # fmt: skip
        yield server
    finally:
        server.client.close()
        stop(service)


def rows(db: str) -> dict[str, Any]:
    """{path: (status, context)}, the tags, the renditions by status and the workers."""
    sessions = open_archive(db)
    try:
        with sessions() as session:
            files = {
                p: (s, c)
                for p, s, c in session.execute(select(File.path, File.status, File.context))
            }
            tags = session.execute(select(Tag.file_id, Tag.model_version)).all()
            renditions = dict(
                session.execute(
                    select(Rendition.status, func.count()).group_by(Rendition.status)
                ).all()
            )
        return {"files": files, "tags": tags, "renditions": renditions}
    finally:
        sessions.kw["bind"].dispose()


def test_files_dropped_into_the_storage_are_indexed_then_previewed_by_the_worker(
    served: Served, tmp_path: Path, fresh_postgres: str
) -> None:
    storage = tmp_path / "storage"
    for i in range(8):
        write_image(storage / "drop" / f"img{i}.jpg", BLUE if i % 2 else RED, seed=i)
    served.wait(lambda h: h["files"] == 8 and h["pending"] == 0, "8 dropped files indexed")
    found = rows(fresh_postgres)
    assert found["files"] == {
        f"drop/img{i}.jpg": ("indexed", "blue" if i % 2 else "red") for i in range(8)
    }
    assert len(found["tags"]) == len({file_id for file_id, _ in found["tags"]}) == 8
    # Previews: sent by the server once nothing waits to be indexed, made by the worker
    # (which indexed the files too, not the server).
    wait_for(lambda: totals(fresh_postgres) == {"w1": (8, 0, 8, 0)}, "8 indexed, 8 previews")
    renditions = rows(fresh_postgres)["renditions"]
    assert sum(renditions.values()) == 8 and set(renditions) <= {"ready", "original"}
    served.wait(
        lambda h: h["queues"] == {"landrec.index": 0, "landrec.previews": 0}, "queues empty"
    )


def test_an_upload_is_accepted_then_indexed_by_the_worker(
    served: Served, tmp_path: Path, fresh_postgres: str
) -> None:
    source = write_image(tmp_path / "upload" / "blue.jpg", BLUE, seed=1)
    response = served.client.post(
        "/api/upload",
        data={"folder": "sent"},
        files={"file": ("blue.jpg", source.read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 202, response.text  # stored; a worker indexes it
    assert response.json()["path"] == "sent/blue.jpg"
    assert (tmp_path / "storage" / "sent" / "blue.jpg").read_bytes() == source.read_bytes()
    served.wait(lambda h: h["files"] == 1 and h["pending"] == 0, "the upload indexed")
    assert rows(fresh_postgres)["files"] == {"sent/blue.jpg": ("indexed", "blue")}
    wait_for(lambda: totals(fresh_postgres).get("w1", (0,))[0] == 1, "the worker's count")
    [item] = served.client.get("/api/files", params={"q": "blue"}).json()["items"]
    assert item["path"] == "sent/blue.jpg"
    thumbnail = served.client.get(f"/api/files/{item['id']}/thumbnail")  # the worker's, served
    assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff"  # JPEG
