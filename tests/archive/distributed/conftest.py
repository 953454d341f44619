"""Fixtures of the distributed mode's tests: a real Redis server (Debian's `redis-server`,
append-only persistence) for the session, emptied before each test; a PostgreSQL database per
test; workers started as subprocesses (`workers.Worker`), stopped after each test."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..servers import Redis, running
from .workers import Worker


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    yield from running(Redis())


def flush(server: Redis) -> None:
    """Every key of the server dropped: no message of an earlier test left in a queue."""
    with socket.create_connection(("127.0.0.1", server.port), 5) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        assert sock.recv(16).startswith(b"+OK")


@pytest.fixture
def broker_url(redis_server: Redis) -> str:
    """The session's Redis, empty, as a Celery broker URL."""
    if not redis_server.ping():  # a test restarted it and failed before it came back
        redis_server.start()
    flush(redis_server)
    return redis_server.url


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Starts `landrec archive worker` subprocesses (`start_worker(db, broker, *options,
    name=...)`), ready when returned; every one stopped after the test."""
    started: list[Worker] = []

    def start(
        db_url: str, broker: str, *options: str, name: str = "w1", wait: bool = True
    ) -> Worker:
        worker = Worker(db_url, broker, tmp_path / f"worker-{name}.log", *options, name=name)
        started.append(worker)
        return worker.wait_ready() if wait else worker

    yield start
    for worker in started:
        worker.stop()
