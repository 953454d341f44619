"""Logging in and who may do what: the login page, `POST /api/login` (a session cookie and a
CSRF token), logout, `GET /api/me`, and the admin's users, tokens and audit log.

A login is a server-side row (`sessions`): the cookie holds a random secret, the database its
SHA-256, the user and a CSRF token; it expires after `auth.SESSION_TTL` and logout deletes it.
The cookie is HttpOnly, SameSite=Lax, and Secure when the request came over https (as the
proxy headers say, when the service trusts them). A state-changing request made with the cookie
must send the session's CSRF token in `X-CSRF-Token` (deps.require); a Bearer token needs none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive import accounts, auth
from landrec.archive.db import auth_writes, queries
from landrec.archive.db.models import Action, Role
from landrec.archive.db.writes import utcnow
from landrec.archive.settings import ArchiveError
from landrec.archive.web.deps import SESSION_COOKIE, AdminDep, RowId, SessionDep, ViewerDep
from landrec.archive.web.errors import responses
from landrec.archive.web.routes_gui import page
from landrec.archive.web.schemas import AuditItem, AuditPage, LoginIn, Me, TokenOut, UserOut

router = APIRouter()
MAX_LOGIN_BODY = 4096
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    password: str = Field(min_length=1, max_length=1024)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role


class NewToken(TokenOut):
    token: str  # the secret: shown this once, never stored


def me_of(who: auth.Principal) -> Me:
    return Me(name=who.name, role=who.role.value, via=who.via.value, csrf=who.csrf)


@contextmanager
def account_errors() -> Iterator[None]:
    """An account's `ArchiveError` as HTTP: 409 name taken, 404 no such token, else 422."""
    try:
        yield
    except accounts.NameTaken as exc:
        raise HTTPException(409, str(exc)) from None
    except accounts.NoSuchToken as exc:
        raise HTTPException(404, str(exc)) from None
    except ArchiveError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/login", include_in_schema=False)
def login_page() -> HTMLResponse:
    """The login form (public, like its static assets)."""
    return page("login.html")


async def login_form(request: Request) -> LoginIn:
    """The name and password of a login, sent as JSON or as a form; 422 when malformed."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind in FORMS:
            form = await request.form(max_files=0, max_fields=4, max_part_size=MAX_LOGIN_BODY)
            fields: Any = {key: value for key, value in form.items() if isinstance(value, str)}
        else:
            fields = json.loads((await request.body())[:MAX_LOGIN_BODY] or b"null")
        return LoginIn.model_validate(fields)
    except (ValueError, ValidationError):
        raise HTTPException(422, "send a name and a password (JSON or a form)") from None


def check_login(sessions: sessionmaker[Session], form: LoginIn) -> tuple[auth.Principal, str]:
    """The user's principal and a new session's secret; 401 (audited) when the name or the
    password is wrong."""
    with sessions() as session:
        user = queries.user_by_name(session, form.name)
        if not auth.verify_password(user.password_hash if user else None, form.password):
            auth_writes.audit(session, form.name[:64], Action.LOGIN_FAILED, form.name[:64])
            raise HTTPException(401, "wrong name or password")
        assert user is not None  # verify_password is False without a user
        secret, csrf = auth.new_secret(), auth.new_secret()
        expires = utcnow() + auth.SESSION_TTL
        auth_writes.open_session(session, user, auth.digest(secret), csrf, expires)
        return auth.Principal(user.name, Role(user.role), auth.Via.SESSION, csrf), secret


@router.post("/api/login", responses=responses(422), openapi_extra={"requestBody": {"content": {
    "application/json": {"schema": LoginIn.model_json_schema()},
    "application/x-www-form-urlencoded": {"schema": LoginIn.model_json_schema()},
}}})  # fmt: skip
async def login(request: Request, response: Response) -> Me:
    """Log in with a name and password (JSON or a form): sets the session cookie; the answer's
    `csrf` goes in the `X-CSRF-Token` header of every state-changing request."""
    form = await login_form(request)
    who, secret = await to_thread.run_sync(check_login, request.app.state.sessions, form)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(auth.SESSION_TTL.total_seconds()),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return me_of(who)


@router.post("/api/logout", status_code=204)
def logout(who: ViewerDep, session: SessionDep, request: Request, response: Response) -> None:
    """End this login session (the cookie is cleared; a token stays valid until revoked)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if who.via is auth.Via.SESSION and cookie:
        auth_writes.close_session(session, auth.digest(cookie), who.name)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


@router.get("/api/me")
def me(who: ViewerDep) -> Me:
    """Who this request acts as, its role, and (logged in) the session's CSRF token."""
    return me_of(who)


@router.get("/api/audit")
def audit(
    _: AdminDep,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    """The audit log, newest first: uploads, corrections, retags, users, tokens, logins."""
    total, rows = queries.audit_page(session, page, page_size)
    items = [AuditItem.model_validate(row) for row in rows]
    return AuditPage(total=total, page=page, page_size=page_size, items=items)


@router.get("/api/users")
def users(_: AdminDep, session: SessionDep) -> list[UserOut]:
    return [UserOut.model_validate(row) for row in queries.users(session)]


@router.post("/api/users", status_code=201, responses=responses(409, 422))
def add_user(who: AdminDep, body: UserIn, session: SessionDep) -> UserOut:
    """Add a user (the password: at least 8 characters); 409 when the name is taken."""
    with account_errors():
        accounts.create_user(session, body.name, body.role, body.password, who.name)
    user = queries.user_by_name(session, body.name)
    return UserOut.model_validate(user)


@router.get("/api/tokens")
def tokens(_: AdminDep, session: SessionDep) -> list[TokenOut]:
    """Every API token (revoked ones too), never their secrets."""
    return [TokenOut.model_validate(row) for row in queries.tokens(session)]


@router.post("/api/tokens", status_code=201, responses=responses(409, 422))
def add_token(who: AdminDep, body: TokenIn, session: SessionDep) -> NewToken:
    """A new API token: its secret is in this answer only."""
    with account_errors():
        secret = accounts.create_token(session, body.name, body.role, who.name)
    row = queries.token_by_name(session, body.name)  # made just above
    return NewToken.model_validate({**TokenOut.model_validate(row).model_dump(), "token": secret})


@router.delete("/api/tokens/{token_id}", responses=responses(404, 422))
def revoke_token(who: AdminDep, token_id: RowId, session: SessionDep) -> TokenOut:
    """Revoke a token: it answers 401 from now on."""
    with account_errors():
        return TokenOut.model_validate(accounts.revoke_token(session, who.name, None, token_id))
