"""Upload names and folders that look like something else: refused with the reason (400), or
stored in one Unicode form (NFC), so no two names differ only by what a reader cannot see."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from landrec.archive.settings import ArchiveSettings
from landrec.archive.web.routes_upload import UploadError, safe_name

Jpeg = Callable[..., bytes]

REFUSED = [
    ("photo\u202egpj.exe", "bidirectional"),  # right-to-left override: shows "photoexe.jpg"
    ("a\u202ab.jpg", "bidirectional"),
    ("a\u2066b.jpg", "bidirectional"),
    ("a\u2069b.jpg", "bidirectional"),
    ("zero\u200bwidth.jpg", "U+200B"),  # zero-width space
    ("join\u200d.jpg", "U+200D"),
    ("bom\ufeff.jpg", "U+FEFF"),
    ("soft\u00adhyphen.jpg", "U+00AD"),
    ("nul\x00byte.jpg", "U+0000"),
    ("tab\tname.jpg", "U+0009"),
    ("del\x7f.jpg", "U+007F"),
    ("CON", "reserved"),
    ("con.jpg", "reserved"),
    ("NUL.jpg", "reserved"),
    ("nul.tar.gz", "reserved"),
    ("Aux.png", "reserved"),
    ("prn.JPG", "reserved"),
    ("COM1.jpg", "reserved"),
    ("com9.jpeg", "reserved"),
    ("LPT1", "reserved"),
    ("lpt9.jpg", "reserved"),
    (".con.jpg", "reserved"),  # the leading dot is dropped: "con.jpg"
    ("photo.jpg.", "dot or a space"),
    ("photo.jpg ", "dot or a space"),
    ("photo. . ", "dot or a space"),
]


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def upload(client: TestClient, name: str, data: bytes, folder: str | None = None) -> Any:
    """POST a multipart body whose names are sent as they are, UTF-8, as browsers send them
    (httpx would percent-encode a control character)."""
    parts = [] if folder is None else [b'Content-Disposition: form-data; name="folder"\r\n\r\n'
                                       + folder.encode()]  # fmt: skip
    head = f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
    parts.append(head.encode() + b"Content-Type: image/jpeg\r\n\r\n" + data)
    body = b"".join(b"--b0und\r\n" + part + b"\r\n" for part in parts) + b"--b0und--\r\n"
    headers = {"Content-Type": "multipart/form-data; boundary=b0und"}
    return client.post("/api/upload", content=body, headers=headers)


@pytest.mark.parametrize(("name", "reason"), REFUSED)
def test_upload_refuses_a_deceptive_name(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg, name: str, reason: str
) -> None:
    response = upload(client, name, jpeg())
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert "file name" in detail and reason in detail, detail
    assert files_in(settings.storage) == []


@pytest.mark.parametrize(("part", "reason"), REFUSED)
def test_upload_refuses_a_deceptive_folder(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg, part: str, reason: str
) -> None:
    for folder in (part, f"trips/{part}", f"{part}/2024"):
        if part.startswith(".") and not folder.startswith("trips/"):
            continue  # a hidden folder: refused for that already
        response = upload(client, "x.jpg", jpeg(), folder)
        assert response.status_code == 400, (folder, response.text)
        detail = response.json()["detail"]
        assert "folder" in detail, detail
        assert reason in detail or part.startswith("."), detail
    assert files_in(settings.storage) == []


@pytest.mark.parametrize(
    "name", ["CONSOLE.jpg", "com10.jpg", "nullable.jpg", "lpt.jpg", "con-1.jpg"]
)
def test_names_that_only_start_like_a_device_are_kept(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg, name: str
) -> None:
    assert upload(client, name, jpeg()).status_code in (201, 202)
    assert files_in(settings.storage) == [name]


def test_nfc_and_nfd_twins_are_one_name(
    client: TestClient, settings: ArchiveSettings, jpeg: Jpeg
) -> None:
    nfd, nfc = "cafe\u0301.jpg", "caf\u00e9.jpg"
    first = upload(client, nfd, jpeg((255, 0, 0)), folder="e\u0301te\u0301")
    assert first.json() == {"path": "\u00e9t\u00e9/caf\u00e9.jpg"}
    second = upload(client, nfc, jpeg((0, 255, 0)), folder="\u00e9t\u00e9")
    assert second.json() == {"path": "\u00e9t\u00e9/caf\u00e9-1.jpg"}
    stored = files_in(settings.storage)
    assert stored == ["\u00e9t\u00e9/caf\u00e9-1.jpg", "\u00e9t\u00e9/caf\u00e9.jpg"]
    assert all(unicodedata.is_normalized("NFC", p) for p in stored)


@pytest.mark.parametrize("raw", ["a\x00b\x1f.jpg", "trailing.", "  .hidden photo.jpg "])
def test_safe_name_refuses_rather_than_strips(raw: str) -> None:
    with pytest.raises(UploadError) as refused:
        safe_name(raw)
    assert refused.value.status == 400
