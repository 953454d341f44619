"""HTTP hardening: the security headers on every answer, the Host header checked, cross-site
state-changing requests refused, CORS off unless configured, proxy headers trusted only when
asked for and only from the configured forwarders."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import httpx
import pytest
import uvicorn
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db.models import File
from landrec.archive.service import server_options
from landrec.archive.settings import ArchiveSettings
from landrec.archive.web import create_app
from landrec.archive.web.security import CSP, HEADERS, HostPolicy

AddFile = Callable[..., File]
SITE = "http://testserver"  # the TestClient's own origin
EVIL = "https://evil.example"


def assert_hardened(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == CSP
    for name, value in HEADERS.items():
        assert response.headers.get_list(name) == [value], name


def test_headers_on_every_kind_of_answer(
    client: TestClient, settings: ArchiveSettings, add_file: AddFile
) -> None:
    (settings.storage / "a.jpg").write_bytes(b"\xff\xd8" + bytes(500))
    row = add_file("a.jpg", size=502, mime="image/jpeg")
    asset = client.get("/").text.split('href="')[2].split('"')[0]  # a stylesheet
    answers = {
        "json": client.get("/api/health"),
        "page": client.get("/"),
        "static file": client.get(asset),
        "streamed content": client.get(f"/api/files/{row.id}/content"),
        "range": client.get(f"/api/files/{row.id}/content", headers={"Range": "bytes=0-9"}),
        "404": client.get("/api/files/999"),
        "unknown path": client.get("/nothing"),
        "422": client.get("/api/files?bbox=x"),
        "405": client.delete("/api/health"),
    }
    assert [a.status_code for a in answers.values()] == [
        200,
        200,
        200,
        200,
        206,
        404,
        404,
        422,
        405,
    ]
    for answer in answers.values():
        assert_hardened(answer)


def test_headers_on_a_server_error(
    settings: ArchiveSettings, sessions: sessionmaker[Session]
) -> None:
    app = create_app(settings, sessions)

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("internals")

    response = TestClient(app, raise_server_exceptions=False).get("/api/boom")
    assert response.status_code == 500
    assert_hardened(response)


def test_docs_page_gets_its_own_policy(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "https://cdn.jsdelivr.net" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_422_detail_is_the_documented_list(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "422" in spec["paths"]["/api/files"]["get"]["responses"]
    for url in ("/api/files?bbox=x", "/api/files?from=yesterday", "/api/files?page=0"):
        detail = client.get(url).json()["detail"]
        assert isinstance(detail, list) and {"loc", "msg", "type"} <= set(detail[0]), url


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("testserver", 200), ("localhost", 200), ("127.0.0.1:8000", 200), ("[::1]:8000", 200),
        ("LOCALHOST.", 200), ("evil.example", 400), ("localhost.evil.example", 400), ("", 400),
    ],
)  # fmt: skip
def test_host_header_is_checked(client: TestClient, host: str, status: int) -> None:
    response = client.get("/api/health", headers={"Host": host})
    assert response.status_code == status
    assert_hardened(response)


def test_host_patterns() -> None:
    policy = HostPolicy(["archive.example.org", "*.lan", "::1"])
    assert policy.allows("archive.example.org:443") and policy.allows("nas.lan")
    assert policy.allows("[::1]") and not policy.allows("lan") and not policy.allows("x.org")
    assert HostPolicy(["*"]).allows("anything")


def test_cross_site_state_changes_are_refused(client: TestClient, add_file: AddFile) -> None:
    row = add_file("a.jpg")
    put = f"/api/files/{row.id}/context"
    upload = {"files": {"file": ("x.jpg", b"not an image")}}
    for origin in (EVIL, "null", "http://testserver:8080", "https://testserver"):
        refused = client.post("/api/upload", headers={"Origin": origin}, **upload)  # type: ignore[arg-type]
        assert refused.status_code == 403, origin
        assert "cross-site" in refused.json()["detail"]
        assert client.put(put, json={"context": "x"}, headers={"Origin": origin}).status_code == 403
    fetch = client.post("/api/upload", headers={"Sec-Fetch-Site": "cross-site"}, **upload)  # type: ignore[arg-type]
    assert fetch.status_code == 403
    # Same origin, or no browser at all: on to the route (415: the bytes are no image).
    assert client.post("/api/upload", headers={"Origin": SITE}, **upload).status_code == 415  # type: ignore[arg-type]
    assert client.post("/api/upload", **upload).status_code == 415  # type: ignore[arg-type]
    fixed = client.put(put, json={"context": "forest"}, headers={"Origin": SITE})
    assert fixed.status_code == 200
    assert client.get("/api/health", headers={"Origin": EVIL}).status_code == 200  # reads: CORS


def test_cors_is_off_by_default(client: TestClient) -> None:
    response = client.get("/api/health", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/api/upload", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_when_configured(settings: ArchiveSettings, sessions: sessionmaker[Session]) -> None:
    app_origin = "https://app.example.org"
    configured = dataclasses.replace(settings, cors_origins=(app_origin,))
    client = TestClient(create_app(configured, sessions))
    response = client.get("/api/health", headers={"Origin": app_origin})
    assert response.headers["access-control-allow-origin"] == app_origin
    preflight = client.options(
        "/api/upload", headers={"Origin": app_origin, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == app_origin
    upload = {"files": {"file": ("x.jpg", b"not an image")}}
    sent = client.post("/api/upload", headers={"Origin": app_origin}, **upload)  # type: ignore[arg-type]
    assert sent.status_code == 415  # allowed through to the route
    other = client.get("/api/health", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in other.headers
    assert client.post("/api/upload", headers={"Origin": EVIL}, **upload).status_code == 403  # type: ignore[arg-type]


def scheme_seen(
    settings: ArchiveSettings, sessions: sessionmaker[Session], client_ip: str
) -> tuple[str, str]:
    """(scheme, client address) the app sees behind uvicorn as `serve` configures it, for a
    request from `client_ip` carrying X-Forwarded-Proto/For."""
    app = create_app(settings, sessions)

    @app.get("/api/seen")
    def seen(request: Request) -> list[str]:
        return [request.url.scheme, request.client.host if request.client else ""]

    config = uvicorn.Config(app, **server_options(settings, "127.0.0.1", 8000))
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(client_ip, 50000))  # type: ignore[arg-type]
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}

    async def get() -> tuple[str, str]:
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            scheme, host = (await client.get("/api/seen", headers=headers)).json()
        return scheme, host

    return asyncio.run(get())


def test_proxy_headers_only_when_asked_and_from_the_forwarder(
    settings: ArchiveSettings, sessions: sessionmaker[Session]
) -> None:
    assert scheme_seen(settings, sessions, "127.0.0.1") == ("http", "127.0.0.1")  # default: off
    proxied = dataclasses.replace(settings, proxy_headers=True, forwarded_allow_ips=("10.0.0.2",))
    assert scheme_seen(proxied, sessions, "10.0.0.2") == ("https", "203.0.113.7")
    assert scheme_seen(proxied, sessions, "10.0.0.3") == ("http", "10.0.0.3")  # not the proxy


def test_serve_options_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from landrec.cli.archive import _http_settings
    from landrec.cli.main import build_parser

    args = build_parser().parse_args([
        "archive", "serve", "--storage", ".", "--host", "nas.lan",
        "--allowed-host", "*.example.org",
        "--cors-origin", "https://App.example.org/", "--proxy-headers",
        "--forwarded-allow-ips", "10.0.0.2, 10.0.0.3",
    ])  # fmt: skip
    options = _http_settings(args)
    assert options["allowed_hosts"] == ("localhost", "127.0.0.1", "::1", "nas.lan", "*.example.org")
    assert options["cors_origins"] == ("https://app.example.org",)
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == ("10.0.0.2", "10.0.0.3")
    wildcard = build_parser().parse_args(
        ["archive", "serve", "--storage", ".", "--host", "0.0.0.0"]
    )
    assert _http_settings(wildcard)["allowed_hosts"] == ("localhost", "127.0.0.1", "::1")
    assert _http_settings(wildcard)["proxy_headers"] is False
    with pytest.raises(SystemExit):
        build_parser().parse_args(["archive", "serve", "--storage", ".", "--cors-origin", "x/y"])
