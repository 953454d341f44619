"""Errors as JSON: every 4xx and 5xx a `{"detail": ...}` body, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from landrec.archive.web.schemas import ErrorOut, ValidationErrorOut

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # a busy database: the client tries again after this
MEANING = {  # each documented error answer's description in the OpenAPI
    400: "Bad request (or a Host header this archive is not served as)",
    401: "Not authenticated: log in, or send an API token",
    403: "Refused: beyond the role, without the CSRF token, or sent from another site's page",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    415: "Not an image or a video",
    416: "Range not satisfiable",
    422: "Invalid parameters or body",
    500: "Internal server error (details in the server's log only)",
    503: "Database unavailable: retry after Retry-After seconds",
}
EVERY_ROUTE = (400, 401, 403, 500, 503)  # what any request may get: decided before the route


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for these error answers, each with its body's model."""
    return {
        status: {
            "model": ValidationErrorOut if status == 422 else ErrorOut,
            "description": MEANING[status],
        }
        for status in statuses
    }


def invalid(where: str, name: str, message: str) -> RequestValidationError:
    """A 422 in the shape FastAPI gives its own validation errors (`detail`: a list of
    `{loc, msg, type}`), so that every 422 body is the documented one."""
    return RequestValidationError([{"loc": (where, name), "msg": message, "type": "value_error"}])


def error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTPException, but a 422 raised with a text `detail` (rather than
    by `invalid`) gets the documented list shape all the same."""
    assert isinstance(exc, HTTPException)  # registered for it alone
    if exc.status_code == 422 and isinstance(exc.detail, str):
        issue = {"loc": ["body"], "msg": exc.detail, "type": "value_error"}
        return JSONResponse({"detail": [issue]}, status_code=422, headers=exc.headers)
    return await http_exception_handler(request, exc)


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
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(OperationalError, database_busy)
    app.add_exception_handler(Exception, unexpected)
