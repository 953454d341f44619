"""The extractors an indexer runs: one registered from outside lands its fields in the row,
timed under its name, for its kinds only; its ExtractError fails the file with the reason."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from conftest import write_image
from landrec.api import MediaKind
from landrec.archive.db.models import File, Status
from landrec.archive.db.session import open_database
from landrec.archive.extract import EXTRACTORS, ExtractError, Metadata, Registry, Source
from landrec.archive.indexer import Indexer
from landrec.archive.scanner import register_storage, scan
from landrec.archive.settings import make_settings


class Telemetry:
    """A throw-away extractor: an altitude field and an extra, for images only."""

    name = "telemetry"
    kinds = frozenset({MediaKind.IMAGE})

    def __init__(self) -> None:
        self.seen: list[Source] = []

    def extract(self, source: Source) -> Metadata:
        self.seen.append(source)
        return Metadata({"altitude": 1234.5}, {"track_points": len(source.sha256)})


class Refuses:
    """An extractor that finds every file unreadable."""

    name = "refuses"
    kinds = frozenset({MediaKind.IMAGE})

    def extract(self, source: Source) -> Metadata:
        raise ExtractError(f"no telemetry in {source.path.name}")


def index(root: Path, extractors: Registry) -> tuple[Indexer, dict[str, File]]:
    """A scan of `root` with these extractors and no model; the rows by path."""
    settings = make_settings(root, stable_s=0.0)
    indexer = Indexer(settings, open_database(settings.db_url), extractors=extractors)
    try:
        scan(indexer, settle_s=0.0)
    finally:
        indexer.close()
    with indexer.sessions() as session:
        return indexer, {r.path: r for r in session.scalars(select(File))}


def test_a_registered_extractor_fills_the_row_without_an_edit_of_the_indexer(
    tmp_path: Path,
) -> None:
    root = tmp_path / "storage"
    write_image(root / "a.jpg", (200, 40, 40), seed=1)
    (root / "notes.txt").write_text("not an image\n")
    telemetry = Telemetry()
    indexer, rows = index(root, EXTRACTORS.register(telemetry))
    row = rows["a.jpg"]
    assert row.status == Status.INDEXED and row.altitude == 1234.5
    assert row.extra is not None and row.extra["track_points"] == 64
    assert row.width == 48 and row.thumbnail  # the built-in extractors ran too
    assert row.mime == "image/jpeg" and row.format == "JPEG image"
    assert [s.path.name for s in telemetry.seen] == ["a.jpg"]  # images only
    assert telemetry.seen[0].format.kind is MediaKind.IMAGE
    assert {"detect", "hash", "metadata", "thumbnail", "telemetry"} <= set(indexer.seconds)
    assert rows["notes.txt"].status == Status.UNSUPPORTED and rows["notes.txt"].mime == "text/plain"
    assert EXTRACTORS.extractors[-1] is not telemetry  # the default registry is unchanged


def test_an_extractors_error_fails_the_file_with_its_reason(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    write_image(root / "a.jpg", (200, 40, 40), seed=1)
    _, rows = index(root, EXTRACTORS.register(Refuses()))
    row = rows["a.jpg"]
    assert row.status == Status.FAILED and row.error == "no telemetry in a.jpg"
    assert row.width is None and row.thumbnail is None  # nothing of a failed file is kept


def test_for_kind_keeps_registration_order() -> None:
    kinds = {e.name: e.kinds for e in EXTRACTORS.extractors}
    video = [e.name for e in EXTRACTORS.for_kind(MediaKind.VIDEO)]
    assert video == ["metadata", "telemetry", "thumbnail"]
    assert [e.name for e in EXTRACTORS.for_kind(MediaKind.TELEMETRY)] == ["telemetry"]
    assert list(EXTRACTORS.for_kind(MediaKind.UNSUPPORTED)) == []
    assert kinds["thumbnail"] == {MediaKind.IMAGE, MediaKind.VIDEO}


def test_a_file_replaced_by_a_link_out_of_the_storage_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    write_image(root / "a.jpg", (200, 40, 40), seed=1)
    secret = write_image(tmp_path / "outside" / "secret.jpg", (10, 200, 10), seed=2)
    settings = make_settings(root, stable_s=0.0)
    indexer = Indexer(settings, open_database(settings.db_url))
    try:
        register_storage(indexer.sessions, root)  # registered as a file, then replaced
        (root / "a.jpg").unlink()
        (root / "a.jpg").symlink_to(secret)
        indexer.process_pending()  # the link's stat differs: noted, read on the next pass
        indexer.process_pending()
    finally:
        indexer.close()
    with indexer.sessions() as session:
        row = session.scalars(select(File)).one()
    assert row.status == Status.MISSING and row.sha256 is None and row.thumbnail is None
    assert row.width is None and not list(settings.thumbs_dir.rglob("*.webp"))
