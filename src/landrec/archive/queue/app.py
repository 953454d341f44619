"""The Celery application: its queues, task names and the settings that make a task survive a
worker's death (acknowledged late, given back when the worker is lost, redelivered after the
broker's visibility timeout) and keep messages JSON (never pickle).

`celery --app landrec.archive.queue.app events` (or Flower) works against it: the broker's URL
comes from the `LANDREC_BROKER` environment variable there."""

from __future__ import annotations

import os

from celery import Celery

BROKER_ENV = "LANDREC_BROKER"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
INDEX_QUEUE = "landrec.index"  # files to index: the first thing a worker takes
PREVIEWS_QUEUE = "landrec.previews"  # browser renditions (transcodes): never ahead of indexing
QUEUES = (INDEX_QUEUE, PREVIEWS_QUEUE)
INDEX_TASK = "landrec.archive.index"
PREVIEW_TASK = "landrec.archive.preview"
RETAG_TASK = "landrec.archive.retag"
# A task not acknowledged within this time is given to another worker. Longer than the longest
# task: a batch of files takes seconds, a transcode minutes; an hour leaves room for both.
VISIBILITY_TIMEOUT_S = 3600.0

app = Celery("landrec", include=["landrec.archive.queue.tasks"])


def configure(broker_url: str, visibility_timeout_s: float = VISIBILITY_TIMEOUT_S) -> Celery:
    """The application set up for `broker_url` (`redis://[:PASSWORD@]HOST:PORT/DB`, or
    `rediss://` for TLS)."""
    app.conf.update(
        broker_url=broker_url,
        broker_transport_options={
            "visibility_timeout": visibility_timeout_s,
            # kombu looks for messages whose worker died every interval x throttle seconds
            # (100 s by default): a quarter of the visibility timeout at most, every time.
            "unacked_restore_interval": min(10.0, max(1.0, visibility_timeout_s / 4)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker restart is waited for, not fatal
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # the database holds every outcome
        task_acks_late=True,  # acknowledged once done: a worker killed mid-task loses nothing
        task_reject_on_worker_lost=True,  # ... and its task goes back to the queue
        worker_prefetch_multiplier=1,  # a worker holds one message per process, no more
        task_default_queue=INDEX_QUEUE,
        task_routes={PREVIEW_TASK: {"queue": PREVIEWS_QUEUE}},
        worker_send_task_events=True,  # `celery events`, Flower
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
    )
    return app


def visibility_timeout() -> float:
    return float(app.conf.broker_transport_options.get("visibility_timeout", VISIBILITY_TIMEOUT_S))


configure(os.environ.get(BROKER_ENV, DEFAULT_BROKER))
