"""landrec data audit (label errors, near-duplicates) and landrec train --exclude."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import COLOURS, write_image
from landrec import api
from landrec.cli.main import main
from landrec.data.layout import Split, load_splits
from landrec.engine.config import ConfigError, TrainConfig
from landrec.engine.experiments.audit import class_thresholds, find_suspects, near_duplicates
from landrec.engine.training.exclude import apply_exclusions, read_exclusions

SUMMARY_KEYS = {
    "models",
    "folds",
    "weights",
    "images",
    "probe_accuracy",
    "probe_accuracy_by_split",
    "thresholds",
    "suspects",
    "suspects_by_split",
    "counts",
    "duplicates",
    "cross_split_duplicates",
    "duplicate_threshold",
    "skipped",
    "files",
    "seconds",
}


@pytest.fixture(scope="module")
def audited(
    tmp_path_factory: pytest.TempPathFactory, dataset_writer: Callable[..., Path]
) -> tuple[Path, Path, dict]:
    """A three-class set with a desert-coloured image filed as coast, a test file copied into
    train and a truncated JPEG, audited once through the CLI with --json."""
    base = tmp_path_factory.mktemp("audit")
    root = dataset_writer(base / "data", per_class=5, corrupt=True)
    write_image(root / "train" / "coast" / "odd.jpg", COLOURS["desert"], seed=4242)
    shutil.copy(root / "test" / "forest" / "forest_0.jpg", root / "train" / "forest" / "copy.jpg")
    out = base / "audit"
    argv = ["data", "audit", str(root), "--out", str(out), "--json", "--folds", "3"]
    argv += ["--models", "resnet18", "--weights", "none", "--image-size", "32", "--workers", "0"]
    argv += ["--cache-dir", str(base / "cache"), "--duplicate-threshold", "0.9999"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # a module-scoped fixture has no capsys
        assert main(argv) == 0
    return root, out, json.loads(printed.getvalue())


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_the_mislabelled_image_is_the_first_suspect(audited: tuple[Path, Path, dict]) -> None:
    root, out, _ = audited
    rows = _rows(out / "suspects.csv")
    first = rows[0]
    assert Path(first["path"]) == root / "train" / "coast" / "odd.jpg"
    assert (first["split"], first["given"], first["suggested"], first["rank"]) == (
        "train",
        "coast",
        "desert",
        "1",
    )
    assert float(first["p_suggested"]) > float(first["p_given"])
    assert float(first["margin"]) == pytest.approx(
        float(first["p_suggested"]) - float(first["p_given"]), abs=2e-4
    )


def test_a_copied_file_is_a_cross_split_near_duplicate(audited: tuple[Path, Path, dict]) -> None:
    root, out, summary = audited
    pairs = {
        frozenset((Path(r["path_a"]), Path(r["path_b"]))): r for r in _rows(out / "duplicates.csv")
    }
    pair = frozenset(
        (root / "test" / "forest" / "forest_0.jpg", root / "train" / "forest" / "copy.jpg")
    )
    assert pair in pairs
    assert {pairs[pair]["split_a"], pairs[pair]["split_b"]} == {"train", "test"}
    assert float(pairs[pair]["similarity"]) > 0.9999
    assert summary["cross_split_duplicates"] >= 1


def test_json_summary_schema_and_files(audited: tuple[Path, Path, dict]) -> None:
    _, out, summary = audited
    assert set(summary) >= SUMMARY_KEYS
    assert summary["images"] == 3 * 5 * 3 + 2  # + odd.jpg and copy.jpg; truncated skipped
    assert [Path(s["path"]).name for s in summary["skipped"]] == ["empty.jpg", "truncated.jpg"]
    assert 0.0 <= summary["probe_accuracy"] <= 1.0
    assert set(summary["counts"]) == {"train", "val", "test"}
    assert summary["counts"]["train"]["coast"]["images"] == 6
    assert sum(summary["suspects_by_split"].values()) == summary["suspects"]
    assert set(summary["thresholds"]) == {"coast", "desert", "forest"}
    names = {Path(p).name for p in summary["files"]}
    assert names == {
        "suspects.csv",
        "duplicates.csv",
        "summary.json",
        "suspects_coast.png",
        "suspects_desert.png",
        "suspects_forest.png",
    }
    assert all(Path(p).is_file() for p in summary["files"])
    assert json.loads((out / "summary.json").read_text()) == summary


def test_confident_learning_flags_off_diagonal_only() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.65, 0.35]])
    thresholds = class_thresholds(probs, labels)
    assert thresholds == pytest.approx([0.6, (0.8 + 0.7 + 0.35) / 3])
    # image 2 (label 0, p0 0.1) and image 5 (label 1: p1 0.35 below its threshold, p0 0.65 above)
    assert [(i, k) for i, k, _ in find_suspects(probs, labels, thresholds)] == [(2, 1), (5, 0)]


def test_near_duplicates_compares_directions() -> None:
    x = np.array([[1.0, 0.0], [2.0, 0.01], [0.0, 1.0]])
    assert [(i, j) for i, j, _ in near_duplicates(x, 0.97, chunk=1)] == [(0, 1)]


def _write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_exclude_reads_text_lists_and_suspects_csv(tmp_path: Path) -> None:
    text = _write_list(tmp_path / "list.txt", ["# reviewed", "", "a/b.jpg", " c.jpg "])
    assert read_exclusions(text) == ["a/b.jpg", "c.jpg"]
    table = _write_list(tmp_path / "s.csv", ["path,split,given", "x/y.jpg,train,coast"])
    assert read_exclusions(table) == ["x/y.jpg"]


def test_exclude_keeps_test_unless_exclude_eval(
    make_data: Callable[..., Path], tmp_path: Path
) -> None:
    root = make_data()
    listed = _write_list(
        tmp_path / "x.txt",
        ["train/coast/coast_0.jpg", str(root / "test" / "desert" / "desert_1.jpg"), "nope.jpg"],
    )
    data = load_splits(root)
    exclusion = apply_exclusions(data, TrainConfig(exclude=str(listed)))
    assert exclusion.removed == {"train": 1}
    assert len(data.get(Split.TEST).samples) == 12
    assert exclusion.note() == (
        f"excluded 1 files listed in {listed} (1 from train); "
        "1 listed val/test files kept (exclude_eval is off); 1 listed paths matched no file"
    )
    data = load_splits(root)
    both = apply_exclusions(data, TrainConfig(exclude=str(listed), exclude_eval=True))
    assert both.removed == {"train": 1, "val": 0, "test": 1}
    assert len(data.get(Split.TEST).samples) == 11
    assert "(1 from train, 1 from test); 1 listed paths" in both.note()


def test_train_exclude_drops_one_training_file(
    make_data: Callable[..., Path], tmp_path: Path, head_only: Callable[..., dict]
) -> None:
    root = make_data()
    listed = _write_list(tmp_path / "x.txt", [str(root / "train" / "forest" / "forest_2.jpg")])
    options = head_only(tmp_path / "cache", head_epochs=1)
    result = api.train(root, tmp_path / "run", test=False, exclude=str(listed), **options)
    assert result.train.images == {"train": 11, "val": 12, "test": 12}
    assert result.train.excluded == 1
    assert any("excluded 1 files" in note for note in result.train.notes)


def test_exclude_of_a_missing_list_is_a_config_error(
    make_data: Callable[..., Path], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="exclude"):
        apply_exclusions(load_splits(make_data()), TrainConfig(exclude=str(tmp_path / "no.txt")))
