"""Knowledge distillation: trained runs give soft targets ((1 - alpha) * label + alpha * the
teachers' mean probabilities) for the cached training rows; bad teachers are refused first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from landrec import api
from landrec.data.layout import Split, load_splits
from landrec.engine.config import ConfigError, TrainConfig
from landrec.engine.runs import RunFolder
from landrec.engine.training.distill import (
    distill_targets,
    held_out,
    soft_targets,
    teacher_probabilities,
)


@pytest.fixture(scope="module")
def teachers(
    tmp_path_factory: pytest.TempPathFactory,
    dataset_writer: Callable[..., Path],
    head_only: Callable[..., dict],
) -> tuple[Path, list[Path]]:
    """A data set and two head-only runs on it that differ in their seed."""
    base = tmp_path_factory.mktemp("distill")
    root = dataset_writer(base / "data")
    runs = []
    for seed in (0, 1):
        options = head_only(base / "cache", head_epochs=2, seed=seed)
        runs.append(api.train(root, base / f"teacher{seed}", test=False, **options).train.run_dir)
    return root, runs


def _predicted(run: Path, paths: list[Path], classes: list[str]) -> np.ndarray:
    """Each photo's probabilities through the public prediction API, columns in `classes`."""
    rows = api.predict(run, paths, top_k=len(classes), unknown=False, progress=False)
    return np.array([[dict(r.top_k)[c] for c in classes] for r in rows])


def test_soft_targets_mix_the_label_and_keep_unreadable_rows_one_hot() -> None:
    teacher = np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    mixed = soft_targets(torch.tensor([0, 2]), teacher, np.array([True, False]), alpha=0.25)
    assert torch.allclose(mixed[0], torch.tensor([0.8, 0.125, 0.075]))
    assert torch.equal(mixed[1], torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(mixed.sum(1), torch.ones(2))


def test_teachers_are_averaged_in_the_data_classes_order(teachers: tuple[Path, list[Path]]) -> None:
    root, runs = teachers
    paths, _ = load_splits(root).get(Split.TRAIN).paths_labels()
    classes = ["forest", "coast", "desert"]  # not the runs' (sorted) order
    expected = (_predicted(runs[0], paths, classes) + _predicted(runs[1], paths, classes)) / 2
    probs, readable = teacher_probabilities(runs, paths, classes)
    assert readable.all()
    assert np.allclose(probs, expected, atol=1e-5)
    assert not np.allclose(_predicted(runs[0], paths, classes), expected, atol=1e-3)


def test_targets_follow_the_cached_rows(teachers: tuple[Path, list[Path]]) -> None:
    root, runs = teachers
    data = load_splits(root)
    paths, labels = data.get(Split.TRAIN).paths_labels()
    keep = [5, 0, 9]  # rows of the cache: positions in the train split
    config = TrainConfig(teacher=f"{runs[0]}, {runs[1]}", distill_alpha=0.4)
    targets = distill_targets(config, data, torch.tensor([labels[i] for i in keep]), keep)
    teacher = (
        _predicted(runs[0], paths, data.classes) + _predicted(runs[1], paths, data.classes)
    ) / 2
    for row, i in enumerate(keep):
        onehot = np.eye(len(data.classes))[labels[i]]
        assert np.allclose(targets[row].numpy(), 0.6 * onehot + 0.4 * teacher[i], atol=1e-5)


def test_alpha_zero_trains_as_without_a_teacher_and_alpha_one_differs(
    teachers: tuple[Path, list[Path]], tmp_path: Path, head_only: Callable[..., dict]
) -> None:
    root, runs = teachers
    options = head_only(tmp_path / "cache", head_epochs=2)
    plain = api.train(root, tmp_path / "plain", test=False, **options).train.history
    zero = api.train(
        root, tmp_path / "zero", test=False, teacher=str(runs[0]), distill_alpha=0.0, **options
    ).train.history
    one = api.train(
        root, tmp_path / "one", test=False, teacher=str(runs[0]), distill_alpha=1.0, **options
    )
    for a, b in zip(plain, zero, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-5)
    assert one.train.history[0]["train_loss"] != pytest.approx(plain[0]["train_loss"], abs=1e-3)
    saved = RunFolder(tmp_path / "one").config.read_text()
    assert f"teacher: {runs[0]}" in saved and "distill_alpha: 1.0" in saved


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"teacher": "{missing}"}, "teacher: {missing}"),
        ({"teacher": " , "}, "names no run"),
        ({"teacher": "{run}", "cache": False}, "cache: true"),
    ],
)
def test_bad_teachers_are_refused_before_anything_is_written(
    teachers: tuple[Path, list[Path]],
    tmp_path: Path,
    head_only: Callable[..., dict],
    change: dict,
    message: str,
) -> None:
    root, runs = teachers
    names = {"missing": str(tmp_path / "nope"), "run": str(runs[0])}
    options = head_only(tmp_path / "cache") | {
        k: v.format(**names) if isinstance(v, str) else v for k, v in change.items()
    }
    with pytest.raises(ConfigError, match=message.format(**names)):
        api.train(root, tmp_path / "student", test=False, **options)
    assert not (tmp_path / "student").exists()


def test_a_teacher_of_other_classes_is_refused(
    teachers: tuple[Path, list[Path]],
    make_data: Callable[..., Path],
    tmp_path: Path,
    head_only: Callable[..., dict],
) -> None:
    _, runs = teachers
    other = make_data(classes=("coast", "desert", "glacier"))
    with pytest.raises(ConfigError, match=r"knows \['coast', 'desert', 'forest'\]"):
        api.train(other, tmp_path / "s", test=False, teacher=str(runs[0]), **head_only(tmp_path))
    assert not (tmp_path / "s").exists()


def test_out_of_fold_teachers_alone_speak_for_the_photos_they_held_out(
    teachers: tuple[Path, list[Path]], tmp_path: Path, head_only: Callable[..., dict]
) -> None:
    root, runs = teachers
    data = load_splits(root)
    paths, _ = data.get(Split.TRAIN).paths_labels()
    fold = tmp_path / "fold.txt"
    fold.write_text("\n".join(str(p.relative_to(root)) for p in paths[:4]) + "\n")
    options = head_only(tmp_path / "cache", head_epochs=2, seed=2)
    oof = api.train(root, tmp_path / "oof", test=False, exclude=str(fold), **options).train.run_dir
    resolved = {p.resolve() for p in paths}
    assert held_out(oof, root) & resolved == {p.resolve() for p in paths[:4]}
    assert not held_out(runs[0], root)

    all_runs = [runs[0], oof]
    probs, readable = teacher_probabilities(
        all_runs, paths, data.classes, held=[held_out(r, root) for r in all_runs]
    )
    alone = _predicted(oof, paths, data.classes)
    mean = (_predicted(runs[0], paths, data.classes) + alone) / 2
    assert readable.all()
    assert np.allclose(probs[:4], alone[:4], atol=1e-5)
    assert np.allclose(probs[4:], mean[4:], atol=1e-5)

    fold.unlink()  # the teacher's list is gone: refused before a student run writes anything
    with pytest.raises(ConfigError, match="was trained without"):
        api.train(root, tmp_path / "s", test=False, teacher=str(oof), **options)
    assert not (tmp_path / "s").exists()
