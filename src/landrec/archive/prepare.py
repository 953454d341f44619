"""A file's work before the model: is it complete, what is it (by content), its hash, the
model's input of an image (decoded once: its thumbnail is made from the same pixels), the
registered extractors of its kind (metadata, thumbnail, telemetry, ...) and the campaign's first
rule. Runs in the indexer's pool."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from os import stat_result
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from landrec.api import Detected, Format, MediaKind, Predictor, UserError, detect, sha256_file
from landrec.archive.campaign import first_rule
from landrec.archive.db import writes
from landrec.archive.db.models import Kind, Status
from landrec.archive.domain import Job, Outcome, Seen, kind_of
from landrec.archive.extract import ExtractError, Metadata, Registry, Source
from landrec.archive.positions import fill_fields
from landrec.archive.settings import ArchiveSettings

log = logging.getLogger(__name__)
# The kinds that are hashed and read (telemetry alone: indexed with its track, not classified)
MEDIA = frozenset({MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.TELEMETRY})
# Images decoded once for the model and the thumbnail: single-page formats that Pillow reads
# itself (the others keep their own paths: RAW, JPEG XL, HEIF, multi-page TIFF and GIF).
SHARED_DECODE = frozenset({"image/jpeg", "image/png"})


class StepTimes:
    """Seconds spent per named step, summed over the threads that ran it: wall time (waiting
    for a core included) and the running thread's CPU time (ONNX Runtime's own threads, for
    `classify`, not included)."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.cpu_seconds: defaultdict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - started, time.thread_time() - cpu
            with self._lock:
                self.seconds[name] += wall
                self.cpu_seconds[name] += cpu


@dataclass
class Prepared:
    """A file after the work that needs no model: what it is, its hash, metadata, thumbnail."""

    job: Job
    outcome: Outcome | None = None  # final already (unsupported, failed) or to classify
    unchanged: bool = False
    transient: str | None = None  # an unexpected error: retried up to max_attempts
    source: Path | None = None  # the file read (links resolved, inside the storage)
    array: np.ndarray | None = None  # the model's input, (3, H, W), when decoded here


@dataclass
class Preparer:
    """Prepares one pending row at a time (thread-safe: each call has its own session)."""

    settings: ArchiveSettings
    sessions: sessionmaker[Session]
    extractors: Registry
    version: str | None  # the model's: a file tagged by it with the same hash is unchanged
    times: StepTimes
    model: Predictor | None = None  # the model whose input images are decoded here

    def __call__(self, job: Job, settled: bool, row: np.ndarray | None = None) -> Prepared | None:
        """None: not ready (vanished, or still being written); else what it is. `row`: where
        to write the model's input (a row of the batch's array), if it is decoded here."""
        try:
            return self._read(job, settled, row)
        except Exception as exc:  # one bad file never stops a batch: retried, then failed
            log.exception("indexing %s", job.path)
            return Prepared(job, transient=f"{type(exc).__name__}: {exc}")

    def _read(self, job: Job, settled: bool, row: np.ndarray | None) -> Prepared | None:
        path = job.path.resolve_in(self.settings.storage)
        try:
            if path is None:  # replaced by a link out of the storage: not a file of it
                raise FileNotFoundError(job.path.posix)
            stat = path.stat()
        except FileNotFoundError:
            with self.sessions() as session:
                writes.mark_path_missing(session, job.path)
            return None
        if not settled and self._growing(job, stat):
            return None
        with self.times.step("detect"):
            detected = detect(path)
        if detected.kind not in MEDIA:
            return Prepared(job, not_media(detected))
        with self.times.step("hash"):
            sha = sha256_file(path)
        tagged = job.model_version == self.version or not kind_of(detected.kind).classified
        if sha == job.sha256 and tagged and job.error is None:
            return Prepared(job, unchanged=True)
        still = self._decode(path, detected.format)
        floor = self.model.preprocessing.short_side if self.model is not None else 0
        thumbs = self.settings.thumbs_dir
        outcome = self._extract(Source(path, sha, detected.format, thumbs, still, floor))
        array = None
        if still is not None and outcome.status is Status.INDEXED and pages(outcome) == 1:
            with self.times.step("preprocess"):
                array = self.model.model_input(still, row)  # type: ignore[union-attr]
        return Prepared(job, outcome, source=path, array=array)

    def _decode(self, path: Path, format: Format) -> Image.Image | None:
        """The image as the model decodes it (`Predictor.decode`), for the model and the
        thumbnail; None where it is not shared (see `SHARED_DECODE`) or not readable (the
        extractors and the model then read the file themselves and say why)."""
        if self.model is None or format.mime not in SHARED_DECODE:
            return None
        with self.times.step("decode"):
            try:
                return self.model.decode(path)
            except UserError:
                return None

    def _extract(self, source: Source) -> Outcome:
        """Every extractor of the file's kind, each timed under its name; the first
        `ExtractError` makes the file `failed` with its reason, and nothing found is kept."""
        format = source.format
        outcome = Outcome(
            Status.INDEXED, kind_of(format.kind), format.name, source.sha256, mime=format.mime
        )
        found = Metadata()
        try:
            for extractor in self.extractors.for_kind(format.kind):
                with self.times.step(extractor.name):
                    found.merge(extractor.extract(source))
        except ExtractError as exc:
            outcome.status, outcome.error = Status.FAILED, str(exc)
            return outcome
        outcome.fields, outcome.extra, outcome.thumbnail = (
            found.fields,
            found.extra,
            found.thumbnail,
        )
        if found.track is not None:
            outcome.track = found.track
            fill_fields(outcome.fields, found.track)
        lat, lon = outcome.fields.get("latitude"), outcome.fields.get("longitude")
        outcome.campaign = first_rule(found.track, _degrees(lat), _degrees(lon))
        return outcome

    def _growing(self, job: Job, stat: stat_result) -> bool:
        """A file whose size or mtime moved since it was seen, or changed within `stable_s`,
        may still be written: its new stat is noted and it waits for the next pass."""
        size, mtime = stat.st_size, stat.st_mtime
        if (
            size == job.size
            and mtime == job.mtime
            and time.time() - mtime >= self.settings.stable_s
        ):
            return False
        with self.sessions() as session:
            writes.register(session, [Seen(job.path, size, mtime)])
        return True


def pages(outcome: Outcome) -> int:
    """An image's number of pages (1 when unknown); 1 for a video."""
    return int(outcome.fields.get("pages") or 1) if outcome.kind is Kind.IMAGE else 1


def _degrees(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def not_media(detected: Detected) -> Outcome:
    """The final outcome of a file that is no image or video: `unsupported` with the format
    found, or `failed` (unreadable, vanished) with the reason."""
    if detected.kind is MediaKind.UNSUPPORTED:
        format, mime = detected.what, detected.mime
        return Outcome(Status.UNSUPPORTED, Kind.OTHER, format, error=detected.error, mime=mime)
    return Outcome(Status.FAILED, Kind.OTHER, None, error=detected.error)
