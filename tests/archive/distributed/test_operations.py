"""What an operator runs beside the workers: a worker is listed from its start (its pool
processes beat every `HEARTBEAT_S`, idle or not); `status` never migrates; `--db` and
`--broker` come from LANDREC_DB / LANDREC_BROKER (passwords kept off the command line); a TLS
broker URL that does not say how its certificate is checked is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine

from landrec.archive.db.migrate import upgrade


def landrec(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "landrec.cli.main", *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_an_idle_worker_is_listed_from_its_start(
    tmp_path: Path, fresh_postgres: str, broker_url: str, colour_model: Path, start_worker
) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    start_worker(
        fresh_postgres, broker_url, "--storage", str(storage), "--model", str(colour_model)
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the pool process's first beat follows "ready"
        done = landrec("archive", "status", "--json", env={"LANDREC_DB": fresh_postgres})
        assert done.returncode == 0, done.stderr
        workers = json.loads(done.stdout)["workers"]
        if workers:
            break
        time.sleep(0.2)
    (worker,) = workers
    assert worker["name"].startswith("w1@") and worker["doing"] is None
    assert worker["indexed"] == 0 and worker["seen_s_ago"] < 60


def test_db_and_broker_come_from_the_environment(fresh_postgres: str, broker_url: str) -> None:
    env = {"LANDREC_DB": fresh_postgres, "LANDREC_BROKER": broker_url}
    done = landrec("archive", "migrate", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"from": None, "to": "0007"}
    done = landrec("archive", "status", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["queues"] == {"landrec.index": 0, "landrec.previews": 0}


def test_a_broker_from_the_environment_without_a_database_is_refused(
    tmp_path: Path, broker_url: str
) -> None:
    done = landrec(
        "archive", "scan", "--storage", str(tmp_path), env={"LANDREC_BROKER": broker_url}
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "LANDREC_BROKER" in done.stderr and "--db" in done.stderr


def test_status_refuses_a_schema_behind_and_leaves_it(fresh_postgres: str) -> None:
    upgrade(fresh_postgres, "0005")
    done = landrec("archive", "status", "--db", fresh_postgres)
    assert done.returncode != 0
    assert "revision 0005" in done.stderr and "landrec archive migrate" in done.stderr
    assert "Traceback" not in done.stderr
    engine = create_engine(fresh_postgres)
    with engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
        assert version.scalar() == "0005"  # not migrated
    engine.dispose()


def test_a_tls_broker_must_say_how_its_certificate_is_checked(
    tmp_path: Path, fresh_postgres: str
) -> None:
    done = landrec(
        "archive", "worker", "--db", fresh_postgres, "--broker",
        "rediss://:secret@127.0.0.1:6380/0", "--storage", str(tmp_path),
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "ssl_cert_reqs" in done.stderr and "secret" not in done.stderr


def test_a_backlog_waiting_in_the_queue_is_not_sent_again(
    tmp_path: Path, fresh_postgres: str, broker_url: str
) -> None:
    """Rows sent long ago whose messages still wait in the queue (no worker yet: a backlog)
    are not sent again; once the queue is empty and they are still pending, they are."""
    from datetime import timedelta

    from sqlalchemy import update

    from landrec.archive.db import writes
    from landrec.archive.db.models import File
    from landrec.archive.db.session import open_database
    from landrec.archive.domain import Seen, StoragePath
    from landrec.archive.queue.app import INDEX_QUEUE, configure
    from landrec.archive.queue.dispatch import Dispatcher

    sessions = open_database(fresh_postgres)
    with sessions() as session:
        writes.register(session, [Seen(StoragePath(f"f{i}.jpg"), 1, 1.0) for i in range(40)])
    send = Dispatcher(sessions, configure(broker_url, 10.0), batch_size=32)
    assert send.index() == 40 and send.depths()[INDEX_QUEUE] == 2
    with sessions() as session:  # sent an hour ago: past any resend delay
        an_hour_ago = writes.utcnow() - timedelta(hours=1)
        session.execute(update(File).values(queued_at=an_hour_ago))
        session.commit()
    assert send.index() == 0 and send.depths()[INDEX_QUEUE] == 2  # still waiting: a backlog
    with send.app.connection_for_write() as connection:
        connection.default_channel.queue_purge(INDEX_QUEUE)  # the broker lost them
    assert send.index() == 40 and send.depths()[INDEX_QUEUE] == 2
    sessions.kw["bind"].dispose()
