"""The `landrec archive` commands: serve, scan, retag, export-corrections."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from landrec.api import Predictor
from landrec.archive.db import writes
from landrec.archive.db.models import Correction, File, Info, Kind, Status
from landrec.archive.db.session import open_database
from landrec.archive.indexer import Indexer, model_version
from landrec.archive.scanner import scan as scan_storage
from landrec.archive.settings import ArchiveError, ArchiveSettings
from landrec.archive.tagging import image_tags, video_tag

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


def open_indexer(settings: ArchiveSettings) -> Indexer:
    """The database (migrated), the model and the indexer for these settings."""
    sessions = open_database(settings.db_url)
    with sessions() as session:
        known = session.get(Info, STORAGE_KEY)
        if known is not None and Path(known.value) != settings.storage:
            raise ArchiveError(
                f"{settings.db_url}: this database indexes {known.value}, not {settings.storage}"
            )
        writes.set_info(session, STORAGE_KEY, str(settings.storage))
    predictor = None
    if settings.model is not None:
        predictor = Predictor(
            settings.model, batch_size=settings.batch_size, workers=settings.workers
        )
    return Indexer(settings, sessions, predictor)


def scan(settings: ArchiveSettings, progress: Callable[[int, int], None] | None = None) -> dict:
    """One pass over the storage; the row counts by status (and files seen)."""
    indexer = open_indexer(settings)
    try:
        return scan_storage(indexer, progress)
    finally:
        indexer.close()


def storage_of(sessions: sessionmaker[Session], db_url: str) -> Path:
    with sessions() as session:
        row = session.get(Info, STORAGE_KEY)
    if row is None:
        raise ArchiveError(f"{db_url}: not an archive database (no storage recorded)")
    return Path(row.value)


def retag(
    db_url: str,
    model: str | Path,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Re-classify every indexed file with `model`; each file's new tag is written beside its
    old ones and made current in the same transaction."""
    sessions = open_database(db_url)
    root = storage_of(sessions, db_url)
    predictor = Predictor(model, batch_size=batch_size)
    version = model_version(model)
    with sessions() as session:
        rows = session.execute(
            select(File.id, File.path, File.kind, File.pages)
            .where(File.status == Status.INDEXED)
            .order_by(File.id)
        ).all()
    counts = {"retagged": 0, "failed": 0}
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        outcomes = []
        for file_id, rel, kind, pages in chunk:
            outcome = writes.Outcome(Status.INDEXED, Kind(kind), None, fields={"pages": pages})
            outcomes.append((file_id, root / rel, outcome))
        image_tags(predictor, version, [(p, o) for _, p, o in outcomes if o.kind is Kind.IMAGE])
        for _, path, o in outcomes:
            if o.kind is Kind.VIDEO:
                video_tag(predictor, version, path, o)
        tags = [(i, o.tag, o.segments) for i, _, o in outcomes if o.tag is not None]
        with sessions() as session:
            writes.write_tags(session, tags)
        counts["retagged"] += len(tags)
        counts["failed"] += len(chunk) - len(tags)
        if progress is not None:
            progress(len(chunk), len(rows))
    return {"model_version": version, **counts}


def export_corrections(db_url: str, out: Path, copy: bool = False) -> dict:
    """The corrected files as an image-folder data set, `out/train/<class>/<name>`, linked
    (or copied) from the storage; a name met twice gets its id as a prefix."""
    sessions = open_database(db_url)
    root = storage_of(sessions, db_url)
    with sessions() as session:
        rows = session.execute(
            select(File.id, File.path, File.context)
            .where(File.corrected.is_(True), File.status != Status.MISSING)
            .order_by(File.id)
        ).all()
        n_corrections = len(session.scalars(select(Correction.id)).all())
    written: dict[str, int] = {}
    for file_id, rel, context in rows:
        folder = out / "train" / str(context)
        folder.mkdir(parents=True, exist_ok=True)
        source = root / rel
        target = folder / Path(rel).name
        if _taken(target, source):
            target = folder / f"{file_id}-{Path(rel).name}"
        if not (target.exists() or target.is_symlink()):  # exported before: kept as it is
            if copy:
                shutil.copy2(source, target)
            else:
                os.symlink(source, target)
        written[str(context)] = written.get(str(context), 0) + 1
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
