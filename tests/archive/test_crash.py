"""Crash safety: the service killed (SIGKILL) while it indexes 600 files, then restarted,
records every file exactly once with a final status."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import write_image

N_FILES = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(storage: Path, checkpoint: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "landrec.cli.main", "archive", "serve"]
    command += ["--storage", str(storage), "--model", str(checkpoint), "--port", str(port)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def counts(database: Path) -> dict[str, int]:
    if not database.is_file():
        return {}
    with sqlite3.connect(database, timeout=30) as db:
        try:
            rows = db.execute("SELECT status, count(*) FROM files GROUP BY status").fetchall()
        except sqlite3.OperationalError:  # the schema is being created
            return {}
    return dict(rows)


def wait_for(condition, timeout: float, service: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if service.poll() is not None:
            raise AssertionError(f"the service exited: {service.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    raise AssertionError("timed out")


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_sigkill_while_indexing_then_restart_records_each_file_once(
    tmp_path: Path, red_blue_checkpoint: Path
) -> None:
    storage = tmp_path / "storage"
    for i in range(N_FILES):
        write_image(storage / f"d{i % 7}" / f"{i}.jpg", (200, 30, 30), seed=i, size=40)
    old = time.time() - 60  # settled files: indexed at once
    for path in storage.rglob("*.jpg"):
        os.utime(path, (old, old))
    database = tmp_path / ".landrec-archive-storage" / "archive.sqlite3"

    service = start_service(storage, checkpoint=red_blue_checkpoint, port=free_port())
    try:
        wait_for(lambda: counts(database).get("indexed", 0) > 0, 120, service)
        service.send_signal(signal.SIGKILL)  # mid-run: some files indexed, the rest pending
        service.wait(10)
    finally:
        if service.poll() is None:
            service.kill()
    at_kill = counts(database)
    assert 0 < at_kill.get("indexed", 0) < N_FILES, at_kill

    port = free_port()
    service = start_service(storage, red_blue_checkpoint, port)
    try:

        def done() -> bool:
            try:
                h = health(port)
            except OSError:
                return False
            return h["files"] == N_FILES and h["pending"] == 0

        wait_for(done, 180, service)
    finally:
        service.send_signal(signal.SIGINT)
        service.wait(30)
    with sqlite3.connect(database) as db:
        paths = [p for (p,) in db.execute("SELECT path FROM files")]
        statuses = dict(db.execute("SELECT status, count(*) FROM files GROUP BY status"))
        tags = db.execute("SELECT count(*), count(DISTINCT file_id) FROM tags").fetchone()
    assert len(paths) == len(set(paths)) == N_FILES
    assert statuses == {"indexed": N_FILES}
    assert tags == (N_FILES, N_FILES)  # one tag per file: nothing recorded twice
