"""The API's own description (OpenAPI) and its two readers, Swagger UI and ReDoc: viewers only
once the archive is secured (it names every route and parameter), like every other page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from landrec.archive.web.deps import ViewerDep

OPENAPI = "/openapi.json"
DOCS = ("/docs", "/redoc")  # pages that load their readers' code (see web/security.py)
router = APIRouter(include_in_schema=False)


@router.get(OPENAPI)
def openapi(request: Request, _: ViewerDep) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get(DOCS[0])
def swagger_ui(request: Request, _: ViewerDep) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI, title=f"{request.app.title} - Swagger UI")


@router.get(DOCS[1])
def redoc(request: Request, _: ViewerDep) -> HTMLResponse:
    return get_redoc_html(openapi_url=OPENAPI, title=f"{request.app.title} - ReDoc")
