"""Indexing a storage folder: one row per file, idempotent passes, moved and missing files,
files still being written, the bad-input corpus, retag and exported corrections."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from conftest import write_image
from landrec.archive.commands import export_corrections, open_indexer, retag
from landrec.archive.db import writes
from landrec.archive.db.models import File, Status, Tag
from landrec.archive.scanner import scan
from landrec.archive.settings import make_settings


def write_video(path: Path, seconds: int = 2, fps: int = 5) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(seconds * fps):
            pixels = np.full((48, 64, 3), (20 * i) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_bad_corpus(folder: Path) -> dict[str, Path]:
    """The issue's bad inputs, each a file whose row must say what is wrong with it."""
    folder.mkdir(parents=True, exist_ok=True)
    good = write_image(folder / "source.jpg", (200, 40, 40), seed=1, size=64).read_bytes()
    files = {
        "empty": folder / "empty.jpg",
        "truncated_jpeg": folder / "truncated.jpg",
        "truncated_png": folder / "truncated.png",
        "text_as_jpeg": folder / "notes.jpg",
        "bomb": folder / "bomb.png",
        "corrupt_video": folder / "broken.mp4",
        "pdf": folder / "report.pdf",
    }
    files["empty"].write_bytes(b"")
    files["truncated_jpeg"].write_bytes(good[:300])
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 0, 255)).save(png, "PNG")
    files["truncated_png"].write_bytes(png.getvalue()[:60])
    files["text_as_jpeg"].write_text("not an image at all\n" * 20)
    bomb = io.BytesIO()
    Image.new("1", (12000, 16000)).save(bomb, "PNG")  # 192 Mpx: over Pillow's bomb limit
    files["bomb"].write_bytes(bomb.getvalue())
    files["corrupt_video"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000))
    files["pdf"].write_bytes(b"%PDF-1.4\n" + b"0" * 500)
    (folder / "source.jpg").unlink()
    return files


def write_odd_good(folder: Path) -> dict[str, Path]:
    """Valid files of unusual kinds: every one must be classified."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"png16": folder / "deep.png", "cmyk": folder / "print.jpg", "rotated": folder / "r.jpg"}
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(out["png16"])
    Image.new("CMYK", (64, 48), (0, 100, 200, 10)).save(out["cmyk"], "JPEG")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.new("RGB", (64, 48), (10, 120, 30)).save(out["rotated"], "JPEG", exif=exif)
    out["video"] = write_video(folder / "clip.mp4")
    pages = [Image.new("RGB", (40, 30), c) for c in ((220, 30, 30), (30, 30, 220), (220, 30, 30))]
    out["tiff"] = folder / "scan.tif"
    pages[0].save(out["tiff"], save_all=True, append_images=pages[1:])
    return out


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    root = tmp_path / "storage"
    for i in range(6):
        write_image(root / "a" / f"red{i}.jpg", (220, 30, 30), seed=i)
        write_image(root / "b" / f"blue{i}.jpg", (30, 30, 220), seed=100 + i)
    return root


def settings_for(root: Path, checkpoint: Path, **options: object):
    return make_settings(root, model=checkpoint, stable_s=0.0, **options)


def not_the_models(row: File) -> str:
    """The class a user corrects `row` to: not its model's label (that clears a correction)."""
    return "red" if row.model_context == "blue" else "blue"


def rows(indexer) -> list[File]:
    with indexer.sessions() as session:
        query = select(File).options(selectinload(File.segments)).order_by(File.path)
        return list(session.scalars(query))


def test_scan_indexes_every_file_once_and_again_changes_nothing(storage, red_blue_checkpoint):
    indexer = open_indexer(settings_for(storage, red_blue_checkpoint))
    counts = scan(indexer)
    assert counts["seen"] == 12 and counts["indexed"] == 12
    first = {r.path: (r.id, r.last_processed) for r in rows(indexer)}
    assert all(r.context in ("red", "blue") and r.thumbnail for r in rows(indexer))
    assert all(r.sha256 and r.width == 48 and r.model_version for r in rows(indexer))
    assert all(r.format == "JPEG image" and r.mime == "image/jpeg" for r in rows(indexer))
    counts = scan(indexer)  # nothing changed: nothing processed again
    assert counts["indexed"] == 12
    assert {r.path: (r.id, r.last_processed) for r in rows(indexer)} == first
    with indexer.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == 12
    assert indexer.settings.state_dir.parent == storage.parent  # beside, never inside


