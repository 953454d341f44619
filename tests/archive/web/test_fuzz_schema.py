"""The API against its own OpenAPI: schemathesis generates requests for every operation (valid
and invalid) and checks each answer (no 5xx, a documented status, content type, headers and
body schema), over a small real archive: a migrated SQLite database with an indexed photo,
a video and a failed file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from PIL import Image
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from landrec.archive.db.models import File
from landrec.archive.db.session import open_database
from landrec.archive.settings import LOCAL_HOSTS, make_settings
from landrec.archive.web import create_app
from landrec.cli.main import main

from .conftest import MAX_UPLOAD, TEST_HOST, jpeg_bytes

CLASSES = ["coast", "forest", "glacier"]
SHA = "ab" + "c" * 62
EXAMPLES = 15  # per operation and generation mode: about 40 s on 2 cores (-n 2)
# "A schema-valid request must be accepted" cannot hold where the schema cannot say it all: a
# bbox's min latitude above its max, a date that is not ISO, an upload that is not an image.
HEURISTIC = [positive_data_acceptance]
# A multipart field is text whatever JSON type was generated for it: the upload cannot tell a
# "folder" sent as an object from a folder with braces in its name.
UNTYPED_BODY = {"POST /api/upload": [negative_data_rejection]}


def rows(storage: Path, thumbs: Path) -> list[File]:
    """An indexed photo (file and thumbnail on disk), a video, a failed text file."""
    (storage / "trip").mkdir()
    (storage / "trip" / "lake.jpg").write_bytes(jpeg_bytes())
    (thumbs / "ab").mkdir(parents=True)
    thumb = io.BytesIO()
    Image.new("RGB", (16, 12), (20, 90, 200)).save(thumb, "WEBP")
    (thumbs / "ab" / f"{SHA}.webp").write_bytes(thumb.getvalue())
    seen = datetime(2024, 5, 1, tzinfo=timezone.utc)
    common = {"mtime": 0.0, "first_seen": seen}
    return [
        File(
            path="trip/lake.jpg", size=len(jpeg_bytes()), kind="image", status="indexed",
            format="JPEG image", mime="image/jpeg", sha256=SHA, thumbnail=f"ab/{SHA}.webp",
            context="coast", model_context="coast", confidence=0.9, latitude=46.5,
            longitude=8.0, taken_at=seen, **common,
        ),
        File(
            path="clip.mp4", size=1000, kind="video", status="indexed", format="MP4 video",
            context="forest", confidence=0.6, duration_s=3.0, **common,
        ),
        File(
            path="notes.jpg", size=10, kind="other", status="failed", format="text",
            error="not an image", attempts=1, **common,
        ),
    ]  # fmt: skip


def token_for(db_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """An admin API token, made the supported way: `landrec archive token create`."""
    capsys.readouterr()
    command = ["archive", "token", "create", "--db", db_url, "--name", "fuzz", "--role", "admin"]
    assert main(command) == 0
    return capsys.readouterr().out.strip()


@dataclass(frozen=True)
class Fuzzed:
    schema: schemathesis.BaseSchema
    headers: dict[str, str]  # the admin token
    token_id: int  # never revoked by a generated DELETE /api/tokens/{id}: the rest would get 401


@pytest.fixture
def fuzzed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Fuzzed]:
    (tmp_path / "storage").mkdir()
    archive = make_settings(
        tmp_path / "storage",
        state_dir=tmp_path / "state",
        max_upload_bytes=MAX_UPLOAD,
        allowed_hosts=(*LOCAL_HOSTS, TEST_HOST),  # schemathesis' ASGI client's Host
    )
    sessions = open_database(archive.db_url)
    with sessions() as session:
        session.add_all(rows(archive.storage, archive.thumbs_dir))
        session.commit()
    headers = {"Authorization": f"Bearer {token_for(archive.db_url, capsys)}"}
    app = create_app(archive, sessions, classes=CLASSES)
    with TestClient(app) as client:
        token_id = next(t["id"] for t in client.get("/api/tokens", headers=headers).json())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=headers)
    yield Fuzzed(schema, headers, token_id)
    sessions.kw["bind"].dispose()


def fuzz(
    operation: schemathesis.APIOperation, mode: schemathesis.GenerationMode, fuzzed: Fuzzed
) -> None:
    """Send one operation's generated requests as the admin; raise the failures found."""
    excluded = HEURISTIC + UNTYPED_BODY.get(operation.label, [])

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same requests on every run
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure shows as found
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        assume(str((case.path_parameters or {}).get("token_id")) != str(fuzzed.token_id))
        case.call_and_validate(headers=fuzzed.headers, excluded_checks=excluded)

    check()


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=str)
def test_api_conforms_to_its_schema(fuzzed: Fuzzed, mode: schemathesis.GenerationMode) -> None:
    """Every operation, valid (positive) or invalid (negative) requests, as an admin: every
    failure named."""
    failures = []
    for result in fuzzed.schema.get_all_operations():
        operation = result.ok()
        try:
            fuzz(operation, mode, fuzzed)
        except Unsatisfiable:  # no parameters and no body: nothing invalid to send
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
        except BaseException as exc:  # a failure (or a group of them): the others still run
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
