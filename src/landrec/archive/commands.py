"""The `landrec archive` commands: serve, scan, retag, export-corrections."""

from __future__ import annotations

import errno
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from landrec.api import Predictor
from landrec.archive.auth import CLI
from landrec.archive.db import auth_writes, reads, writes
from landrec.archive.db.models import Action, Kind
from landrec.archive.db.session import open_archive, open_database
from landrec.archive.domain import StoragePath
from landrec.archive.indexer import Indexer, model_version, open_predictor
from landrec.archive.positions import locate
from landrec.archive.renditions.worker import build_pending
from landrec.archive.scanner import scan as scan_storage
from landrec.archive.settings import ArchiveError, ArchiveSettings
from landrec.archive.tagging import ToClassify, classify

DEFAULT_MODEL = Path("runs") / "mobilenet_v2"  # where `landrec train` puts the default run
STORAGE_KEY = "storage_root"


def resolve_model(model: str | Path | None) -> str:
    """The model to tag with: the given one, or the default run; a clear error when neither
    exists."""
    path = Path(model) if model else DEFAULT_MODEL
    if not path.exists():
        how = "train one with `landrec train DATA` (it writes runs/mobilenet_v2) or pass --model"
        raise ArchiveError(f"{path}: no trained model there; {how} RUN_OR_CHECKPOINT")
    return str(path)


def check_port(host: str, port: int) -> None:
    """An `ArchiveError` when `host:port` cannot be listened on (in use, not an address of
    this machine): checked by binding it, before anything is opened or indexed."""
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ArchiveError(f"{host}: cannot listen there ({exc})") from None
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ArchiveError(
                    f"port {port} is in use on {host}: stop what listens there or pass another"
                    " --port"
                ) from None
            raise ArchiveError(f"{host}:{port}: cannot listen there ({exc.strerror})") from None


def open_storage_database(settings: ArchiveSettings) -> sessionmaker[Session]:
    """The database (migrated) of these settings' storage; an `ArchiveError` when it indexes
    another storage folder."""
    sessions = open_database(settings.db_url)
    with sessions() as session:
        known = reads.info(session, STORAGE_KEY)
        if known is not None and Path(known) != settings.storage:
            raise ArchiveError(
                f"{settings.db_url}: this database indexes {known}, not {settings.storage}"
            )
        writes.set_info(session, STORAGE_KEY, str(settings.storage))
    return sessions


def open_indexer(settings: ArchiveSettings) -> Indexer:
    """The database (migrated), the model and the indexer for these settings."""
    sessions = open_storage_database(settings)
    predictor = open_predictor(settings) if settings.model is not None else None
    return Indexer(settings, sessions, predictor)


def scan(
    settings: ArchiveSettings,
    progress: Callable[[int, int], None] | None = None,
    previews: bool = True,
) -> dict:
    """One pass over the storage, then (with `previews`) the renditions it needs; the row
    counts by status (and files seen, and the previews made by outcome)."""
    indexer = open_indexer(settings)
    try:
        counts: dict[str, Any] = dict(scan_storage(indexer, progress))
    finally:
        indexer.close()
    if previews:  # after every file is tagged
        counts["previews"] = build_pending(settings, indexer.sessions)
    return counts


def previews(settings: ArchiveSettings, retry_failed: bool = False) -> dict:
    """Make the pending renditions (with `retry_failed`, the failed ones again too);
    {"made": {outcome: count}, "queue": {status: count}}."""
    indexer = open_indexer(settings)
    try:
        with indexer.sessions() as session:
            if retry_failed:
                writes.retry_failed_renditions(session)
        made = build_pending(settings, indexer.sessions)
        with indexer.sessions() as session:
            return {"made": made, "queue": reads.rendition_counts(session)}
    finally:
        indexer.close()


def storage_of(sessions: sessionmaker[Session], db_url: str) -> Path:
    with sessions() as session:
        root = reads.info(session, STORAGE_KEY)
    if root is None:
        raise ArchiveError(f"{db_url}: not an archive database (no storage recorded)")
    return Path(root)


def retag(
    db_url: str,
    model: str | Path,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Re-classify every indexed file with `model`; each file's new tag is written beside its
    old ones and made current in the same transaction."""
    sessions = open_archive(db_url)
    root = storage_of(sessions, db_url)
    predictor = Predictor(model, batch_size=batch_size)
    version = model_version(model)
    with sessions() as session:
        rows = reads.indexed_files(session)
    counts = {"retagged": 0, "failed": 0}
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        for key, value in retag_rows(sessions, root, predictor, version, chunk).items():
            counts[key] += value
        if progress is not None:
            progress(len(chunk), len(rows))
    with sessions() as session:
        detail = f"{counts['retagged']} retagged, {counts['failed']} failed"
        auth_writes.audit(session, CLI, Action.RETAG, version, detail)
    return {"model_version": version, **counts}


def retag_rows(
    sessions: sessionmaker[Session],
    root: Path,
    predictor: Predictor,
    version: str,
    rows: list[tuple[int, StoragePath, Kind, int | None]],
) -> dict[str, int]:
    """One batch of a retag (one model call for its images), written in one transaction;
    {"retagged", "failed"}."""
    # A file replaced by a link out of the storage is not read: it counts as failed.
    found = [(row, file) for row in rows if (file := row[1].resolve_in(root)) is not None]
    items = [ToClassify(file, row[2], row[3] or 1) for row, file in found]
    tagged = classify(predictor, version, items)
    tags = [(row[0], t.tag, t.segments) for (row, _), t in zip(found, tagged, strict=True) if t.tag]
    with sessions() as session:
        tracks = reads.tracks(session, [file_id for file_id, _, segments in tags if segments])
        for file_id, _, segments in tags:
            if file_id in tracks:  # where the new segments were shot
                locate(segments, tracks[file_id])
        writes.write_tags(session, tags)
    return {"retagged": len(tags), "failed": len(rows) - len(tags)}


def export_corrections(db_url: str, out: Path, copy: bool = False) -> dict:
    """The corrected files as an image-folder data set, `out/train/<class>/<name>`, linked
    (or copied) from the storage; a name met twice gets its id as a prefix."""
    sessions = open_archive(db_url)
    root = storage_of(sessions, db_url)
    with sessions() as session:
        rows = reads.corrected_files(session)
        n_corrections = reads.correction_count(session)
    written: dict[str, int] = {}
    for file_id, path, context in rows:
        folder = out / "train" / context
        folder.mkdir(parents=True, exist_ok=True)
        source = path.resolve_in(root)
        if source is None:  # replaced by a link out of the storage: never exported
            continue
        target = folder / path.name
        if _taken(target, source):
            target = folder / f"{file_id}-{path.name}"
        if not (target.exists() or target.is_symlink()):  # exported before: kept as it is
            if copy:
                shutil.copy2(source, target)
            else:
                os.symlink(source, target)
        written[context] = written.get(context, 0) + 1
    return {
        "files": sum(written.values()),
        "per_class": written,
        "corrections": n_corrections,
        "out": str(out),
    }


def _taken(target: Path, source: Path) -> bool:
    """`target` exists and is not this source's export (another file of the same name)."""
    if not (target.exists() or target.is_symlink()):
        return False
    if target.is_symlink():
        return Path(os.readlink(target)) != source
    return target.stat().st_size != source.stat().st_size
