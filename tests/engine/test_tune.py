"""Optuna tuning of the head stage on tiny images: best config, resuming from SQLite, pruning
through the trainer's per-epoch hook; the `study` and `tune` commands end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from landrec import api
from landrec.cli.main import main
from landrec.engine.config import TrainConfig, apply_overrides
from landrec.engine.experiments import tune as tune_module
from landrec.engine.runs import RunFolder
from landrec.engine.training.train import train

optuna = pytest.importorskip("optuna")

TUNE = {"model": "resnet18", "head_epochs": 2, "lr": 0.01}


def _count_trials(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    original = tune_module.train

    def counting(data: Path, run_dir: Path, *args: object, **kwargs: object) -> object:
        calls.append(run_dir)
        return original(data, run_dir, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tune_module, "train", counting)
    return calls


def test_tune_writes_best_config_and_continues_from_sqlite(
    make_data, tmp_path: Path, tiny: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, out = make_data(), tmp_path / "tune"
    calls = _count_trials(monkeypatch)
    first = api.tune(data, out, trials=2, **{**tiny, **TUNE})
    assert (first.finished, first.ran, len(calls)) == (2, 2, 2)
    assert (out / "tune.db").is_file()
    config = apply_overrides(TrainConfig(), yaml.safe_load(first.best_config.read_text()))
    assert config.finetune_epochs == 0 and config.model == "resnet18"
    assert config.head_lr == pytest.approx(first.best_params["head_lr"])
    assert config.batch_size == first.best_params["batch_size"]

    second = api.tune(data, out, trials=3, **{**tiny, **TUNE})
    assert (second.finished, second.ran, len(calls)) == (3, 1, 3)
    study = optuna.load_study(study_name="tune-resnet18", storage=second.storage)
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert calls[-1].name == "trial-002"
    params = [t.params for t in study.trials]
    assert params[2] not in params[:2]  # the continued sampler does not replay trial 0
    assert api.tune(data, out, trials=3, **{**tiny, **TUNE}).ran == 0


def test_a_pruned_trial_stops_training_and_counts(
    make_data, tmp_path: Path, tiny: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(optuna.trial.Trial, "should_prune", lambda self: self.number == 1)
    result = api.tune(make_data(), tmp_path / "t", trials=2, **{**tiny, **TUNE})
    study = optuna.load_study(study_name="tune-resnet18", storage=result.storage)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED]
    assert result.finished == 2 and result.best_trial == 0
    pruned = RunFolder(tmp_path / "t" / "trials" / "trial-001").history
    assert len(pruned.read_text().splitlines()) == 2  # header + the one epoch before pruning


def test_on_epoch_sees_every_row_and_what_it_raises_propagates(
    make_data, tmp_path: Path, tiny: dict
) -> None:
    data, config = make_data(), apply_overrides(TrainConfig(), {**tiny, "head_epochs": 2})
    rows: list[dict] = []

    def stop_after_first(row: dict) -> None:
        rows.append(row)
        raise KeyError("stop")

    with pytest.raises(KeyError, match="stop"):
        train(data, tmp_path / "run", config, on_epoch=stop_after_first)
    assert [r["epoch"] for r in rows] == [1]
    assert RunFolder(tmp_path / "run").state.is_file()  # saved before the hook: resumable
    result = train(data, tmp_path / "run", config, resume=True, on_epoch=rows.append)
    assert [(r["stage"], r["epoch"]) for r in rows[1:]] == [("head", 2), ("finetune", 1)]
    assert len(result.history) == 3


def test_study_and_tune_commands(make_data, tmp_path: Path, tiny: dict, capsys) -> None:
    data = make_data()
    study = tmp_path / "s.yaml"
    base = {k: v for k, v in tiny.items() if k != "cache_dir"}
    experiments = [{"name": "head", "finalist": True, "finetune_epochs": 0}]
    study.write_text(yaml.safe_dump({"base": base, "experiments": experiments}))
    assert main(["study", str(study), "--data", str(data), "--out", str(tmp_path / "s")]) == 0
    assert "report:" in capsys.readouterr().out
    assert (tmp_path / "s" / "report.html").is_file()
    assert not (tmp_path / "s" / "mlflow.db").exists()  # LANDREC_TRACKING=0 in the tests
    args = ["tune", str(data), "--trials", "1", "--out", str(tmp_path / "t"), "--model", "resnet18"]
    args += ["--weights", "none", "--image-size", "32", "--head-epochs", "1", "--workers", "0"]
    args += ["--augment", "none", "--no-bf16", "--no-tracking"]
    assert main(args) == 0
    assert "best: trial 0" in capsys.readouterr().out
    assert (tmp_path / "t" / "best_config.yaml").is_file()
