"""The view a model saw each file from (issue 29): stored for images, the pages of a
multi-page file, videos and their segments, and filled in by `archive retag` on an archive
tagged by a model without views. The model: an exported ONNX classifier with views
(`view_model`: a green-ish picture is overhead)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from conftest import write_image
from landrec.archive.db.models import File, Tag
from landrec.archive.db.session import open_database
from landrec.cli.main import main

from .gui.helpers import write_video

RED, YELLOW, CYAN = (220, 30, 30), (220, 200, 30), (30, 200, 220)  # cyan: blue, overhead


def write_storage(storage: Path) -> None:
    """A red photo (ground), a yellow one (overhead), a two-page TIFF (red, then yellow) and a
    video (18 s red, then 9 s cyan: red on the ground, then blue from overhead; each longer
    than the shortest segment the video's smoothing keeps)."""
    write_image(storage / "red.jpg", RED, seed=1)
    write_image(storage / "yellow.jpg", YELLOW, seed=2)
    pages = [Image.new("RGB", (48, 32), colour) for colour in (RED, YELLOW)]
    pages[0].save(storage / "pages.tif", save_all=True, append_images=pages[1:])
    write_video(storage / "clip.mp4", [RED, RED, CYAN], seconds_each=9.0, fps=2)


def scan(storage: Path, model: Path, capsys) -> sessionmaker[Session]:
    """`landrec archive scan` of `storage` with `model`; the archive's sessions."""
    args = ["archive", "scan", "--storage", str(storage), "--model", str(model), "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["indexed"] == 4
    return open_database(db_of(storage))


def db_of(storage: Path) -> str:
    return f"sqlite:///{storage.parent / '.landrec-archive-storage' / 'archive.sqlite3'}"


def files(sessions: sessionmaker[Session]) -> dict[str, File]:
    with sessions() as session:
        query = select(File).options(selectinload(File.segments))
        return {f.path: f for f in session.scalars(query)}


def test_scan_stores_the_view_of_images_pages_videos_and_segments(
    tmp_path: Path, view_model: Path, capsys
) -> None:
    storage = tmp_path / "storage"
    write_storage(storage)
    rows = files(scan(storage, view_model, capsys))
    assert {p: (f.context, f.view) for p, f in rows.items()} == {
        "red.jpg": ("red", "ground"),
        "yellow.jpg": ("red", "overhead"),
        "pages.tif": ("red", "ground"),  # its first page
        "clip.mp4": ("red", "ground"),  # two thirds of its time
    }
    for row in rows.values():
        assert row.view_confidence is not None and 0.5 <= row.view_confidence <= 1.0
    pages = rows["pages.tif"].segments
    assert [(s.page, s.view) for s in pages] == [(1, "ground"), (2, "overhead")]
    assert all(s.view_confidence is not None and s.view_confidence > 0.9 for s in pages)
    timeline = [(s.context, s.view) for s in rows["clip.mp4"].segments]
    assert timeline == [("red", "ground"), ("blue", "overhead")]
    assert all(s.view_confidence > 0.9 for s in rows["clip.mp4"].segments)  # type: ignore[operator]
    with open_database(db_of(storage))() as session:
        tags = {t.file_id: (t.view, t.view_confidence) for t in session.scalars(select(Tag))}
    assert {i: (f.view, f.view_confidence) for i, f in ((f.id, f) for f in rows.values())} == tags


def test_retag_fills_the_views_of_an_archive_tagged_without_them(
    tmp_path: Path, colour_model: Path, view_model: Path, capsys
) -> None:
    storage = tmp_path / "storage"
    write_storage(storage)
    sessions = scan(storage, colour_model, capsys)
    before = files(sessions)
    assert {f.view for f in before.values()} == {None}
    assert {s.view for f in before.values() for s in f.segments} == {None}
    command = ["archive", "retag", "--db", db_of(storage), "--model", str(view_model), "--json"]
    assert main(command) == 0
    assert json.loads(capsys.readouterr().out)["retagged"] == 4
    after = files(sessions)
    assert (after["red.jpg"].view, after["yellow.jpg"].view) == ("ground", "overhead")
    assert all(f.view is not None for f in after.values())
    assert [s.view for s in after["pages.tif"].segments] == ["ground", "overhead"]
    with sessions() as session:
        tags = session.execute(select(Tag.model_version, Tag.view)).all()
    by_version: dict[str, set] = {}
    for version, view in tags:
        by_version.setdefault(version.split("@")[0], set()).add(view)  # name@digest
    assert by_version == {"colour.onnx": {None}, "colour-views.onnx": {"ground", "overhead"}}
