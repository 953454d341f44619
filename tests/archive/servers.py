"""Real PostgreSQL and Redis servers from Debian's packages, each in a temporary folder on a
free port, that can be stopped and started again on the same data (the reliability tests
restart them mid-run); shared by the tests' fixtures and the benchmarks. No pytest here: a
server that does not start raises `ServerError` with its log."""

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
from typing import TypeVar

import psycopg

PG_BINARIES = "/usr/lib/postgresql/*/bin"  # Debian's layout; scripts/setup.sh installs them
PG_USER = "postgres"  # initdb refuses to run as root
REDIS_SERVER = "/usr/bin/redis-server"
START_TIMEOUT_S = 60.0
# Durability off for a throwaway database: faster on a shared machine. The restart tests and
# the cost benchmark ask for a durable one.
FAST_PG = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


class ServerError(RuntimeError):
    """A server's binaries are missing, or it did not start (the message holds its log)."""


S = TypeVar("S", "Postgres", "Redis")


def running(server: S) -> Iterator[S]:
    """A session fixture's body: the server started (the test fails saying why it could not
    be), yielded, then closed."""
    import pytest

    try:
        server.start()
    except ServerError as exc:
        pytest.fail(str(exc))
    yield server
    server.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def end(process: subprocess.Popen[bytes], how: signal.Signals) -> None:
    """Send `how` and wait for the exit; SIGKILL after 30 s."""
    process.send_signal(how)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def pg_bindir() -> Path:
    """The newest installed PostgreSQL's bin folder."""
    found = [Path(d) for d in glob.glob(PG_BINARIES) if (Path(d) / "initdb").exists()]
    if not found:
        raise ServerError(f"PostgreSQL binaries not found ({PG_BINARIES}): run scripts/setup.sh")
    return max(found, key=lambda d: int(d.parent.name.split(".")[0]))


def as_pg_user(*command: str | Path) -> list[str]:
    """`command` run as the `postgres` system user (a plain exec: signals reach it)."""
    if os.geteuid() != 0:
        return [str(part) for part in command]
    user = PG_USER
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"] + [
        str(part) for part in command
    ]


class Postgres:
    """A PostgreSQL cluster in its own folder; `start()`, `stop()`, `start()` again keep the
    data and the port."""

    def __init__(self, settings: tuple[str, ...] = FAST_PG, extra: tuple[str, ...] = ()) -> None:
        self.bindir = pg_bindir()
        # Not pytest's tmp_path: its parents are private to root, the server's user must enter.
        self.root = Path(tempfile.mkdtemp(prefix="landrec-pg-"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.port = free_port()
        self.settings = (*settings, *extra)
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        init = as_pg_user(
            self.bindir / "initdb", "-D", self.data, "-U", PG_USER, "-A", "trust", "-E", "UTF8"
        )
        done = subprocess.run(
            [*init, "--no-sync", "--locale=C"], cwd=self.root, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise ServerError(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its `postgres` database."""
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres"

    def start(self) -> Postgres:
        options = [arg for s in self.settings for arg in ("-c", s)]
        command = as_pg_user(
            self.bindir / "postgres", "-D", self.data, "-p", str(self.port), "-k", self.root
        )
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "-c", "listen_addresses=127.0.0.1", *options],
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"PostgreSQL exited with {self.process.returncode}:\n{self.log.read_text()}"
                )
            with contextlib.suppress(psycopg.OperationalError):
                psycopg.connect(self.dsn, connect_timeout=2).close()
                return self
            time.sleep(0.05)
        raise ServerError(
            f"PostgreSQL did not start in {START_TIMEOUT_S} s:\n{self.log.read_text()}"
        )

    def stop(self, how: signal.Signals = signal.SIGINT) -> None:
        """SIGINT: a fast shutdown (clients disconnected); SIGKILL: a crash (recovered from
        the write-ahead log at the next start)."""
        if self.process is None:
            return
        end(self.process, how)
        self.process = None
        if how == signal.SIGKILL:  # its children (backends) outlive it: end them too
            subprocess.run(["pkill", "-KILL", "-f", f"postgres.*-p {self.port}"], check=False)
            time.sleep(0.2)
            with contextlib.suppress(FileNotFoundError):
                (self.data / "postmaster.pid").unlink()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A new, empty database on it: its SQLAlchemy URL."""
        admin = self.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def drop_database(self, name: str) -> None:
        admin = self.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Redis:
    """A Redis server in its own folder, persisting every write (append-only file, fsync
    each second) so that a restart keeps the queued messages; `start()`, `stop()`, `start()`
    again keep the data and the port."""

    def __init__(self, appendonly: bool = True) -> None:
        if not Path(REDIS_SERVER).exists():
            raise ServerError(f"{REDIS_SERVER} not found: run scripts/setup.sh (redis-server)")
        self.root = Path(tempfile.mkdtemp(prefix="landrec-redis-"))
        self.log = self.root / "server.log"
        self.port = free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        command = [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
            "--save", "", "--logfile", str(self.log),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=self.root)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"redis-server exited with {self.process.returncode}:\n{self._log()}"
                )
            if self.ping():
                return self
            time.sleep(0.05)
        raise ServerError(f"redis-server did not start in {START_TIMEOUT_S} s:\n{self._log()}")

    def ping(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), 1) as s,
        ):
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        return False

    def _log(self) -> str:
        return self.log.read_text() if self.log.exists() else "(no log)"

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        """SIGTERM: a clean shutdown; SIGKILL: a crash (the append-only file is replayed)."""
        if self.process is None:
            return
        end(self.process, how)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
