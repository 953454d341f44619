"""Training through the API: `train`, `tune`, `study` and the configuration they take."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from landrec.engine.config import (
    TrainConfig,
    apply_overrides,
    config_to_dict,
    load_yaml,
    resolve_config,
)
from landrec.engine.runs import RunFolder

if TYPE_CHECKING:
    from landrec.engine.evaluation.calibrate import CalibrationResult
    from landrec.engine.evaluation.evaluate import EvalResult
    from landrec.engine.experiments.study import StudyResult
    from landrec.engine.experiments.study_report import ExperimentResult
    from landrec.engine.experiments.tune import TuneResult
    from landrec.engine.training.train import TrainResult


def _resolve(config: TrainConfig | str | Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """A config object, a YAML path or the defaults, then keyword overrides."""
    if isinstance(config, TrainConfig):
        return apply_overrides(config, overrides)
    return resolve_config(config, overrides)


@dataclass
class TrainAndTest:
    train: TrainResult
    test: EvalResult | None
    calibration: CalibrationResult | None = None  # `calibrate` (on by default), before the test


def train(
    data: str | Path,
    out: str | Path,
    config: TrainConfig | str | Path | None = None,
    resume: bool = False,
    test: bool = True,
    tracking: bool | str = False,
    **overrides: Any,
) -> TrainAndTest:
    """Train (config object, YAML path or defaults, then keyword overrides), then test the best
    checkpoint on the test split when there is one. `resume` continues the run in `out`;
    `tracking` logs to MLflow (True: a local store in `out`; or a tracking URI)."""
    from landrec.engine.training.resume import preflight  # no torch: refusals are quick

    saved = RunFolder(out).config
    if resume and saved.is_file() and config is None:
        config = saved
    resolved = _resolve(config, overrides)
    run = Path(out)
    preflight(data, run, resolved, resume)  # refused runs fail before the tracker writes
    from landrec.engine.experiments.tracking import log_run_folder, open_tracker
    from landrec.engine.training.feature_eval import evaluate_on_test
    from landrec.engine.training.train import train as _train

    with open_tracker(tracking, run, "landrec-train", run.name, run, resume) as tracker:
        tracker.log_params(config_to_dict(resolved))
        result = _train(data, out, resolved, resume=resume, on_epoch=tracker.on_epoch)
        calibrated = _calibrate(result, data, resolved)
        tested = None
        if test:
            try:
                tested = evaluate_on_test(result.checkpoint, data, resolved)
            except ValueError as exc:  # no test split: training still succeeded
                result.notes.append(f"no test evaluation: {exc}")
        log_run_folder(tracker, result.run_dir, _summary_metrics(result, tested))
    return TrainAndTest(result, tested, calibrated)


def _calibrate(
    result: TrainResult, data: str | Path, config: TrainConfig
) -> CalibrationResult | None:
    """The run's calibration (`config.calibrate`): temperature and threshold on val, the data's
    out-of-class folders joining; a failure is a note, the trained run stands."""
    if not config.calibrate:
        return None
    from landrec.engine.evaluation.calibrate import calibrate as _calibrate_run

    try:
        return _calibrate_run(
            result.checkpoint, data, "val", config.target_accuracy, batch_size=config.batch_size
        )
    except ValueError as exc:  # e.g. no readable val image
        result.notes.append(f"not calibrated: {exc}")
        return None


def _summary_metrics(result: TrainResult, tested: EvalResult | None) -> dict[str, Any]:
    best = max((h["val_accuracy"] for h in result.history), default=None)
    metrics = {"best_val_accuracy": best, "train_seconds": result.seconds}
    if tested is not None:
        metrics |= {"test_accuracy": tested.accuracy, "test_macro_f1": tested.macro_f1}
    return metrics


def load_config(path: str | Path) -> TrainConfig:
    return apply_overrides(TrainConfig(), load_yaml(path))


def study(
    study_file: str | Path, data: str | Path, out: str | Path, tracking: bool | str = False
) -> StudyResult:
    """Run (or continue) a comparison study: each experiment of the YAML file into
    out/runs/<name>, then report.md, report.html and best_config.yaml in `out`."""
    from landrec.engine.experiments.study import run_study

    return run_study(study_file, data, out, tracking)


def study_table_row(result: ExperimentResult) -> list[str]:
    """The cells of one experiment in a study's table (as `landrec study` prints it)."""
    from landrec.engine.experiments.study_report import table_row

    return table_row(result)


def tune(
    data: str | Path,
    out: str | Path,
    trials: int = 20,
    config: TrainConfig | str | Path | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    tracking: bool | str = False,
    **overrides: Any,
) -> TuneResult:
    """Optuna search of the head stage's head_lr, weight decay, dropout and batch size until the
    study (SQLite in `out` unless `storage`) holds `trials` finished trials."""
    from landrec.engine.experiments.tune import tune as _tune

    return _tune(data, out, _resolve(config, overrides), trials, storage, study_name, tracking)