def test_deleted_file_is_missing_and_moved_file_keeps_id_and_correction(
    storage, red_blue_checkpoint
):
    indexer = open_indexer(settings_for(storage, red_blue_checkpoint))
    scan(indexer)
    by_path = {r.path: r for r in rows(indexer)}
    moved = by_path["a/red0.jpg"]
    label = not_the_models(moved)
    with indexer.sessions() as session:
        writes.correct_context(session, moved.id, label)
    (storage / "a" / "red1.jpg").unlink()
    (storage / "c").mkdir()
    os.replace(storage / "a" / "red0.jpg", storage / "c" / "renamed.jpg")
    scan(indexer)
    after = {r.path: r for r in rows(indexer)}
    assert after["a/red1.jpg"].status == Status.MISSING
    assert "a/red0.jpg" not in after
    assert after["c/renamed.jpg"].id == moved.id
    assert after["c/renamed.jpg"].corrected and after["c/renamed.jpg"].context == label
    assert len(after) == 12


def test_growing_file_waits_until_stable(tmp_path, red_blue_checkpoint):
    root = tmp_path / "storage"
    path = write_image(root / "slow.jpg", (200, 30, 30), seed=3)
    indexer = open_indexer(make_settings(root, model=red_blue_checkpoint, stable_s=30.0))
    os.utime(path)  # written just now
    from landrec.archive.scanner import register_storage

    register_storage(indexer.sessions, root)
    indexer.process_pending()
    assert rows(indexer)[0].status == Status.PENDING  # not read while it may grow
    old = time.time() - 60
    os.utime(path, (old, old))
    register_storage(indexer.sessions, root)
    indexer.process_pending()
    assert rows(indexer)[0].status == Status.INDEXED


def test_bad_input_corpus_gives_rows_with_reasons_and_good_files_classified(
    tmp_path, red_blue_checkpoint
):
    root = tmp_path / "storage"
    bad = write_bad_corpus(root / "bad")
    good = write_odd_good(root / "odd")
    for i in range(4):
        write_image(root / "plain" / f"{i}.jpg", (30, 30, 220), seed=i)
    indexer = open_indexer(settings_for(root, red_blue_checkpoint))
    counts = scan(indexer)
    found = {r.path: r for r in rows(indexer)}
    assert counts["seen"] == len(bad) + len(good) + 4 == len(found)
    for name, path in bad.items():
        row = found[path.relative_to(root).as_posix()]
        assert row.status in (Status.FAILED, Status.UNSUPPORTED), name
        assert row.error, name
    assert found["bad/report.pdf"].status == Status.UNSUPPORTED
    assert "PDF" in found["bad/report.pdf"].format
    assert "bomb" in found["bad/bomb.png"].error.lower() or "large" in found["bad/bomb.png"].error
    for name, path in good.items():
        row = found[path.relative_to(root).as_posix()]
        assert row.status == Status.INDEXED and row.context in ("red", "blue"), (name, row.error)
    assert found["odd/r.jpg"].orientation == 6
    video = found["odd/clip.mp4"]
    assert video.kind == "video" and video.duration_s and video.segments
    assert video.mime == "video/mp4" and video.extra["frames"] and video.extra["context_shares"]
    assert all(s.end_s > s.start_s for s in video.segments)
    scan_row = found["odd/scan.tif"]
    assert scan_row.pages == 3 and [s.page for s in scan_row.segments] == [1, 2, 3]


def test_retag_keeps_old_tags_and_export_corrections_is_a_training_folder(
    storage, red_blue_checkpoint, tmp_path
):
    indexer = open_indexer(settings_for(storage, red_blue_checkpoint))
    scan(indexer)
    other = tmp_path / "other.safetensors"
    other.write_bytes(red_blue_checkpoint.read_bytes())  # same weights, another file
    result = retag(indexer.settings.db_url, other)
    assert result["retagged"] == 12 and result["model_version"].startswith("other.safetensors@")
    with indexer.sessions() as session:
        versions = session.execute(select(Tag.model_version).distinct()).scalars().all()
        assert len(versions) == 2  # the first model's tags stay beside the new ones
        first = session.scalars(select(File).order_by(File.id)).first()
        label = not_the_models(first)
        writes.correct_context(session, first.id, label)
    out = tmp_path / "corrections"
    summary = export_corrections(indexer.settings.db_url, out)
    assert summary["files"] == 1
    linked = list((out / "train" / label).iterdir())
    assert len(linked) == 1 and linked[0].resolve() == (storage / first.path).resolve()
    assert export_corrections(indexer.settings.db_url, out)["files"] == 1  # again: the same
    assert list((out / "train" / label).iterdir()) == linked


