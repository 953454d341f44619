"""Which weights become `best` (issue 29): the val accuracy by default, each view weighing the
same (`select`), or the loss; and the mean of the last stage's last epochs (`average_epochs`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from landrec import api
from landrec.engine.checkpoint import load_checkpoint, read_meta
from landrec.engine.loop import view_balanced
from landrec.engine.runs import RunFolder
from landrec.engine.training.train import WeightAverage


def test_view_balanced_weighs_each_view_the_same() -> None:
    # 2 views x 2 classes, targets view-major: 0,1 ground; 2,3 overhead
    joint = torch.tensor(
        [
            [5.0, 0, 0, 0],  # ground/0: right
            [5.0, 0, 0, 0],  # ground/1 taken for ground/0: wrong
            [0, 0, 5.0, 0],  # overhead/0: right
            [0, 0, 5.0, 0],  # overhead/0: right
            [0, 0, 0, 5.0],  # overhead/1: right
            [0, 0, 0, 5.0],  # overhead/1: right
        ]
    )
    targets = torch.tensor([0, 1, 2, 2, 3, 3])
    assert view_balanced(joint, targets, 2) == pytest.approx((0.5 + 1.0) / 2)
    assert view_balanced(joint, targets, 1) == pytest.approx(5 / 6)  # plain accuracy
    wrong_view = torch.tensor([[0, 0, 5.0, 0]])  # the right class, the wrong view
    assert view_balanced(wrong_view, torch.tensor([0]), 2) == 0.0


def test_weight_average_is_the_mean_and_survives_a_resume() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    seen = []
    average = WeightAverage()
    for k in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float(k))
        seen.append({n: v.clone() for n, v in model.state_dict().items()})
        average.add(model)
        if k == 1:  # a resume mid-way: the sum and count come back from the state
            average = WeightAverage.restore(average.state())
    average.load_into(model)
    state = model.state_dict()
    assert torch.allclose(state["0.weight"], torch.full((2, 2), 1.0))  # (0 + 1 + 2) / 3
    assert state["1.num_batches_tracked"].dtype == torch.long  # integers kept as they are
    assert average.count == 3 and WeightAverage.restore(None).count == 0


@pytest.fixture
def data(make_data: Callable[..., Path]) -> Path:
    return make_data(per_class=4)


def _run(data: Path, out: Path, head_only: Callable[..., dict], **overrides: object):
    options = head_only(out / "cache", model="resnet18", finetune_epochs=4, head_epochs=2)
    return api.train(data, out / "run", **{**options, **overrides})


def test_best_is_the_most_accurate_epoch_by_default(
    data: Path, tmp_path: Path, head_only: Callable[..., dict]
) -> None:
    result = _run(data, tmp_path, head_only, average_epochs=0, label_smoothing=0.3)
    history = result.train.history
    first_best = max(range(len(history)), key=lambda i: (history[i]["val_accuracy"], -i))
    meta = read_meta(result.train.checkpoint)
    assert (meta.extra["stage"], meta.extra["epoch"]) == (
        history[first_best]["stage"],
        history[first_best]["epoch"],
    )
    by_loss = _run(data, tmp_path / "loss", head_only, average_epochs=0, select="loss")
    rows = by_loss.train.history
    lowest = min(range(len(rows)), key=lambda i: rows[i]["val_loss"])
    meta = read_meta(by_loss.train.checkpoint)
    assert (meta.extra["stage"], meta.extra["epoch"]) == (
        rows[lowest]["stage"],
        rows[lowest]["epoch"],
    )


def test_the_last_epochs_mean_is_scored_and_kept_when_as_good(
    data: Path, tmp_path: Path, head_only: Callable[..., dict]
) -> None:
    result = _run(data, tmp_path, head_only, average_epochs=3, select="loss")
    run = RunFolder(result.train.run_dir)
    assert len(result.train.history) == 6  # 2 + 4 epochs: the mean adds no epoch row
    [note] = [n for n in result.train.notes if "epochs' weights" in n]
    assert note.startswith("the mean of finetune's last 3 epochs' weights: val accuracy ")
    meta = read_meta(run.best)
    kept = "averaged_epochs" in meta.extra
    assert ("kept as best" in note) == kept
    # `last` keeps the last epoch's weights, not the mean
    last, _ = load_checkpoint(run.last)
    best, _ = load_checkpoint(run.best)
    pairs = zip(last.state_dict().values(), best.state_dict().values(), strict=True)
    differs = any(not torch.equal(a, b) for a, b in pairs)
    if kept:
        assert differs and meta.extra["averaged_epochs"] == 3
    elif (meta.extra["stage"], meta.extra["epoch"]) == ("finetune", 4):
        assert not differs
