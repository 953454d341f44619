"""HTTP hardening, one ASGI middleware around the whole app (outside Starlette's error handler,
so its 500s pass through it too): the Host header checked (400), a state-changing request from
another site refused (403), and the security headers put on every answer."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from landrec.archive.web.errors import error

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# The GUI's own files only: no inline script or style, no plug-ins, never framed. Images and
# videos may be blob:/data: URLs (thumbnails, Leaflet's empty tile).
CSP = "; ".join([
    "default-src 'self'", "img-src 'self' data: blob:", "media-src 'self' blob:",
    "style-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'",
    "base-uri 'self'", "form-action 'self'",
])  # fmt: skip
# FastAPI's /docs (Swagger UI) and /redoc load their code from jsDelivr and start it with an
# inline script: only those pages get this wider policy.
DOCS_CSP = "; ".join([
    "default-src 'self'", "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com",
    "font-src https://fonts.gstatic.com", "img-src 'self' data: https://fastapi.tiangolo.com",
    "worker-src blob:", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'self'",
    "form-action 'self'",
])  # fmt: skip
HEADERS = {  # besides the Content-Security-Policy
    "X-Content-Type-Options": "nosniff",  # a type is never guessed from the bytes
    "X-Frame-Options": "DENY",  # no framing (older browsers' frame-ancestors)
    "Referrer-Policy": "no-referrer",  # file ids and searches stay out of other sites' logs
}


def host_name(host: str) -> str:
    """The name in a Host header or an allowed-host setting: lower case, no port, no
    brackets around an IPv6 address, no trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else ""
    if host.count(":") == 1:  # name:port (more colons: a bare IPv6 address)
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or URL; None when it is not one (`null`, garbage)."""
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


class HostPolicy:
    """The allowed Host names: exact, `*.example.org` (its subdomains) or `*` (any)."""

    def __init__(self, hosts: Iterable[str]) -> None:
        names = [h.strip().lower() for h in hosts]
        self.any = "*" in names
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))
        self.exact = frozenset(host_name(n) for n in names if not n.startswith("*"))

    def allows(self, host: str) -> bool:
        name = host_name(host)
        if not name:
            return False
        return self.any or name in self.exact or name.endswith(self.suffixes)


class Security:
    """The middleware: `hosts` the allowed Host names, `origins` the other sites (CORS) that may
    also change state; `docs_paths` get the docs pages' policy."""

    def __init__(
        self,
        app: ASGIApp,
        hosts: Iterable[str],
        origins: Iterable[str] = (),
        docs_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.hosts = HostPolicy(hosts)
        self.origins = frozenset(o for o in map(origin_of, origins) if o is not None)
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in self.docs_paths else CSP

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        headers = Headers(scope=scope)
        if not self.hosts.allows(headers.get("host", "")):
            response = error(400, "invalid Host header: not a name this archive is served as")
        elif scope["method"] in STATE_CHANGING and not self.same_site(scope, headers):
            response = error(403, "cross-site request refused: send it from the archive's page")
        else:
            await self.app(scope, receive, send_hardened)
            return
        await response(scope, receive, send_hardened)

    def same_site(self, scope: Scope, headers: Headers) -> bool:
        """The request comes from the archive's own pages, a CORS origin, or no browser page:
        its Origin (if any) is the request's own origin or a configured one."""
        origin = headers.get("origin")
        if origin is None:  # not sent by a browser's cross-site form, or an old browser
            return headers.get("sec-fetch-site") not in ("cross-site", "same-site")
        found = origin_of(origin)
        own = origin_of(f"{scope['scheme']}://{headers.get('host', '')}")
        return found is not None and (found == own or found in self.origins)
