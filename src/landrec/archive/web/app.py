"""The archive's REST API: one FastAPI app over the database, the storage and the indexer."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp

from landrec.archive.domain import StoragePath
from landrec.archive.settings import ArchiveSettings
from landrec.archive.web import (
    errors,
    routes_auth,
    routes_bulk,
    routes_docs,
    routes_files,
    routes_gui,
    routes_tracks,
    routes_upload,
    security,
)

Index = Callable[[list[StoragePath]], None]  # index these files now (synchronously)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Routes run in anyio's thread pool (40 threads by default). One per core: fewer threads
    # fighting for the GIL. 10 clients on 100,000 rows, 2 cores: p99 68 ms with 2 threads,
    # 150 ms with 40 (wrk, benchmarks/archive_load.py).
    anyio.to_thread.current_default_thread_limiter().total_tokens = max(2, os.cpu_count() or 2)
    yield


class ArchiveApp(FastAPI):
    """FastAPI with the HTTP hardening outermost: around Starlette's error handler too, so that
    a 500 gets the security headers like any answer."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: ArchiveSettings = self.state.settings
        return security.Security(
            super().build_middleware_stack(),
            settings.allowed_hosts,
            settings.cors_origins,
            list(routes_docs.DOCS),
        )

    def openapi(self) -> dict[str, Any]:
        """The API's description, the `view` filter's values listed: the model's views."""
        if self.openapi_schema is None:
            views_in_schema(super().openapi(), self.state.views or [])
        return self.openapi_schema or {}


def views_in_schema(schema: dict[str, Any], views: list[str]) -> None:
    """The model's `views` as the enum of every `view` filter of `schema` (the list's query
    parameter, a bulk filter's field), in place; nothing where the model has no views."""
    if not views:
        return
    targets = [
        p["schema"]
        for operation in _operations(schema)
        for p in operation.get("parameters", [])
        if p.get("name") == "view" and p.get("in") == "query"
    ]
    for component in schema.get("components", {}).get("schemas", {}).values():
        if "view" in component.get("properties", {}) and component.get("title") in FILTERS:
            targets.append(component["properties"]["view"])
    for target in targets:
        for branch in target.get("anyOf", [target]):
            if branch.get("type") == "string":
                branch["enum"] = list(views)


FILTERS = ("BulkFilter", "FilterQuery", "ListQuery")  # the schemas whose `view` is a filter


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for path in schema.get("paths", {}).values() for op in path.values()]


def create_app(
    settings: ArchiveSettings,
    sessions: sessionmaker[Session],
    index: Index | None = None,
    classes: list[str] | None = None,
    views: list[str] | None = None,
) -> FastAPI:
    """The API app: `index` is called on each upload once stored (None: the watcher will find
    it, the upload answers 202); `classes` are the allowed corrections (None: any name);
    `views` the model's (e.g. ground, overhead: the list's `view` filter's values; None or []:
    any name)."""
    app = ArchiveApp(
        title="landrec archive",
        summary="Search the archive's images and videos by landscape context and metadata.",
        version="1",
        lifespan=_lifespan,
        responses=errors.responses(*errors.EVERY_ROUTE),
        openapi_url=None,  # served by routes_docs, behind the viewer role
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.index = index
    app.state.wake = None  # serve() sets it: wakes the indexing loop (a bulk re-index)
    app.state.dispatcher = None  # serve() sets it in the distributed mode (the broker's queues)
    app.state.classes = None if classes is None else list(classes)
    app.state.views = None if views is None else list(views)
    app.state.upload_slots = routes_upload.UploadSlots(settings.max_parallel_uploads)
    errors.install(app)
    if settings.cors_origins:  # off unless configured: the GUI is served from the same origin
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-CSRF-Token",
                "Range",
                "If-None-Match",
            ],
            expose_headers=["Content-Range", "Accept-Ranges", "ETag", "Retry-After"],
        )
    app.include_router(routes_bulk.router)
    app.include_router(routes_files.router)
    app.include_router(routes_tracks.router)
    app.include_router(routes_upload.router)
    app.include_router(routes_gui.router)
    app.include_router(routes_auth.router)
    app.include_router(routes_docs.router)
    return app
