"""inspect_dataset and channel_stats on tiny generated data sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from landrec.data.inspect import channel_stats, inspect_dataset
from landrec.data.layout import DataLayoutError, list_class_folder


def _image(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def kaggle_tree(tmp_path: Path) -> Path:
    """Kaggle-style names; one photo copied from train into test; one corrupt file in val."""
    root = tmp_path / "landscapes"
    train, val, test = root / "Training Data", root / "Validation Data", root / "Testing Data"
    for i in range(3):
        _image(train / "Coast" / f"c{i}.jpg", (40 + i * 10, 30), (0, 0, 200 + i))
    for i in range(2):
        _image(train / "Desert" / f"d{i}.png", (20, 24), (200, 180, i))
    _image(val / "Coast" / "c.jpg", (16, 16), (1, 2, 3))
    _image(val / "Desert" / "d.png", (16, 16), (4, 5, 6))
    (val / "Desert" / "broken.jpg").write_text("not a picture")
    (test / "Coast").mkdir(parents=True)
    (test / "Coast" / "leak.jpg").write_bytes((train / "Coast" / "c1.jpg").read_bytes())
    _image(test / "Desert" / "d.png", (30, 30), (9, 9, 9))
    return root


def test_inspect_counts_duplicates_unreadable_and_chart(kaggle_tree: Path, tmp_path: Path) -> None:
    report = inspect_dataset(kaggle_tree, out_dir=tmp_path / "out", progress=False)
    assert report.classes == ["coast", "desert"]
    assert list(report.counts) == ["train", "val", "test"]
    assert report.counts == {
        "train": {"coast": 3, "desert": 2},
        "val": {"coast": 1, "desert": 2},
        "test": {"coast": 1, "desert": 1},
    }
    assert report.cross_split_duplicates == [
        ["Testing Data/Coast/leak.jpg", "Training Data/Coast/c1.jpg"]
    ]
    assert len(report.unreadable) == 1
    path, reason = report.unreadable[0]
    assert path == "Validation Data/Desert/broken.jpg"
    assert "not an image" in reason
    train = report.size_stats["train"]
    assert (train["min_w"], train["max_w"], train["median_w"]) == (20, 60, 40)
    assert train["mean_w"] == pytest.approx((40 + 50 + 60 + 20 + 20) / 5)
    assert (train["min_h"], train["max_h"]) == (24, 30)
    assert report.size_stats["val"]["max_w"] == 16  # the corrupt file has no size
    assert report.chart is not None
    chart = Path(report.chart)
    assert chart.name == "class_distribution.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not report.val_note
    json.dumps(report.to_dict())


def test_markdown_lists_everything(kaggle_tree: Path) -> None:
    report = inspect_dataset(kaggle_tree, progress=False)
    assert report.chart is None
    md = report.to_markdown()
    assert "| coast | 3 | 1 | 1 | 5 |" in md
    assert "| **total** | 5 | 3 | 2 | 10 |" in md
    assert "`Validation Data/Desert/broken.jpg`" in md
    assert "`Training Data/Coast/c1.jpg`" in md
    assert "Note:" not in md


def test_truncated_jpeg_and_empty_file_are_unreadable(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for cls in ("a", "b"):
        for i in range(2):
            _image(root / "train" / cls / f"{i}.jpg", (20, 20), (i, i, i))
    noisy = Image.effect_noise((200, 100), 40).convert("RGB")
    noisy.save(root / "train" / "a" / "full.jpg")
    full = (root / "train" / "a" / "full.jpg").read_bytes()
    (root / "train" / "a" / "cut.jpg").write_bytes(full[: len(full) // 2])
    (root / "train" / "b" / "empty.jpg").touch()
    report = inspect_dataset(root, progress=False)
    reasons = dict(report.unreadable)
    assert set(reasons) == {"train/a/cut.jpg", "train/b/empty.jpg"}
    assert "truncated" in reasons["train/a/cut.jpg"]
    assert "empty" in reasons["train/b/empty.jpg"]


def test_carved_validation_split_is_noted(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for j, cls in enumerate(("a", "b")):
        for i in range(4):
            _image(root / "train" / cls / f"{i}.png", (8, 8), (i, j, 0))
    report = inspect_dataset(root, progress=False)
    assert report.val_note
    assert sum(report.counts["val"].values()) == 2
    assert report.cross_split_duplicates == []
    assert f"> Note: {report.val_note}" in report.to_markdown()


def test_channel_stats_of_constant_images(tmp_path: Path) -> None:
    root = tmp_path / "train"
    _image(root / "red" / "r.png", (30, 20), (255, 0, 0))
    _image(root / "grey" / "g.png", (10, 40), (51, 51, 51))
    (root / "grey" / "bad.png").write_bytes(b"\x89PNG broken")
    stats = channel_stats(list_class_folder(root), image_size=16, progress=False)
    assert stats.n_images == 2
    assert [Path(p).name for p, _ in stats.skipped] == ["bad.png"]
    # Half the pixels are (1, 0, 0), half (0.2, 0.2, 0.2).
    assert stats.mean == pytest.approx((0.6, 0.1, 0.1))
    assert stats.std == pytest.approx((0.4, 0.1, 0.1))


def test_channel_stats_single_colour_has_zero_std(tmp_path: Path) -> None:
    root = tmp_path / "train"
    for i in range(3):
        _image(root / "sky" / f"{i}.png", (12 + i, 9), (0, 102, 204))
    stats = channel_stats(list_class_folder(root), image_size=8, progress=False)
    assert stats.mean == pytest.approx((0.0, 0.4, 0.8))
    assert stats.std == pytest.approx((0.0, 0.0, 0.0), abs=1e-6)


def test_channel_stats_without_readable_images(tmp_path: Path) -> None:
    root = tmp_path / "train"
    (root / "x").mkdir(parents=True)
    (root / "x" / "a.jpg").write_text("nope")
    with pytest.raises(DataLayoutError, match="no readable images"):
        channel_stats(list_class_folder(root), progress=False)
