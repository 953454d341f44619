"""Errors as JSON: every 4xx and 5xx a `{"detail": ...}` body, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # a busy database: the client tries again after this


def error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def database_busy(request: Request, exc: Exception) -> JSONResponse:
    """A locked or unreachable database: 503, the client may retry."""
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    return error(503, "database unavailable, try again", {"Retry-After": str(RETRY_AFTER_S)})


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Any other exception: logged with its traceback here, a plain 500 for the client."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error(500, "internal server error")


def install(app: FastAPI) -> None:
    """Register the handlers (FastAPI's own already answer HTTP and validation errors in JSON)."""
    app.add_exception_handler(OperationalError, database_busy)
    app.add_exception_handler(Exception, unexpected)
