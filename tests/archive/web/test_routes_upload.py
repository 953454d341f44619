"""Uploads: stored whole under a safe, unused name inside the storage, or refused with a 4xx
and nothing left behind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db.models import File
from landrec.archive.domain import StoragePath
from landrec.archive.settings import ArchiveSettings, make_settings
from landrec.archive.web import create_app
from landrec.archive.web.routes_upload import MAX_NAME_BYTES, safe_name

Jpeg = Callable[..., bytes]
LIMIT = 64 * 1024  # conftest's max_upload_bytes


def files_in(folder: Path) -> list[str]:
    """Every file under `folder` (dot-files included: no temp file may stay)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def calls() -> list[list[StoragePath]]:
    return []


@pytest.fixture
def indexing(
    settings: ArchiveSettings, sessions: sessionmaker[Session], calls: list[list[StoragePath]]
) -> Iterator[TestClient]:
    """A client whose app indexes each upload at once (a row inserted through the ORM)."""

    def index(paths: list[StoragePath]) -> None:
        calls.append(paths)
        with sessions() as session:
            for path in paths:
                size = path.absolute(settings.storage).stat().st_size
                now = datetime.now(timezone.utc)
                session.add(File(path=path.posix, size=size, mtime=0.0, first_seen=now,
                                 kind="image", status="indexed", context="coast"))  # fmt: skip
            session.commit()

    with TestClient(create_app(settings, sessions, index=index)) as client:
        yield client


