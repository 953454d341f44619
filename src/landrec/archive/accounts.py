"""Users and API tokens: made and revoked by `landrec archive user|token` and by the admin API,
each audited; and the binding rule of `serve` (no credential yet: loopback only)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from landrec.archive import auth
from landrec.archive.db import auth_writes, reads
from landrec.archive.db.models import Role, Token
from landrec.archive.db.session import cannot_open, make_engine, open_database
from landrec.archive.settings import (
    ArchiveError,
    default_db_url,
    default_state_dir,
    parse_db_url,
    sqlite_file,
)


class NameTaken(ArchiveError):
    """A user or token of this name exists already."""


class NoSuchToken(ArchiveError):
    """No token has this name or id."""


def create_user(session: Session, name: str, role: Role, password: str, actor: str) -> None:
    """A new user with an argon2 hash of `password`; audited as made by `actor`."""
    auth.check_name(name)
    password_hash = auth.hash_password(auth.check_password(password))
    try:
        auth_writes.add_user(session, name, password_hash, role, actor)
    except IntegrityError:
        session.rollback()
        raise NameTaken(f"a user named {name!r} exists already") from None


def create_token(session: Session, name: str, role: Role, actor: str) -> str:
    """A new API token; its secret is returned once and never stored (only its SHA-256)."""
    auth.check_name(name)
    secret = auth.new_secret()
    try:
        auth_writes.add_token(session, name, auth.digest(secret), role, actor)
    except IntegrityError:
        session.rollback()
        raise NameTaken(f"a token named {name!r} exists already (revoked ones too)") from None
    return secret


def revoke_token(
    session: Session, actor: str, name: str | None = None, token_id: int | None = None
) -> Token:
    """Revoke a token by name or id: it answers 401 from now on (revoking twice is harmless)."""
    token = auth_writes.revoke_token(session, actor, name, token_id)
    if token is None:
        raise NoSuchToken(f"no token {name!r}" if name is not None else f"no token #{token_id}")
    return token


def token_create(db_url: str, name: str, role: Role) -> str:
    """`landrec archive token create`: the new token's secret."""
    with open_database(db_url)() as session:
        return create_token(session, name, role, auth.CLI)


def token_revoke(db_url: str, name: str | None = None, token_id: int | None = None) -> None:
    """`landrec archive token revoke`."""
    with open_database(db_url)() as session:
        revoke_token(session, auth.CLI, name, token_id)


def user_add(db_url: str, name: str, role: Role, password: str) -> None:
    """`landrec archive user add`."""
    with open_database(db_url)() as session:
        create_user(session, name, role, password, auth.CLI)


def has_credentials(db_url: str) -> bool:
    """True when the database has a user or a token; read without creating or migrating it."""
    url = parse_db_url(db_url)  # a bad URL or a missing driver: one line
    if url.get_backend_name() == "sqlite" and not ((file := sqlite_file(url)) and file.is_file()):
        return False
    engine = make_engine(db_url)
    try:
        if not inspect(engine).has_table("users"):
            return False
        with Session(engine) as session:
            return reads.has_credentials(session)
    except SQLAlchemyError as exc:
        raise cannot_open(url, exc) from None  # one line, the password hidden
    finally:
        engine.dispose()


def check_binding(host: str, db_url: str | None, storage: Path) -> bool:
    """The binding rule of `serve` (checked before anything is made or indexed): True when the
    archive is secured; False when it has no credential and `host` is loopback (open to this
    machine only); an error otherwise. `db_url` None: the default database of `storage`."""
    db_url = db_url or default_db_url(default_state_dir(storage))
    if has_credentials(db_url):
        return True
    if auth.is_loopback(host):
        return False
    raise ArchiveError(
        f"refusing to serve on {host}: the archive has no user and no token, so anyone who "
        f"reaches the port could read, upload and correct everything; create one first: "
        f"`landrec archive token create --db {db_url} --name NAME --role admin` or "
        f"`landrec archive user add NAME --db {db_url} --role admin`, or serve on 127.0.0.1"
    )
