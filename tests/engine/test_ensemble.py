"""Several runs as one classifier: `predict RUN_A,RUN_B` averages the members' probabilities."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from landrec import api
from landrec.data.layout import Split, load_splits
from landrec.engine.checkpoint import CheckpointError
from landrec.engine.inference.classifier import load_classifier
from landrec.engine.inference.ensemble import load_models


@pytest.fixture(scope="module")
def members(
    tmp_path_factory: pytest.TempPathFactory,
    dataset_writer: Callable[..., Path],
    head_only: Callable[..., dict],
) -> tuple[list[Path], dict[str, Path]]:
    """Test photos and three head-only runs: seeds 0 and 1 at 32 px, seed 2 at 40 px."""
    base = tmp_path_factory.mktemp("ensemble")
    root = dataset_writer(base / "data")
    runs = {}
    for name, seed, size in (("a", 0, 32), ("b", 1, 32), ("wide", 2, 40)):
        options = head_only(base / "cache", head_epochs=2, seed=seed, image_size=size)
        runs[name] = api.train(root, base / name, test=False, **options).train.run_dir
    paths, _ = load_splits(root).get(Split.TEST).paths_labels()
    return paths, runs


def _probs(model: str | Path, paths: list[Path], classes: list[str]) -> np.ndarray:
    rows = api.predict(model, paths, top_k=len(classes), unknown=False)
    return np.array([[dict(r.top_k)[c] for c in classes] for r in rows])


def test_an_ensemble_of_same_size_runs_is_the_mean_of_their_probabilities(
    members: tuple[list[Path], dict[str, Path]],
) -> None:
    paths, runs = members
    classes = load_classifier(runs["a"]).classes
    mean = (_probs(runs["a"], paths, classes) + _probs(runs["b"], paths, classes)) / 2
    both = _probs(f"{runs['a']},{runs['b']}", paths, classes)
    assert np.allclose(both, mean, atol=1e-5)
    assert not np.allclose(mean, _probs(runs["a"], paths, classes), atol=1e-3)
    rows = api.predict(f"{runs['a']},{runs['b']}", paths, top_k=1, unknown=False)
    assert [r.label for r in rows] == [classes[i] for i in mean.argmax(1)]


def test_members_of_other_input_sizes_get_their_own_size(
    members: tuple[list[Path], dict[str, Path]],
) -> None:
    paths, runs = members
    ensemble = load_models(f"{runs['a']}, {runs['wide']}")
    assert ensemble.preprocessing.input_size == 40 and ensemble.source.startswith("ensemble of")
    classes = ensemble.classes
    both = _probs(f"{runs['a']},{runs['wide']}", paths, classes)
    mean = (_probs(runs["a"], paths, classes) + _probs(runs["wide"], paths, classes)) / 2
    assert np.allclose(both.sum(1), 1, atol=1e-6)
    # the 32 px member sees the 40 px decode resized, not its own decode: close, not equal
    assert np.abs(both - mean).max() < 0.01


def test_an_ensemble_of_other_class_sets_is_refused(
    members: tuple[list[Path], dict[str, Path]],
    make_data: Callable[..., Path],
    tmp_path: Path,
    head_only: Callable[..., dict],
) -> None:
    _, runs = members
    other = make_data(classes=("coast", "glacier", "forest"))
    run = api.train(other, tmp_path / "o", test=False, **head_only(tmp_path, head_epochs=1))
    with pytest.raises(CheckpointError, match=r"ensemble: .* knows"):
        load_models(f"{runs['a']},{run.train.run_dir}")
