"""An image is decoded once while it is indexed: the model's input and the thumbnail come from
the same pixels (issue 28), with the labels that the model's own decoding gives."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from sqlalchemy import select

from conftest import write_image
from landrec.archive import tagging
from landrec.archive.commands import open_indexer
from landrec.archive.db.models import File, Status, Tag
from landrec.archive.scanner import scan
from landrec.archive.settings import make_settings
from landrec.data import decode


def photos(root: Path) -> list[Path]:
    """JPEGs and a PNG small enough that the model's decoder reads them at their stored size."""
    out = [write_image(root / f"red{i}.jpg", (220, 30, 30), seed=i) for i in range(3)]
    out += [write_image(root / f"blue{i}.jpg", (30, 30, 220), seed=10 + i) for i in range(3)]
    Image.open(out[0]).save(root / "red.png")
    return [*out, root / "red.png"]


def test_each_photo_is_decoded_once_with_the_labels_of_the_models_own_decoding(
    tmp_path: Path, red_blue_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "storage"
    files = photos(root)
    decoded: Counter[str] = Counter()
    load = ImageFile.ImageFile.load
    plain_jpeg = decode._plain_jpeg

    def counted(image: ImageFile.ImageFile):  # pixels decoded (a loaded image has no tile)
        if image.tile:
            decoded[Path(image.filename).name] += 1
        return load(image)

    def counted_jpeg(path: Path, *args):  # libjpeg-turbo directly (data/decode.py)
        image = plain_jpeg(path, *args)
        decoded[path.name] += image is not None
        return image

    batches: list[bool] = []  # whether the model read the array the rows were written into
    batch_of = tagging.batch_of

    def checked_batch(arrays: list[np.ndarray]) -> np.ndarray:
        batch = batch_of(arrays)
        batches.append(batch is arrays[0].base)
        return batch

    indexer = open_indexer(make_settings(root, model=red_blue_checkpoint, stable_s=0.0))
    monkeypatch.setattr(ImageFile.ImageFile, "load", counted)
    monkeypatch.setattr(decode, "_plain_jpeg", counted_jpeg)
    monkeypatch.setattr(tagging, "batch_of", checked_batch)
    try:
        counts = scan(indexer, settle_s=0.0)
    finally:
        indexer.close()
    monkeypatch.undo()
    assert counts["indexed"] == len(files)
    assert decoded == Counter({p.name: 1 for p in files})  # thumbnail and model: one decode
    assert batches == [True]  # one batch, read where the preparing threads wrote it
    expected = {Path(p.path).name: p for p in indexer.predictor.images(files)}  # type: ignore[union-attr]
    with indexer.sessions() as session:
        rows = session.execute(select(File, Tag).join(Tag, Tag.file_id == File.id)).all()
    assert len(rows) == len(files)
    for row, tag in rows:
        want = expected[Path(row.path).name]
        assert row.status == Status.INDEXED and row.thumbnail
        assert (row.model_context, tag.label) == (want.label, want.label)
        assert tag.confidence == pytest.approx(want.confidence, abs=1e-6)


def test_a_photo_the_model_reads_reduced_gets_its_thumbnail_from_the_file(
    tmp_path: Path, red_blue_checkpoint: Path
) -> None:
    root = tmp_path / "storage"
    write_image(root / "big.jpg", (220, 30, 30), seed=1, size=300)  # the model reads ~1/8 of it
    indexer = open_indexer(make_settings(root, model=red_blue_checkpoint, stable_s=0.0))
    try:
        assert scan(indexer, settle_s=0.0)["indexed"] == 1
    finally:
        indexer.close()
    with indexer.sessions() as session:
        row = session.scalars(select(File)).one()
    with Image.open(indexer.settings.thumbs_dir / row.thumbnail) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("JPEG", (256, 256))


def test_a_batch_is_the_array_its_rows_were_written_into_or_a_stacked_copy() -> None:
    rows = np.empty((3, 3, 2, 2), np.float32)  # as Indexer._submit makes it
    rows[:] = np.arange(rows.size).reshape(rows.shape)
    assert tagging.batch_of(list(rows)) is rows
    for arrays in (list(rows)[:2], list(rows)[::-1], [r.copy() for r in rows]):
        batch = tagging.batch_of(arrays)
        assert batch is not rows
        np.testing.assert_array_equal(batch, np.stack(arrays))
