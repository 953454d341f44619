"""Users, roles, tokens, login, CSRF and the audit log: once a credential exists every route but
the public ones needs one, and a role that allows it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive import accounts
from landrec.archive.db.models import Audit, LoginSession, Role, Token, User
from landrec.archive.db.writes import utcnow
from landrec.archive.settings import ArchiveSettings
from landrec.archive.web import create_app

from .conftest import AddFile

# The routes anyone may call in a secured archive: the health check, the login page, its
# assets and the login itself. (The OpenAPI schema and its pages are for viewers.)
PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/login"),
    ("GET", "/static/{version}/{name:path}"),
    ("POST", "/api/login"),
}
PASSWORD = "correct horse battery"
PATH_VALUES = {"file_id": "1", "token_id": "1", "version": "v", "name": "css/app.css"}
MakeToken = Callable[[Role], str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_token(sessions: sessionmaker[Session]) -> MakeToken:
    """`make_token(role)`: a new API token of that role (named after it)."""

    def make(role: Role, name: str | None = None) -> str:
        with sessions() as session:
            return accounts.create_token(session, name or f"{role.value}-bot", role, "test")

    return make


@pytest.fixture
def make_user(sessions: sessionmaker[Session]) -> Callable[..., None]:
    def make(name: str, role: Role = Role.EDITOR, password: str = PASSWORD) -> None:
        with sessions() as session:
            accounts.create_user(session, name, role, password, "test")

    return make


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in (JSON); the session's CSRF token."""
    response = client.post("/api/login", json={"name": name, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf"])


def audit_rows(sessions: sessionmaker[Session]) -> list[tuple[str, str, str | None]]:
    with sessions() as session:
        rows = session.scalars(select(Audit).order_by(Audit.id))
        return [(row.actor, row.action, row.target) for row in rows]


def routes(app: Any) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route of the app, those of included routers too."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # a FastAPI that includes routers eagerly: app.routes is flat
        found = list(app.routes)
    else:  # FastAPI 0.16x includes routers lazily: app.routes holds the routers
        found = list(iter_route_contexts(app.routes))
    return [(r.path, set(r.methods)) for r in found if getattr(r, "methods", None)]


def test_an_open_archive_serves_anyone_as_anonymous_admin(client: TestClient) -> None:
    assert client.get("/api/me").json() == {
        "name": "anonymous", "role": "admin", "via": "open", "csrf": None,
    }  # fmt: skip
    assert client.get("/api/files").status_code == 200
    assert client.get("/").status_code == 200


def test_every_route_needs_a_credential_once_one_exists(
    client: TestClient, make_token: MakeToken
) -> None:
    """Walks the app's routes: a route added without a role dependency fails here."""
    make_token(Role.ADMIN)
    seen = set()
    for path, methods in routes(client.app):
        for method in sorted(methods - {"HEAD"}):
            seen.add((method, path))
            url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PATH_VALUES[m.group(1)], path)
            response = client.request(method, url, follow_redirects=False)
            if (method, path) in PUBLIC:
                assert response.status_code not in (401, 403), (method, path)
            elif path == "/":  # the page: the login page instead
                assert response.status_code == 303, response.status_code
                assert response.headers["location"] == "/login"
            else:
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.headers["www-authenticate"] == "Bearer"
    assert seen >= PUBLIC  # the list names real routes
    assert len(seen - PUBLIC) >= 15


ROLE_OF = [  # (method, path, the least role allowed)
    ("GET", "/api/files", Role.VIEWER),
    ("GET", "/api/files/1", Role.VIEWER),
    ("GET", "/api/files/1/thumbnail", Role.VIEWER),
    ("GET", "/api/files/1/content", Role.VIEWER),
    ("GET", "/api/files/1/preview", Role.VIEWER),
    ("GET", "/api/stats", Role.VIEWER),
    ("GET", "/api/classes", Role.VIEWER),
    ("GET", "/api/failures", Role.VIEWER),
    ("GET", "/api/me", Role.VIEWER),
    ("PUT", "/api/files/1/context", Role.EDITOR),
    ("GET", "/api/files/1/track", Role.VIEWER),
    ("GET", "/api/tracks", Role.VIEWER),
    ("PUT", "/api/files/1/campaign", Role.EDITOR),
    ("POST", "/api/upload", Role.EDITOR),
    ("GET", "/api/audit", Role.ADMIN),
    ("GET", "/api/users", Role.ADMIN),
    ("POST", "/api/users", Role.ADMIN),
    ("GET", "/api/tokens", Role.ADMIN),
    ("POST", "/api/tokens", Role.ADMIN),
    ("DELETE", "/api/tokens/99", Role.ADMIN),
]


@pytest.mark.parametrize(("method", "path", "needed"), ROLE_OF)
def test_401_without_a_credential_403_beyond_the_role(
    client: TestClient, make_token: MakeToken, method: str, path: str, needed: Role
) -> None:
    tokens = {role: make_token(role) for role in Role}
    assert client.request(method, path).status_code == 401
    assert client.request(method, path, headers=bearer("lra_not-a-token")).status_code == 401
    for role, token in tokens.items():
        status = client.request(method, path, headers=bearer(token)).status_code
        if role.allows(needed):
            assert status not in (401, 403), (role, status)  # 404, 422...: past the check
        else:
            assert status == 403, (role, status)


def test_a_token_works_as_bearer_notes_its_use_and_is_refused_once_revoked(
    client: TestClient, make_token: MakeToken, sessions: sessionmaker[Session]
) -> None:
    token = make_token(Role.EDITOR, "backup-script")
    with sessions() as session:
        row = session.scalars(select(Token)).one()
        assert row.last_used is None and row.token_hash != token and len(row.token_hash) == 64
    me = client.get("/api/me", headers=bearer(token)).json()
    assert me == {"name": "backup-script", "role": "editor", "via": "token", "csrf": None}
    with sessions() as session:
        assert session.scalars(select(Token.last_used)).one() is not None
    with sessions() as session:
        accounts.revoke_token(session, "test", "backup-script")
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/files").status_code == 401  # revoking reopens nothing


def test_passwords_are_argon2_and_a_wrong_one_fails(
    client: TestClient, make_user: Callable[..., None], sessions: sessionmaker[Session]
) -> None:
    make_user("ada", Role.VIEWER)
    with sessions() as session:
        stored = session.scalars(select(User.password_hash)).one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    wrong = client.post("/api/login", json={"name": "ada", "password": "wrong password"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    nobody = client.post("/api/login", json={"name": "bob", "password": PASSWORD})
    assert nobody.status_code == 401
    assert client.get("/api/files").status_code == 401
    login(client, "ada")
    assert client.get("/api/files").status_code == 200
    assert client.get("/api/me").json()["role"] == "viewer"
    with pytest.raises(accounts.ArchiveError, match="too short"):
        make_user("eve", password="short")


def test_the_login_cookie_is_httponly_samesite_and_secure_over_https(
    settings: ArchiveSettings,
    sessions: sessionmaker[Session],
    make_user: Callable[..., None],
) -> None:
    make_user("ada")
    app = create_app(settings, sessions)
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        with TestClient(app, base_url=base) as client:
            response = client.post("/api/login", data={"name": "ada", "password": PASSWORD})
            assert response.status_code == 200, response.text  # a form works too
            cookie = response.headers["set-cookie"]
            assert cookie.startswith("landrec_session=")
            assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
            assert ("Secure" in cookie) is secure
            assert "Max-Age=43200" in cookie  # sessions expire (12 hours)


def test_a_session_expires_and_logout_ends_it(
    client: TestClient, make_user: Callable[..., None], sessions: sessionmaker[Session]
) -> None:
    make_user("ada")
    csrf = login(client, "ada")
    with sessions() as session:
        session.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert client.get("/api/files").status_code == 401
    csrf = login(client, "ada")
    assert client.post("/api/logout").status_code == 403  # no CSRF token
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.clear()
    with sessions() as session:
        assert session.scalars(select(LoginSession)).all() == [
            row for row in session.scalars(select(LoginSession)) if row.expires_at < utcnow()
        ]  # only the expired one is left


def test_csrf_a_cookie_put_needs_the_token_a_bearer_put_does_not(
    client: TestClient,
    add_file: AddFile,
    make_user: Callable[..., None],
    make_token: MakeToken,
) -> None:
    row = add_file("a.jpg", context="forest", model_context="forest")
    make_user("ada", Role.EDITOR)
    csrf = login(client, "ada")
    url, body = f"/api/files/{row.id}/context", {"context": "glacier"}
    refused = client.put(url, json=body)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    assert client.put(url, json=body, headers={"X-CSRF-Token": "lra_wrong"}).status_code == 403
    ok = client.put(url, json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json()["context"] == "glacier"
    assert client.get("/api/me").json()["csrf"] == csrf  # what the GUI reads
    token = make_token(Role.EDITOR)
    client.cookies.clear()
    assert client.put(url, json={"context": "coast"}, headers=bearer(token)).status_code == 200


def test_a_cross_site_form_post_with_the_cookie_cannot_upload(
    client: TestClient,
    make_user: Callable[..., None],
    settings: ArchiveSettings,
    jpeg: Callable[..., bytes],
) -> None:
    make_user("ada", Role.ADMIN)
    login(client, "ada")
    files = {"file": ("evil.jpg", jpeg(), "image/jpeg")}
    for headers in ({"Origin": "https://evil.example"}, {}):  # what a form on another site sends
        response = client.post("/api/upload", files=files, headers=headers)
        assert response.status_code == 403, response.text
    assert list(settings.storage.iterdir()) == []


def test_the_audit_log_records_who_did_what_newest_first(
    client: TestClient,
    add_file: AddFile,
    make_user: Callable[..., None],
    make_token: MakeToken,
    sessions: sessionmaker[Session],
    jpeg: Callable[..., bytes],
) -> None:
    row = add_file("a.jpg", context="forest", model_context="forest")
    admin = make_token(Role.ADMIN, "ops")
    make_user("ada", Role.EDITOR)
    client.post("/api/login", json={"name": "ada", "password": "nope nope"})
    csrf = login(client, "ada")
    put = client.put(
        f"/api/files/{row.id}/context", json={"context": "glacier"}, headers={"X-CSRF-Token": csrf}
    )
    assert put.status_code == 200
    upload = client.post(
        "/api/upload", files={"file": ("b.jpg", jpeg(), "image/jpeg")},
        headers={"X-CSRF-Token": csrf},
    )  # fmt: skip
    assert upload.status_code in (201, 202), upload.text
    made = client.post("/api/tokens", json={"name": "cam", "role": "viewer"}, headers=bearer(admin))
    assert made.status_code == 201 and made.json()["token"].startswith("lra_")
    revoked = client.delete(f"/api/tokens/{made.json()['id']}", headers=bearer(admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert audit_rows(sessions) == [
        ("test", "token-create", "ops"),
        ("test", "user-add", "ada"),
        ("ada", "login-failed", "ada"),
        ("ada", "login", "ada"),
        ("ada", "correct", "a.jpg"),
        ("ada", "upload", "b.jpg"),
        ("ops", "token-create", "cam"),
        ("ops", "token-revoke", "cam"),
    ]
    page = client.get("/api/audit?page_size=3", headers=bearer(admin)).json()
    assert page["total"] == 8
    assert [i["action"] for i in page["items"]] == ["token-revoke", "token-create", "upload"]
    assert page["items"][2]["actor"] == "ada" and page["items"][2]["at"]
    assert client.get("/api/audit", headers={"X-CSRF-Token": csrf}).status_code == 403  # editor


def test_admins_add_users_and_names_are_unique(client: TestClient, make_token: MakeToken) -> None:
    admin = bearer(make_token(Role.ADMIN))
    body = {"name": "ada", "role": "viewer", "password": PASSWORD}
    assert client.post("/api/users", json=body, headers=admin).status_code == 201
    assert client.post("/api/users", json=body, headers=admin).status_code == 409
    short = {**body, "name": "bob", "password": "short"}
    assert client.post("/api/users", json=short, headers=admin).status_code == 422
    assert [u["name"] for u in client.get("/api/users", headers=admin).json()] == ["ada"]
    tokens = client.get("/api/tokens", headers=admin).json()
    assert [t["name"] for t in tokens] == ["admin-bot"] and "token_hash" not in tokens[0]
