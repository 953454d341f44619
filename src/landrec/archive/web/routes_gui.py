"""The web GUI: `index.html` at `/`, its static assets under a versioned URL (cached for a
year: a new release changes the version), and the small JSON reads only the GUI needs."""

from __future__ import annotations

import enum
import functools
import hashlib
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict

from landrec.archive.db import queries
from landrec.archive.db.models import Status
from landrec.archive.web.deps import (
    ClassesDep,
    MaybePrincipalDep,
    SessionDep,
    ViewerDep,
    ViewsDep,
)
from landrec.archive.web.schemas import UtcDatetime

STATIC = Path(__file__).parent / "static"
VERSION_MARK = "{{version}}"  # replaced in index.html by the assets' version
IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".html": "text/html",
    ".json": "application/json",
}

router = APIRouter()


class FailureStatus(str, enum.Enum):
    """The statuses of a file the watcher will not index as it is."""

    FAILED = Status.FAILED.value  # could not be processed: `error` says why
    UNSUPPORTED = Status.UNSUPPORTED.value  # neither an image nor a video


STATUS_OF = {FailureStatus.FAILED: Status.FAILED, FailureStatus.UNSUPPORTED: Status.UNSUPPORTED}


class Failure(BaseModel):
    """A file that could not be indexed (failed or unsupported), and why."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    path: str
    status: FailureStatus
    format: str | None
    error: str | None  # the reason; for an unsupported file, the format found
    attempts: int
    last_processed: UtcDatetime | None


@functools.cache
def asset_version() -> str:
    """A digest of every static file: changes whenever any asset does."""
    digest = hashlib.sha256()
    for path in sorted(p for p in STATIC.rglob("*") if p.is_file()):
        digest.update(path.relative_to(STATIC).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def page(name: str) -> HTMLResponse:
    """An HTML page of the GUI, never cached, so it always names the current assets' version."""
    html = (STATIC / name).read_text(encoding="utf-8")
    html = html.replace(VERSION_MARK, asset_version())
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@router.get("/", include_in_schema=False, response_model=None)
def index(who: MaybePrincipalDep) -> HTMLResponse | RedirectResponse:
    """The single page; without a credential (in a secured archive), the login page instead."""
    if who is None:
        return RedirectResponse("/login", status_code=303)
    return page("index.html")


@router.get("/static/{version}/{name:path}", include_in_schema=False)
def asset(version: str, name: str) -> FileResponse:
    """A static file; cached for good when asked for under the current version."""
    base = STATIC.resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise HTTPException(404, "asset not found")
    cache = IMMUTABLE if version == asset_version() else "no-cache"
    media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": cache})


@router.get("/api/classes")
def classes(_: ViewerDep, session: SessionDep, model_classes: ClassesDep) -> list[str]:
    """The contexts a file can be corrected to: the model's classes (or, with no model, the
    contexts in the archive), "unknown" excluded."""
    names = model_classes if model_classes is not None else queries.stats(session)["context"]
    return sorted(name for name in names if name != queries.UNKNOWN)


@router.get("/api/views")
def views(_: ViewerDep, session: SessionDep, model_views: ViewsDep) -> list[str]:
    """The views the list can be filtered by: the model's (e.g. ground, overhead), or, with no
    model telling views apart, the views in the archive."""
    return sorted(model_views) if model_views else queries.views(session)


@router.get("/api/failures")
def failures(
    _: ViewerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: FailureStatus | None = None,
) -> list[Failure]:
    """The files that failed or are unsupported (`status`: one of them; default both), the
    most recently tried first, each with its status and reason."""
    wanted = [status] if status else list(FailureStatus)
    rows = queries.failures(session, limit, tuple(STATUS_OF[s] for s in wanted))
    return [reason(Failure.model_validate(row)) for row in rows]


def reason(failure: Failure) -> Failure:
    """The failure with a reason always given: an unsupported file's is the format found."""
    if failure.error is None and failure.status is FailureStatus.UNSUPPORTED:
        failure.error = f"not an image or a video: {failure.format or 'unknown format'}"
    return failure