def test_same_indexing_on_sqlite_and_postgresql(storage, red_blue_checkpoint, db_url):
    indexer = open_indexer(make_settings(storage, db_url, red_blue_checkpoint, stable_s=0.0))
    assert scan(indexer)["indexed"] == 12
    (storage / "a" / "red2.jpg").unlink()
    counts = scan(indexer)
    assert counts["indexed"] == 11 and counts["missing"] == 1
    with indexer.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == 12
        row = session.scalars(select(File).where(File.path == "b/blue0.jpg")).one()
    assert row.first_seen.tzinfo is not None and row.sha256 and row.context in ("red", "blue")
    indexer.sessions.kw["bind"].dispose()


def test_unexpected_error_is_retried_then_failed_with_its_reason(
    storage, red_blue_checkpoint, monkeypatch
):
    from landrec.archive.extract import images

    real = images.image_metadata

    def flaky(path: Path, mime: str | None = None):
        if path.name == "red3.jpg":
            raise OSError(5, "Input/output error")
        return real(path, mime)

    monkeypatch.setattr(images, "image_metadata", flaky)
    indexer = open_indexer(settings_for(storage, red_blue_checkpoint, max_attempts=3))
    counts = scan(indexer, settle_s=0.0)
    row = next(r for r in rows(indexer) if r.path == "a/red3.jpg")
    assert counts["indexed"] == 11 and counts["failed"] == 1
    assert row.status == Status.FAILED and row.attempts == 3 and "Input/output" in row.error
    monkeypatch.setattr(images, "image_metadata", real)
    (storage / "a" / "red3.jpg").touch()  # changed: tried afresh, and now it reads
    assert scan(indexer)["indexed"] == 12


def test_a_model_failure_is_retried_then_failed_not_a_dead_loop(
    storage, red_blue_checkpoint, monkeypatch
):
    indexer = open_indexer(settings_for(storage, red_blue_checkpoint, max_attempts=2))

    def broken(*args, **kwargs):
        raise RuntimeError("ONNX Runtime: out of memory")

    monkeypatch.setattr(indexer.predictor, "images", broken)  # files the model decodes
    monkeypatch.setattr(indexer.predictor, "arrays", broken)  # images decoded with thumbnails
    counts = scan(indexer, settle_s=0.0)
    assert counts["failed"] == 12
    assert all("out of memory" in r.error and r.attempts == 2 for r in rows(indexer))


def test_model_version_names_a_run_by_its_folder_and_a_file_by_its_name(
    red_blue_checkpoint, tmp_path
):
    from landrec.api import sha256_file
    from landrec.archive.indexer import model_version

    digest = sha256_file(red_blue_checkpoint)[:12]
    run = red_blue_checkpoint.parent
    assert model_version(run) == model_version(red_blue_checkpoint) == f"{run.name}@{digest}"
    last_only = tmp_path / "resumed"
    last_only.mkdir()
    (last_only / "last.safetensors").write_bytes(red_blue_checkpoint.read_bytes())
    assert model_version(last_only) == f"resumed@{digest}"  # no best yet: the last one
    other = tmp_path / "other.safetensors"
    other.write_bytes(red_blue_checkpoint.read_bytes())
    assert model_version(other) == f"other.safetensors@{digest}"


def test_pages_of_batches_are_indexed_in_turn_and_a_failed_write_is_raised(
    storage, red_blue_checkpoint, monkeypatch: pytest.MonkeyPatch
):
    """batch_size 2: 12 files are 2 pages of ids (8, then 4) and 6 batches; each batch's rows
    are written while the next is classified, and a write that fails stops the pass with its
    error once the batches before it are written."""
    indexer = open_indexer(settings_for(storage, red_blue_checkpoint, batch_size=2))
    progress: list[int] = []
    counts = scan(indexer, progress=lambda done, total: progress.append(done))
    assert counts["indexed"] == 12 and progress == [2] * 6
    assert all(r.context in ("red", "blue") for r in rows(indexer))

    for path in sorted(storage.rglob("*.jpg"))[:5]:
        write_image(path, (200, 200, 30), seed=7)  # new content: indexed again
    record, calls, threads = writes.record, [], []

    def failing(session, results, gone):
        calls.append(len(results))
        threads.append(threading.current_thread().name)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return record(session, results, gone)

    monkeypatch.setattr(writes, "record", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        scan(indexer)
    indexer.close()
    assert len(calls) == 2  # the third batch was classified, never written after the failure
    assert all(name.startswith("landrec-record") for name in threads)  # beside the model
    with indexer.sessions() as session:
        statuses = session.scalars(select(File.status)).all()
    assert statuses.count(Status.PENDING) == 3  # the second and third batches' files
