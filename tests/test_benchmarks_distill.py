"""benchmarks/bench_distill.py end to end on a tiny generated data set and a tiny run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from landrec import api

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_distill

    return bench_distill


def test_soften_keeps_the_ranking_and_flattens(bench) -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.05, 0.05, 0.9]])
    assert np.allclose(bench.soften(probs, 1.0), probs)
    soft = bench.soften(probs, 3.0)
    assert (soft.argmax(1) == probs.argmax(1)).all()
    assert (soft.max(1) < probs.max(1)).all() and np.allclose(soft.sum(1), 1)
    stats = bench.teacher_stats(probs, np.array([0, 0]))
    assert stats["accuracy"] == 0.5 and stats["true_prob_below_half"] == 0.5
    assert stats["mean_true_prob"] == pytest.approx(0.375)


def test_bench_distill_scores_teachers_and_students(
    bench, make_data: Callable[..., Path], tmp_path: Path, head_only: Callable[..., dict]
) -> None:
    root = make_data(per_class=3)
    options = head_only(tmp_path / "cache", head_epochs=2)
    run = api.train(root, tmp_path / "run", test=False, **options).train.run_dir
    relabels = tmp_path / "relabels.csv"
    first = sorted((root / "test" / "coast").iterdir())[0].relative_to(root)
    relabels.write_text(f"path,given,decision,new_label\n{first},coast,drop,\n")
    bench.main(
        [
            *("--teachers", f"t={run}", "--student", f"s={run}", "--temperature", "1"),
            *("--temperature", "4", "--data", str(root), "--relabels", str(relabels)),
            *("--out-dir", str(tmp_path / "out")),
        ]
    )
    record = json.loads((tmp_path / "out" / "bench_distill.json").read_text())
    teachers, student = record["results"]["teachers"]["t"], record["results"]["students"]["s"]
    assert teachers["train"]["T=1"]["images"] == 9 and teachers["test"]["T=1"]["images"] == 9
    cold, warm = teachers["test"]["T=1"], teachers["test"]["T=4"]
    assert cold["accuracy"] == warm["accuracy"] == student["raw"]["accuracy"]
    assert warm["mean_entropy_nats"] > cold["mean_entropy_nats"]
    assert student["raw"]["images"] == 9 and student["reviewed"]["images"] == 8
    assert student["model"] == "resnet18" and student["teacher"] is None
    assert student["images_per_s"] > 0


def test_write_folds_splits_each_class_evenly(
    bench, make_data: Callable[..., Path], tmp_path: Path
) -> None:
    root = make_data(per_class=5)
    paths = bench.write_folds(root, tmp_path / "folds", 2, seed=0)
    folds = [p.read_text().split() for p in paths]
    every = sorted(str(f.relative_to(root)) for f in (root / "train").rglob("*.jpg"))
    assert sorted(folds[0] + folds[1]) == every and not set(folds[0]) & set(folds[1])
    for name in ("coast", "desert", "forest"):
        assert sorted(sum(f"/{name}/" in p for p in fold) for fold in folds) == [2, 3]


def test_mean_teacher_follows_the_held_out_rule(bench) -> None:
    probs = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.5, 0.5]]])  # teachers a, b
    held = np.array([[False, False], [True, False]])  # b was trained without photo x
    mean = bench.mean_teacher(probs, held, 1.0)
    assert np.allclose(mean, [[0.0, 1.0], [0.25, 0.75]])
