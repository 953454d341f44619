"""Who may do what: passwords (argon2), API tokens and login sessions (a SHA-256 of a random
secret is kept, never the secret), and the principal a request acts as.

An archive with no user and no token is open (a fresh archive on loopback: the service then
serves every request as `anonymous` with every right, and `serve` binds loopback only). Once a
user or a token exists (revoked ones count: revoking never reopens an archive), every request
but the public ones needs a credential and a role that allows it.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from landrec.archive.db.models import Role
from landrec.archive.settings import ArchiveError

TOKEN_PREFIX = "lra_"  # an archive token: recognisable in a leaked log or a secret scanner
SECRET_BYTES = 32  # 256 bits: a SHA-256 of it is as good as a slow hash
SESSION_TTL = timedelta(hours=12)  # a login lasts this long, then the GUI asks again
MIN_PASSWORD = 8
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
ANONYMOUS = "anonymous"  # who acts in an open archive
CLI = "cli"  # who acts in the audit log when a command (retag) writes


class Via(str, enum.Enum):
    """How a request proved who it is."""

    OPEN = "open"  # no credential exists: the archive is open
    TOKEN = "token"  # Authorization: Bearer
    SESSION = "session"  # the login cookie (state-changing requests also need the CSRF token)


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a name for the audit log, a role, how it was proved."""

    name: str
    role: Role
    via: Via
    csrf: str | None = None  # the login session's CSRF token (`via` SESSION only)


OPEN = Principal(ANONYMOUS, Role.ADMIN, Via.OPEN)


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, the library's (RFC 9106) parameters


def hash_password(password: str) -> str:
    """An argon2id hash (`$argon2id$...`) of a password, salted."""
    return _hasher().hash(password)


@functools.cache
def _decoy() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches the stored hash; an unknown user (None) costs the same time."""
    try:
        return _hasher().verify(stored or _decoy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_secret() -> str:
    """A new token or session secret: 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """What the database keeps of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Equal, compared in constant time."""
    return secrets.compare_digest(a.encode(), b.encode())


def check_name(name: str) -> str:
    """A user's or token's name: letters, digits and `_.@-`, at most 64."""
    if not NAME.match(name):
        raise ArchiveError(f"invalid name {name!r}: use 1-64 letters, digits or _.@-")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ArchiveError(f"the password is too short: at least {MIN_PASSWORD} characters")
    return password


def is_loopback(host: str) -> bool:
    """True for `localhost` and the loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
