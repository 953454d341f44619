"""The sending side of the distributed mode: pending rows out to the broker in batches, the
previews and a retag likewise, and the queues' depths. Used by `serve --broker` (each pass of
its loop), `scan --broker` and `retag --broker`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from landrec.archive.db import reads, writes
from landrec.archive.queue.app import (
    INDEX_QUEUE,
    INDEX_TASK,
    PREVIEW_TASK,
    PREVIEWS_QUEUE,
    QUEUES,
    RETAG_TASK,
    visibility_timeout,
)
from landrec.archive.renditions.worker import STALE_S

log = logging.getLogger(__name__)

CLAIM = 1024  # rows marked sent per database round trip
PREVIEWS_AHEAD = 256  # preview messages kept waiting at most (each makes whichever is next)
# A message not done this long after the visibility timeout is lost; less for a short timeout
# (the visibility timeout itself), still longer than kombu's sweep for the messages of dead
# workers (a quarter of it, app.py), so a redelivery comes before a resend.
RESEND_MARGIN_S = 60.0


@dataclass
class Dispatcher:
    """Sends work for the rows of one archive's database through one Celery app."""

    sessions: sessionmaker[Session]
    app: Celery
    batch_size: int = 32  # files per message: one model call each

    @property
    def resend_after(self) -> timedelta:
        """A row sent this long ago and still pending: its message was lost (a broker that
        died without persisting it, a worker killed past the visibility timeout)."""
        timeout = visibility_timeout()
        return timedelta(seconds=timeout + min(RESEND_MARGIN_S, timeout))

    def index(self) -> int:
        """Send every pending row not sent yet (or whose message looks lost), a batch per
        message; returns how many rows were sent. Rows whose message could not be sent (the
        broker down) are left unsent, for the next call. A message looks lost only once the
        index queue is empty: a long backlog (millions of files) is not sent again each
        visibility timeout while it waits."""
        sent = 0
        cutoff = writes.utcnow() - self.resend_after
        with self.sessions() as session:
            overdue = reads.sent_before(session, cutoff)  # the broker is asked only then
        idle = overdue and self.depths().get(INDEX_QUEUE, 0) == 0
        resend_before = cutoff if idle else None
        while True:
            with self.sessions() as session:
                ids = writes.claim_for_queue(session, resend_before, CLAIM)
            if not ids:
                return sent
            for start in range(0, len(ids), self.batch_size):
                batch = ids[start : start + self.batch_size]
                try:
                    self.app.send_task(INDEX_TASK, args=[batch], queue=INDEX_QUEUE)
                except Exception:
                    with self.sessions() as session:
                        writes.unqueue(session, ids[start:])
                    raise
                sent += len(batch)

    def previews(self, ahead: int | None = PREVIEWS_AHEAD) -> int:
        """Messages for the previews waiting (each worker claims whichever is next, so a
        message never names one), once no file waits to be indexed, at most `ahead` in the
        queue (None: one per preview, for a command that sends once, with no loop to top the
        queue up later); returns how many previews wait."""
        with self.sessions() as session:
            if reads.pending_count(session):
                return 0
            writes.queue_renditions(session)
            # Only those a worker can take: a message for a missing file's preview would be
            # sent again and again; a stale running one (its worker killed) needs one.
            stale_before = writes.utcnow() - timedelta(seconds=STALE_S)
            waiting = reads.renditions_to_make(session, stale_before)
        wanted = waiting if ahead is None else min(waiting, ahead)
        want = wanted - self.depths().get(PREVIEWS_QUEUE, 0)
        for _ in range(max(0, want)):
            self.app.send_task(PREVIEW_TASK, queue=PREVIEWS_QUEUE)
        return waiting

    def retag(self, model: str) -> int:
        """A message per batch of indexed images and videos, to re-classify them with `model`
        (a path every worker can read); returns how many files were sent."""
        with self.sessions() as session:
            ids = [row[0] for row in reads.indexed_files(session)]
        for start in range(0, len(ids), self.batch_size):
            batch = ids[start : start + self.batch_size]
            self.app.send_task(RETAG_TASK, args=[batch, model], queue=INDEX_QUEUE)
        return len(ids)

    def depths(self) -> dict[str, int]:
        """{queue: messages waiting in the broker} (those a worker holds are not counted)."""
        return queue_depths(self.app)


def queue_depths(app: Celery) -> dict[str, int]:
    """{queue: messages waiting} read from the broker."""
    depths = {}
    with app.connection_for_read() as connection:
        # One quick try: a broker that is down is reported at once (the API's health check)
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        channel = connection.default_channel
        for name in QUEUES:
            declared = channel.queue_declare(queue=name, passive=False, durable=True)
            depths[name] = int(declared.message_count)
    return depths
