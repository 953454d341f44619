"""The routes' dependencies: a database session per request, the settings, the model's classes,
and who the request acts as (`ViewerDep`, `EditorDep`, `AdminDep`: the role it needs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from landrec.archive import auth
from landrec.archive.auth import Principal, Via
from landrec.archive.db import auth_writes, queries, reads
from landrec.archive.db.models import Role
from landrec.archive.db.writes import utcnow
from landrec.archive.settings import ArchiveSettings
from landrec.archive.web.schemas import INT64


def get_session(request: Request) -> Iterator[Session]:
    """A session from the app's sessionmaker, closed once the response is made."""
    with request.app.state.sessions() as session:
        yield session


def get_settings(request: Request) -> ArchiveSettings:
    settings: ArchiveSettings = request.app.state.settings
    return settings


def get_classes(request: Request) -> list[str] | None:
    """The model's classes (the allowed corrections); None: any well-formed name."""
    classes: list[str] | None = request.app.state.classes
    return classes


def get_views(request: Request) -> list[str] | None:
    """The model's views (what the list's `view` filter accepts); None: no model with views
    is loaded, any well-formed name is accepted."""
    views: list[str] | None = request.app.state.views
    return views


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[ArchiveSettings, Depends(get_settings)]
ClassesDep = Annotated[list[str] | None, Depends(get_classes)]
ViewsDep = Annotated[list[str] | None, Depends(get_views)]


# Who a request acts as (see `landrec.archive.auth`). The schemes document the two credentials
# in OpenAPI; auto_error=False: a missing one is decided below (401), not by the scheme.
SESSION_COOKIE = "landrec_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token: `landrec archive token create --db URL --name NAME --role ROLE`",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description=f"The GUI's login (POST /api/login); state-changing requests send {CSRF_HEADER}",
)


def secured(request: Request, session: Session) -> bool:
    """True once the archive has a credential (remembered: an archive never reopens)."""
    if not getattr(request.app.state, "secured", False):
        request.app.state.secured = reads.has_credentials(session)
    return bool(request.app.state.secured)


def get_principal(
    request: Request,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal | None:
    """Who the request acts as: anyone in an open archive, else the token's or the login
    session's holder; None without a valid credential."""
    if not secured(request, session):
        return auth.OPEN
    now = utcnow()
    if bearer is not None:
        token = queries.live_token(session, auth.digest(bearer.credentials))
        if token is None:
            return None
        auth_writes.touch_token(session, token, now)
        return Principal(token.name, Role(token.role), Via.TOKEN)
    if cookie:
        found = queries.live_session(session, auth.digest(cookie), now)
        if found is not None:
            login, user = found
            return Principal(user.name, Role(user.role), Via.SESSION, login.csrf)
    return None


MaybePrincipalDep = Annotated[Principal | None, Depends(get_principal)]


def require(needed: Role) -> Callable[[Request, Principal | None], Principal]:
    """A dependency: the principal if its role allows `needed` (401 without a credential,
    403 beyond the role, 403 for a cookie's state-changing request without the CSRF token)."""

    def check(request: Request, who: MaybePrincipalDep) -> Principal:
        if who is None:
            raise HTTPException(401, "log in, or send an API token", {"WWW-Authenticate": "Bearer"})
        if not who.role.allows(needed):
            raise HTTPException(403, f"{who.name} is {who.role.value}: this needs {needed.value}")
        if who.via is Via.SESSION and request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not (who.csrf and auth.same(sent, who.csrf)):
                raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
        return who

    return check


ViewerDep = Annotated[Principal, Depends(require(Role.VIEWER))]
EditorDep = Annotated[Principal, Depends(require(Role.EDITOR))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]
# A row's id in a URL: within the database's 64-bit integer, else 422 (never an overflow, 500).
RowId = Annotated[int, Path(**INT64)]
