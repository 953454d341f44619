"""`landrec archive worker`: a Celery worker (prefork: `concurrency` processes, each with its
own database connection and model) consuming the index queue and the previews queue."""

from __future__ import annotations

import socket

from landrec.archive.queue.app import QUEUES, configure
from landrec.archive.queue.tasks import Setup, install


def run_worker(
    setup: Setup,
    broker_url: str,
    concurrency: int = 1,
    queues: tuple[str, ...] = QUEUES,
    name: str | None = None,
    visibility_timeout_s: float | None = None,
    loglevel: str = "INFO",
) -> None:
    """Run the worker until it is stopped (SIGTERM: a warm shutdown, the running tasks end
    first; SIGKILL loses nothing either: their messages are redelivered)."""
    app = configure(broker_url, *(() if visibility_timeout_s is None else (visibility_timeout_s,)))
    install(setup)
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={','.join(queues)}",
            f"--hostname={name or f'landrec@{socket.gethostname()}'}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
