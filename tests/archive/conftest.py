"""Fixtures of the archive's tests: a real PostgreSQL server (Debian's binaries, run as the
`postgres` user in a temporary folder) and `db_url`, one test database per backend."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db.session import open_database

PG_BINARIES = "/usr/lib/postgresql/*/bin"  # Debian's layout; scripts/setup.sh installs them
PG_USER = "postgres"  # initdb refuses to run as root
PG_START_TIMEOUT_S = 60


def pg_bindir() -> Path:
    """The newest installed PostgreSQL's bin folder; fails the test when there is none."""
    found = [Path(d) for d in glob.glob(PG_BINARIES) if (Path(d) / "initdb").exists()]
    if not found:
        pytest.fail(f"PostgreSQL binaries not found ({PG_BINARIES}): run scripts/setup.sh")
    return max(found, key=lambda d: int(d.parent.name.split(".")[0]))


def as_pg_user(*command: str | Path) -> list[str]:
    """`command` run as the `postgres` system user (a plain exec: signals reach it)."""
    if os.geteuid() != 0:
        return [str(part) for part in command]
    user = PG_USER
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"] + [
        str(part) for part in command
    ]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(server: subprocess.Popen[bytes], dsn: str, log: Path) -> None:
    """Return once the server accepts connections; fail with its log if it never does."""
    deadline = time.monotonic() + PG_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"PostgreSQL exited with {server.returncode}:\n{log.read_text()}")
        with contextlib.suppress(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=2).close()
            return
        time.sleep(0.05)
    pytest.fail(f"PostgreSQL did not start in {PG_START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for this test session: the URL of its `postgres` database."""
    bindir = pg_bindir()
    # Not pytest's tmp_path: its parents are private to root, the server's user must enter.
    root = Path(tempfile.mkdtemp(prefix="landrec-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        entry = pwd.getpwnam(PG_USER)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    init = as_pg_user(bindir / "initdb", "-D", data, "-U", PG_USER, "-A", "trust", "-E", "UTF8")
    done = subprocess.run(
        [*init, "--no-sync", "--locale=C"], cwd=root, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    port = free_port()
    # Durability off: a throwaway server, faster on a shared machine.
    settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    options = [arg for s in settings for arg in ("-c", s)]
    command = as_pg_user(bindir / "postgres", "-D", data, "-p", str(port), "-k", root)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command, "-c", "listen_addresses=127.0.0.1", *options],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(server, f"host=127.0.0.1 port={port} user={PG_USER} dbname=postgres", log)
        yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/postgres"
    finally:
        server.send_signal(signal.SIGINT)  # "fast" shutdown: disconnects clients
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_postgres(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped afterwards."""
    name = f"test_{abs(hash(request.node.nodeid)):x}_{time.monotonic_ns()}"
    admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database's URL: a SQLite file, then a PostgreSQL database (parametrized)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return str(request.getfixturevalue("fresh_postgres"))


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated, empty database of each backend; the engine closed after."""
    maker = open_database(db_url)
    yield maker
    engine = maker.kw["bind"]
    engine.dispose()
