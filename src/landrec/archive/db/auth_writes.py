"""Every write of users, tokens, login sessions and the audit log (the files' writes are in
`writes`). Each function is one transaction; a user or token made or revoked is audited in the
same transaction. The audit log is append-only: nothing here updates or deletes its rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from landrec.archive.db.models import Action, Audit, LoginSession, Role, Token, User
from landrec.archive.db.writes import utcnow

LAST_USED_STEP = timedelta(seconds=60)  # a token's last use is written at most once a minute


def _audit(actor: str, action: Action, target: str | None, detail: str | None) -> Audit:
    return Audit(at=utcnow(), actor=actor, action=action.value, target=target, detail=detail)


def audit(
    session: Session,
    actor: str,
    action: Action,
    target: str | None = None,
    detail: str | None = None,
) -> None:
    """Append one row to the audit log."""
    session.add(_audit(actor, action, target, detail))
    session.commit()


def add_user(session: Session, name: str, password_hash: str, role: Role, actor: str) -> User:
    """A new user (the unique name refuses a second one: IntegrityError)."""
    user = User(name=name, password_hash=password_hash, role=role.value, created_at=utcnow())
    session.add(user)
    session.add(_audit(actor, Action.USER_ADD, name, f"role {role.value}"))
    session.commit()
    return user


def add_token(session: Session, name: str, token_hash: str, role: Role, actor: str) -> Token:
    """A new API token, kept as the SHA-256 of its secret (unique name: IntegrityError)."""
    token = Token(name=name, token_hash=token_hash, role=role.value, created_at=utcnow())
    session.add(token)
    session.add(_audit(actor, Action.TOKEN_CREATE, name, f"role {role.value}"))
    session.commit()
    return token


def revoke_token(
    session: Session, actor: str, name: str | None = None, token_id: int | None = None
) -> Token | None:
    """Revoke the token of this name or id (kept, marked revoked); None when there is none."""
    query = select(Token).where(Token.name == name if name is not None else Token.id == token_id)
    token = session.scalars(query).one_or_none()
    if token is None:
        return None
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(_audit(actor, Action.TOKEN_REVOKE, token.name, None))
    session.commit()
    return token


def touch_token(session: Session, token: Token, now: datetime) -> None:
    """Note the token's use, at most once per LAST_USED_STEP (a write per request would
    serialize every script's reads behind SQLite's one writer)."""
    if token.last_used is not None and now - token.last_used < LAST_USED_STEP:
        return
    session.execute(update(Token).where(Token.id == token.id).values(last_used=now))
    session.commit()


def open_session(
    session: Session, user: User, token_hash: str, csrf: str, expires_at: datetime
) -> LoginSession:
    """A login session of `user` (expired sessions are deleted on the way); audited."""
    now = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    row = LoginSession(
        token_hash=token_hash, user_id=user.id, csrf=csrf, created_at=now, expires_at=expires_at
    )
    session.add(row)
    session.add(_audit(user.name, Action.LOGIN, user.name, None))
    session.commit()
    return row


def close_session(session: Session, token_hash: str, actor: str) -> None:
    """End a login session (logout); audited."""
    session.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash))
    session.add(_audit(actor, Action.LOGOUT, actor, None))
    session.commit()
