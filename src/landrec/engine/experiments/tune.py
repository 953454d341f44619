"""landrec tune: Optuna search over the head stage's head_lr, weight decay, dropout, batch size.

Trials train only the head (finetune_epochs=0) from one shared feature cache, so after the
first trial none decodes an image. TPE proposes values; the median pruner stops a trial whose
val accuracy at an epoch falls below the median of earlier trials at that epoch. The study
lives in SQLite storage: a second call continues it, up to `trials` finished trials in all.
One process per study: trials left running by an interrupted call are marked failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from landrec.data.errors import UserError
from landrec.engine.config import TrainConfig, apply_overrides, config_to_dict
from landrec.engine.experiments.tracking import TrackingOption, log_run_folder, open_tracker
from landrec.engine.training.train import train

BEST_CONFIG = "best_config.yaml"
BATCH_SIZES = (16, 32, 64, 128)


class MissingDependencyError(UserError, RuntimeError):
    """An optional package is needed; the message says which and how to install it."""


@dataclass
class TuneResult:
    study_name: str
    storage: str
    best_trial: int
    best_value: float  # best val accuracy of the best trial
    best_params: dict[str, Any]
    finished: int  # complete or pruned trials in the study
    ran: int  # trials run by this call
    best_config: Path
    out: Path


def suggest(trial: Any, base: TrainConfig) -> TrainConfig:
    """The search space (head stage only)."""
    return apply_overrides(
        base,
        {
            "head_lr": trial.suggest_float("head_lr", 1e-4, 1e-1, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.6),
            "batch_size": trial.suggest_categorical("batch_size", BATCH_SIZES),
            "finetune_epochs": 0,
        },
    )


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError(
            "landrec tune needs optuna: pip install 'landrec[tune]'"
        ) from None
    return optuna


def _objective(
    optuna: Any, data: Path, out: Path, base: TrainConfig, tracking: TrackingOption, name: str
) -> Callable[[Any], float]:
    def objective(trial: Any) -> float:
        config = suggest(trial, base)
        run_dir = out / "trials" / f"trial-{trial.number:03d}"
        trial.set_user_attr("run_dir", str(run_dir))
        with open_tracker(tracking, out, f"landrec-tune-{name}", run_dir.name) as tracker:
            tracker.log_params({**config_to_dict(config), "trial": trial.number})

            def on_epoch(row: dict) -> None:
                tracker.on_epoch(row)
                trial.report(row["val_accuracy"], row["epoch"])
                if trial.should_prune():
                    tracker.pruned = True
                    raise optuna.TrialPruned(f"val accuracy {row['val_accuracy']:.4f}")

            result = train(data, run_dir, config, on_epoch=on_epoch)
            best = max(h["val_accuracy"] for h in result.history)
            log_run_folder(tracker, run_dir, {"best_val_accuracy": best})
        return best

    return objective


def _finished(optuna: Any, study: Any) -> int:
    states = optuna.trial.TrialState
    return len(study.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED)))


def _open_study(optuna: Any, name: str, storage: str, seed: int) -> tuple[Any, int]:
    """The study (created or continued) and how many of its trials have finished."""
    states = optuna.trial.TrialState
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )
    for stale in study.get_trials(deepcopy=False, states=(states.RUNNING,)):
        study.tell(stale.number, state=states.FAIL)  # left by an interrupted call
    finished = _finished(optuna, study)
    # A new seed per call, so a continued study does not repeat its first random proposals.
    study.sampler = optuna.samplers.TPESampler(seed=seed + finished)
    return study, finished


def tune(
    data: str | Path,
    out: str | Path,
    base: TrainConfig,
    trials: int,
    storage: str | None = None,
    study_name: str | None = None,
    tracking: TrackingOption = False,
) -> TuneResult:
    """Run (or continue) the search until the study holds `trials` finished trials; write the
    best trial's config to out/best_config.yaml."""
    optuna = _import_optuna()
    out, data = Path(out), Path(data)
    out.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(out / 'tune.db').resolve()}"
    name = study_name or f"tune-{base.model}"
    study, finished = _open_study(optuna, name, storage, base.seed)
    cached = apply_overrides(base, {"cache_dir": base.cache_dir or str(out / "cache")})
    todo = max(0, trials - finished)
    if todo:
        study.optimize(_objective(optuna, data, out, cached, tracking, name), n_trials=todo)
    finished = _finished(optuna, study)
    best = study.best_trial
    path = out / BEST_CONFIG
    header = (
        f"# Best of {finished} finished trials of Optuna study '{name}': trial {best.number}, "
        f"val accuracy {best.value:.4f} (head stage only: finetune_epochs was 0).\n"
    )
    config = suggest(optuna.trial.FixedTrial(best.params), base)
    path.write_text(header + yaml.safe_dump(config_to_dict(config), sort_keys=False))
    return TuneResult(
        name, storage, best.number, float(best.value), dict(best.params), finished, todo, path, out
    )