def test_upload_indexed(
    indexing: TestClient, settings: ArchiveSettings, calls: list[list[StoragePath]], jpeg: Jpeg
) -> None:
    data = jpeg()
    response = indexing.post("/api/upload", files={"file": ("photo.jpg", data, "image/jpeg")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["path"], body["context"], body["status"]) == ("photo.jpg", "coast", "indexed")
    assert calls == [[StoragePath("photo.jpg")]]
    assert (settings.storage / "photo.jpg").read_bytes() == data
    assert files_in(settings.storage) == ["photo.jpg"]
    assert indexing.get(f"/api/files/{body['id']}").json()["path"] == "photo.jpg"


def test_upload_into_folder(indexing: TestClient, settings: ArchiveSettings, jpeg: Jpeg) -> None:
    response = indexing.post(
        "/api/upload",
        data={"folder": "trips/2024 summer"},
        files={"file": ("a b.jpg", jpeg(), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["path"] == "trips/2024 summer/a b.jpg"
    assert files_in(settings.storage) == ["trips/2024 summer/a b.jpg"]


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0und") -> bytes:
    """A multipart/form-data body with the parts in this order: (name, filename, data)."""
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_upload_folder_after_file(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg
) -> None:
    body = multipart([("file", "p.jpg", jpeg()), ("note", None, b"x"), ("folder", None, b"late")])
    headers = {"Content-Type": "multipart/form-data; boundary=b0und"}
    response = client.post("/api/upload", content=body, headers=headers)
    assert (response.status_code, response.json()) == (202, {"path": "late/p.jpg"})
    assert files_in(settings.storage) == ["late/p.jpg"]


def test_upload_without_index_is_accepted(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg
) -> None:
    response = client.post("/api/upload", files={"file": ("x.jpg", jpeg(), "image/jpeg")})
    assert (response.status_code, response.json()) == (202, {"path": "x.jpg"})
    assert client.get("/api/health").json()["files"] == 0


def test_upload_index_failure_is_accepted(
    settings: ArchiveSettings, sessions: sessionmaker[Session], jpeg: Jpeg
) -> None:
    def broken(paths: list[StoragePath]) -> None:
        raise RuntimeError("model crashed")

    client = TestClient(create_app(settings, sessions, index=broken))
    response = client.post("/api/upload", files={"file": ("x.jpg", jpeg(), "image/jpeg")})
    assert (response.status_code, response.json()) == (202, {"path": "x.jpg"})
    assert files_in(settings.storage) == ["x.jpg"]


def test_duplicate_names_get_a_suffix(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg
) -> None:
    first, second, third = jpeg((255, 0, 0)), jpeg((0, 255, 0)), jpeg((0, 0, 255))
    for data in (first, second, third):
        client.post("/api/upload", files={"file": ("dup.jpg", data, "image/jpeg")})
    assert files_in(settings.storage) == ["dup-1.jpg", "dup-2.jpg", "dup.jpg"]
    assert (settings.storage / "dup.jpg").read_bytes() == first
    assert (settings.storage / "dup-1.jpg").read_bytes() == second


def padded(jpeg: Jpeg, size: int) -> bytes:
    """A JPEG followed by zeros up to `size` bytes (Pillow still reads it)."""
    data = jpeg()
    return data + b"\0" * (size - len(data))


def test_upload_at_the_limit(client: TestClient, settings: ArchiveSettings, jpeg: Jpeg) -> None:
    response = client.post("/api/upload", files={"file": ("max.jpg", padded(jpeg, LIMIT))})
    assert response.status_code == 202, response.text
    assert (settings.storage / "max.jpg").stat().st_size == LIMIT


@pytest.mark.parametrize("size", [LIMIT + 1, 80 * 1024, 400 * 1024])
def test_upload_too_large(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg, size: int
) -> None:
    files = {"file": ("big.jpg", padded(jpeg, size))}
    response = client.post("/api/upload", data={"folder": "new/deep"}, files=files)
    assert response.status_code == 413, response.text
    assert "limit" in response.json()["detail"]
    assert list(settings.storage.iterdir()) == []  # no file, no folder made


def test_upload_too_large_chunked(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg
) -> None:
    body = multipart([("file", "big.jpg", padded(jpeg, 200 * 1024))])

    def chunks() -> Iterator[bytes]:  # no Content-Length: only counting can stop it
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    headers = {"Content-Type": "multipart/form-data; boundary=b0und"}
    response = client.post("/api/upload", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert files_in(settings.storage) == []


@pytest.mark.parametrize(
    "name", ["../x.jpg", "/etc/passwd", "..\\x.jpg", "a/../../x.jpg", "..", "/x.jpg"]
)
def test_upload_refuses_traversal_names(
    client: TestClient, settings: ArchiveSettings, tmp_path: Path, jpeg: Jpeg, name: str
) -> None:
    response = client.post("/api/upload", files={"file": (name, jpeg(), "image/jpeg")})
    assert response.status_code == 400, response.text
    assert files_in(settings.storage) == []
    assert [p for p in files_in(tmp_path) if not p.startswith("state/")] == []


def test_upload_windows_path_keeps_the_base_name(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg
) -> None:
    files = {"file": ("C:\\Users\\me\\x.jpg", jpeg(), "image/jpeg")}  # old browsers send it
    assert client.post("/api/upload", files=files).json() == {"path": "x.jpg"}
    assert files_in(settings.storage) == ["x.jpg"]


@pytest.mark.parametrize(
    "folder", ["../../", "..", "/tmp", "a/../../b", ".hidden", "a/.git", "C:/x", "a\x00b"]
)
def test_upload_refuses_traversal_folders(
    client: TestClient, settings: ArchiveSettings, tmp_path: Path, jpeg: Jpeg, folder: str
) -> None:
    files = {"file": ("x.jpg", jpeg(), "image/jpeg")}
    response = client.post("/api/upload", data={"folder": folder}, files=files)
    assert response.status_code == 400, response.text
    assert "folder" in response.json()["detail"]
    assert files_in(settings.storage) == []
    assert [p for p in files_in(tmp_path) if not p.startswith("state/")] == []


def test_upload_refuses_symlinked_folder_outside(
    client: TestClient, settings: ArchiveSettings, tmp_path: Path, jpeg: Jpeg
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, settings.storage / "out")
    for folder in ("out", "out/new", "out/../x"):
        files = {"file": ("x.jpg", jpeg(), "image/jpeg")}
        response = client.post("/api/upload", data={"folder": folder}, files=files)
        assert response.status_code == 400, (folder, response.text)
    assert list(outside.iterdir()) == []
    assert files_in(settings.storage) == []


@pytest.mark.parametrize(
    "data", [b"hello, this is text", b"%PDF-1.4 not a picture", b"", b"\xff\xd8"]
)
def test_upload_refuses_other_content(
    client: TestClient, settings: ArchiveSettings, data: bytes
) -> None:
    files = {"file": ("fake.jpg", data, "image/jpeg")}
    response = client.post("/api/upload", data={"folder": "x/y"}, files=files)
    assert response.status_code == 415, response.text
    assert list(settings.storage.iterdir()) == []


def test_upload_bad_requests(client: TestClient, settings: ArchiveSettings, jpeg: Jpeg) -> None:
    assert client.post("/api/upload", json={"file": "x"}).status_code == 400
    no_file = client.post("/api/upload", data={"folder": "a"}, files={"other": ("x", b"x")})
    assert no_file.status_code == 422
    two = multipart([("file", "a.jpg", jpeg()), ("file", "b.jpg", jpeg())])
    headers = {"Content-Type": "multipart/form-data; boundary=b0und"}
    assert client.post("/api/upload", content=two, headers=headers).status_code == 400
    long_header = multipart([("file", "a" * 10_000 + ".jpg", jpeg())])
    assert client.post("/api/upload", content=long_header, headers=headers).status_code == 400
    cut = multipart([("file", "a.jpg", jpeg())])[:-40]
    assert client.post("/api/upload", content=cut, headers=headers).status_code in (400, 422)
    assert [p for p in files_in(settings.storage) if not p.startswith("a/")] == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("  .hidden photo.jpg", "hidden photo.jpg"),
        ("cafe\u0301.jpg", "caf\u00e9.jpg"),  # NFC; refused names: test_upload_names.py
        ("dir/sub/name.png", "name.png"),
        ("...", "upload"),
        ("", "upload"),
        (None, "upload"),
    ],
)
def test_safe_name(raw: str | None, expected: str) -> None:
    assert safe_name(raw) == expected


def test_safe_name_limits_length() -> None:
    name = safe_name("é" * 300 + ".jpeg")
    assert name.endswith(".jpeg") and len(name.encode()) <= MAX_NAME_BYTES


MULTIPART = {"Content-Type": "multipart/form-data; boundary=b0und"}
CHUNK = 8192


async def post_streamed(app: FastAPI, body: AsyncIterator[bytes]) -> httpx.Response:
    """POST /api/upload with a body read only as the server asks for it (no Content-Length)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post("/api/upload", content=body, headers=MULTIPART)


def test_a_chunked_upload_over_the_limit_is_refused_without_reading_on(
    settings: ArchiveSettings, sessions: sessionmaker[Session], jpeg: Jpeg
) -> None:
    body = multipart([("file", "big.jpg", padded(jpeg, 4 * 1024 * 1024))])
    sent = [0]

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), CHUNK):
            sent[0] += len(body[i : i + CHUNK])
            yield body[i : i + CHUNK]

    response = asyncio.run(post_streamed(create_app(settings, sessions), chunks()))
    assert response.status_code == 413, response.text
    assert sent[0] <= LIMIT + CHUNK + 1024  # the limit, one chunk, the part's headers
    assert response.headers["connection"] == "close"  # the server reads no more of it
    assert files_in(settings.storage) == []


def test_uploads_over_the_parallel_cap_get_503_with_retry_after(
    settings: ArchiveSettings, sessions: sessionmaker[Session], jpeg: Jpeg
) -> None:
    app = create_app(replace(settings, max_parallel_uploads=2), sessions)
    bodies = [multipart([("file", f"{i}.jpg", jpeg((i, 0, 0)))]) for i in range(4)]

    async def uploads() -> list[httpx.Response]:
        reading, release = asyncio.Event(), asyncio.Event()
        readers: list[int] = []

        async def held(body: bytes) -> AsyncIterator[bytes]:  # read up to `release`
            readers.append(1)
            if len(readers) == 2:
                reading.set()
            yield body[:100]
            await release.wait()
            yield body[100:]

        async def whole(body: bytes) -> AsyncIterator[bytes]:
            yield body

        first = [asyncio.create_task(post_streamed(app, held(b))) for b in bodies[:2]]
        await asyncio.wait_for(reading.wait(), 60)  # both are being received
        over = await post_streamed(app, whole(bodies[2]))
        release.set()
        done = await asyncio.gather(*first)
        return [over, *done, await post_streamed(app, whole(bodies[3]))]

    over, *done, after = asyncio.run(uploads())
    assert over.status_code == 503 and int(over.headers["retry-after"]) > 0
    assert "uploads" in over.json()["detail"]
    assert [r.status_code for r in done] == [202, 202] and after.status_code == 202
    assert files_in(settings.storage) == ["0.jpg", "1.jpg", "3.jpg"]


@pytest.mark.parametrize("folder", ["a" * 300, "é" * 130, "ok/" + "b" * 256])
def test_upload_refuses_a_folder_name_too_long_for_the_file_system(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg, folder: str
) -> None:
    files = {"file": ("x.jpg", jpeg(), "image/jpeg")}
    response = client.post("/api/upload", data={"folder": folder}, files=files)
    assert response.status_code == 400, response.text
    assert "bytes" in response.json()["detail"]
    assert files_in(settings.storage) == []


def test_upload_refuses_a_path_too_long_for_the_file_system(
    tmp_path: Path, sessions: sessionmaker[Session], jpeg: Jpeg
) -> None:
    deep = tmp_path.joinpath(*["d" * 200] * 16)  # a storage root 3,200 bytes deep
    deep.mkdir(parents=True)
    settings = make_settings(deep, state_dir=tmp_path / "state", allowed_hosts=("testserver",))
    folder = "/".join(["f" * 190] * 5)  # within the field's 1,024 bytes; the whole path is not
    client = TestClient(create_app(settings, sessions))
    response = client.post(
        "/api/upload", data={"folder": folder}, files={"file": ("x.jpg", jpeg())}
    )
    assert response.status_code == 400, response.text
    assert "path" in response.json()["detail"] and list(deep.iterdir()) == []
