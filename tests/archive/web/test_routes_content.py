"""A file's thumbnail and content: cache headers, HTTP Range, media types, no symlink escape."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from landrec.archive.db.models import File
from landrec.archive.settings import ArchiveSettings
from landrec.archive.web.ranges import Unsatisfiable, parse_range

AddFile = Callable[..., File]
SHA = "ab" + "c" * 62


@pytest.fixture
def photo(settings: ArchiveSettings, add_file: AddFile) -> tuple[File, bytes]:
    """A stored JPEG (with a thumbnail) and its bytes."""
    data = bytes(range(256)) * 8  # the content route serves bytes, whatever they are
    (settings.storage / "photos").mkdir()
    (settings.storage / "photos" / "a.jpg").write_bytes(data)
    thumb = settings.thumbs_dir / "ab" / f"{SHA}.webp"
    thumb.parent.mkdir(parents=True)
    Image.new("RGB", (16, 12), (200, 10, 10)).save(thumb, "WEBP")
    row = add_file("photos/a.jpg", size=len(data), sha256=SHA, thumbnail=f"ab/{SHA}.webp")
    return row, data


def test_thumbnail(client: TestClient, photo: tuple[File, bytes], add_file: AddFile) -> None:
    row, _ = photo
    url = client.get("/api/files").json()["items"][0]["thumbnail_url"]
    assert url.startswith(f"/api/files/{row.id}/thumbnail")
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["etag"] == f'"{SHA}"'
    assert "max-age" in response.headers["cache-control"]
    assert Image.open(io.BytesIO(response.content)).size == (16, 12)
    again = client.get(url, headers={"If-None-Match": f'"{SHA}"'})
    assert (again.status_code, again.content) == (304, b"")
    bare = add_file("photos/b.jpg")
    for missing in (f"/api/files/{bare.id}/thumbnail", "/api/files/999/thumbnail"):
        response = client.get(missing)
        assert response.status_code == 404
        assert response.json()["detail"] == "thumbnail not found"


def test_thumbnail_jpeg_as_made_now_webp_as_made_before(
    client: TestClient, photo: tuple[File, bytes], settings: ArchiveSettings, add_file: AddFile
) -> None:
    other = hashlib.sha256(b"other").hexdigest()
    thumb = settings.thumbs_dir / other[:2] / f"{other}.jpg"
    thumb.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 12), (10, 200, 10)).save(thumb, "JPEG")
    row = add_file("photos/c.jpg", sha256=other, thumbnail=f"{other[:2]}/{other}.jpg")
    response = client.get(f"/api/files/{row.id}/thumbnail")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).format == "JPEG"
    old, _ = photo  # an archive indexed before keeps its WebP thumbnails
    response = client.get(f"/api/files/{old.id}/thumbnail")
    assert response.headers["content-type"] == "image/webp"


def test_thumbnail_file_gone(
    client: TestClient, photo: tuple[File, bytes], settings: ArchiveSettings
) -> None:
    row, _ = photo
    (settings.thumbs_dir / "ab" / f"{SHA}.webp").unlink()
    assert client.get(f"/api/files/{row.id}/thumbnail").status_code == 404


def test_content_whole(client: TestClient, photo: tuple[File, bytes]) -> None:
    row, data = photo
    response = client.get(f"/api/files/{row.id}/content")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["x-content-type-options"] == "nosniff"


RANGES = [
    ("bytes=0-9", 0, 9),
    ("bytes=100-", 100, 2047),
    ("bytes=-5", 2043, 2047),
    ("bytes=2000-99999", 2000, 2047),  # clipped to the end
    ("bytes=-5000", 0, 2047),  # a suffix longer than the file: all of it
    ("bytes=2047-2047", 2047, 2047),
]


@pytest.mark.parametrize(("header", "first", "last"), RANGES)
def test_content_range(
    client: TestClient, photo: tuple[File, bytes], header: str, first: int, last: int
) -> None:
    row, data = photo
    response = client.get(f"/api/files/{row.id}/content", headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(data)}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.content == data[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=2048-", "bytes=5000-6000", "bytes=-0"])
def test_content_range_unsatisfiable(
    client: TestClient, photo: tuple[File, bytes], header: str
) -> None:
    row, _ = photo
    response = client.get(f"/api/files/{row.id}/content", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */2048"
    assert "detail" in response.json()


@pytest.mark.parametrize("header", ["bytes=abc", "items=0-1", "bytes=0-1,3-4", "bytes=9-2"])
def test_content_range_ignored(client: TestClient, photo: tuple[File, bytes], header: str) -> None:
    row, data = photo
    response = client.get(f"/api/files/{row.id}/content", headers={"Range": header})
    assert (response.status_code, response.content) == (200, data)


def test_content_if_range(client: TestClient, photo: tuple[File, bytes]) -> None:
    row, data = photo
    url = f"/api/files/{row.id}/content"
    etag = client.get(url).headers["etag"]
    current = client.get(url, headers={"Range": "bytes=0-1", "If-Range": etag})
    assert (current.status_code, current.content) == (206, data[:2])
    stale = client.get(url, headers={"Range": "bytes=0-1", "If-Range": '"old"'})
    assert (stale.status_code, stale.content) == (200, data)


@pytest.mark.parametrize(
    ("name", "kind", "mime", "expected"),
    [
        ("clip.mp4", "video", "video/mp4", "video/mp4"),
        ("clip.webm", "video", "video/x-matroska", "video/webm"),  # WebM: Matroska's subset
        ("clip.mkv", "video", "video/x-matroska", "video/x-matroska"),
        ("scan", "image", "image/tiff", "image/tiff"),  # by content, not by name
        ("photo.png", "image", "image/jpeg", "image/jpeg"),
        ("odd.xbm", "image", None, "image/x-xbitmap"),  # no media type recorded: guessed
        ("blob", "image", None, "application/octet-stream"),  # nothing to guess from
        ("odd.mp4", "image", "video/mp4", "application/octet-stream"),  # not its kind's
        ("page.html", "other", "text/html", "application/octet-stream"),  # never text
        ("page.html", "other", None, "application/octet-stream"),
    ],
)
def test_content_media_types(
    client: TestClient,
    settings: ArchiveSettings,
    add_file: AddFile,
    name: str,
    kind: str,
    mime: str | None,
    expected: str,
) -> None:
    (settings.storage / name).write_bytes(b"<html>x</html>")
    row = add_file(name, kind=kind, mime=mime)
    response = client.get(f"/api/files/{row.id}/content")
    assert response.headers["content-type"] == expected


def test_content_refuses_paths_outside(
    client: TestClient, settings: ArchiveSettings, add_file: AddFile, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"secret")
    os.symlink(secret, settings.storage / "link.jpg")
    (settings.storage / "inner.jpg").write_bytes(b"inner")
    os.symlink(settings.storage / "inner.jpg", settings.storage / "alias.jpg")
    escaping = [add_file("link.jpg"), add_file("../secret.jpg"), add_file(str(secret))]
    for row in [*escaping, add_file("gone.jpg")]:
        response = client.get(f"/api/files/{row.id}/content")
        assert response.status_code == 404, row.path
        assert b"secret" not in response.content
    inside = client.get(f"/api/files/{add_file('alias.jpg').id}/content")
    assert (inside.status_code, inside.content) == (200, b"inner")
    assert client.get("/api/files/999/content").status_code == 404


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, (0, 0)),
        ("bytes = 2 - 4", 10, (2, 4)),
        ("BYTES=-3", 10, (7, 9)),
        ("bytes=3-", 10, (3, 9)),
        ("bytes=-", 10, None),
        ("bytes=0-1, 2-3", 10, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=-1", 0), ("bytes=0-", 0)])
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize(
    "name, mime, served",
    [
        ("x.svg", None, "application/octet-stream"),  # an ICO indexed before 0002: by name
        ("x.svg", "image/x-icon", "image/x-icon"),  # its detected type
        ("x.svg", "image/svg+xml", "application/octet-stream"),  # never inline
        ("x.html", None, "application/octet-stream"),
        ("x.xhtml", None, "application/octet-stream"),
        ("x.js", None, "application/octet-stream"),
        ("x.xml", None, "application/octet-stream"),
        ("x.jpg", None, "image/jpeg"),
    ],
)
def test_an_active_type_is_never_served(
    client: TestClient,
    settings: ArchiveSettings,
    add_file: AddFile,
    name: str,
    mime: str | None,
    served: str,
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, "ICO")
    (settings.storage / name).write_bytes(buffer.getvalue())
    row = add_file(name, size=len(buffer.getvalue()), format="ICO image", mime=mime)
    response = client.get(f"/api/files/{row.id}/content")
    assert response.status_code == 200
    assert response.headers["content-type"] == served
    assert response.headers["x-content-type-options"] == "nosniff"
