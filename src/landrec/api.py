"""The Python API, mirroring the CLI: `landrec.train`, `landrec.evaluate`, `landrec.predict`, ...

It is the one gateway to the engine: the CLI (and the archive service) call these functions and
use the result types and errors re-exported here, never engine modules directly.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Cheap imports only (no torch): the CLI's --help, `landrec models` and option errors answer at
# once; each function imports the engine modules it runs.
from landrec.engine.config import CONFIG_ALIASES as CONFIG_ALIASES
from landrec.engine.config import (
    CONFIG_FILE,
    TrainConfig,
    apply_overrides,
    config_to_dict,
    load_yaml,
    resolve_config,
)
from landrec.engine.experiments.tracking import cli_default
from landrec.models.catalog import model_table

if TYPE_CHECKING:
    from landrec.data.inspect import ChannelStats, InspectReport
    from landrec.engine.evaluation.calibrate import CalibrationResult as CalibrationResult
    from landrec.engine.evaluation.calibrate import calibrate as calibrate
    from landrec.engine.evaluation.calibrate import rejection_report as rejection_report
    from landrec.engine.evaluation.evaluate import EvalResult
    from landrec.engine.evaluation.evaluate import to_markdown as to_markdown
    from landrec.engine.evaluation.untrained import evaluate_untrained as evaluate_untrained
    from landrec.engine.experiments.audit import audit as audit
    from landrec.engine.experiments.audit_report import AuditOptions as AuditOptions
    from landrec.engine.experiments.audit_report import AuditResult as AuditResult
    from landrec.engine.experiments.study import StudyResult
    from landrec.engine.experiments.tune import TuneResult
    from landrec.engine.inference.explain import ExplainResult
    from landrec.engine.inference.export import ExportResult
    from landrec.engine.inference.video import VideoOptions as VideoOptions
    from landrec.engine.runtime import tune_allocator as tune_allocator
    from landrec.engine.training.train import TrainResult

from landrec.api_media import (
    MediaPredictions as MediaPredictions,
)
from landrec.api_media import has_videos as has_videos
from landrec.api_media import predict as predict
from landrec.api_media import predict_media as predict_media

tracking_default = cli_default  # whether the CLI tracks when no tracking option is given

# Names this module re-exports, imported on first use (`api.VideoOptions`, `from landrec.api
# import EvalResult`): name -> "module:attribute".
_LAZY = {
    "AuditOptions": "landrec.engine.experiments.audit_report:AuditOptions",
    "AuditResult": "landrec.engine.experiments.audit_report:AuditResult",
    "audit": "landrec.engine.experiments.audit:audit",  # landrec data audit
    "CalibrationResult": "landrec.engine.evaluation.calibrate:CalibrationResult",
    "ChannelStats": "landrec.data.inspect:ChannelStats",
    "EvalResult": "landrec.engine.evaluation.evaluate:EvalResult",
    "ExplainResult": "landrec.engine.inference.explain:ExplainResult",
    "ExportResult": "landrec.engine.inference.export:ExportResult",
    "InspectReport": "landrec.data.inspect:InspectReport",
    "NOT_FOUND": "landrec.data.sniff:NOT_FOUND",
    "Prediction": "landrec.engine.inference.predict:Prediction",
    "SKIPPED_CSV": "landrec.engine.training.skipped:SKIPPED_CSV",
    "StudyResult": "landrec.engine.experiments.study:StudyResult",
    "TrainResult": "landrec.engine.training.train:TrainResult",
    "TuneResult": "landrec.engine.experiments.tune:TuneResult",
    "VideoOptions": "landrec.engine.inference.video:VideoOptions",
    "VideoPrediction": "landrec.engine.inference.video:VideoPrediction",
    "calibrate": "landrec.engine.evaluation.calibrate:calibrate",
    "evaluate_untrained": "landrec.engine.evaluation.untrained:evaluate_untrained",
    "rejection_report": "landrec.engine.evaluation.calibrate:rejection_report",
    "study_table_row": "landrec.engine.experiments.study_report:table_row",
    "to_markdown": "landrec.engine.evaluation.evaluate:to_markdown",
    "tune_allocator": "landrec.engine.runtime:tune_allocator",
}
# Errors that mean bad input: the CLI prints them as one line instead of a traceback.
_USER_ERRORS = (
    "landrec.engine.checkpoint:CheckpointError",
    "landrec.engine.config:ConfigError",
    "landrec.data.layout:DataLayoutError",
    "builtins:FileNotFoundError",
    "builtins:IsADirectoryError",
    "landrec.data.decode:ImageDecodeError",
    "landrec.engine.experiments.tune:MissingDependencyError",
    "landrec.engine.checkpoint:UnknownClassError",
    "landrec.models.registry:UnknownModelError",
    "landrec.models.weights:WeightsUnavailableError",
)


def _load(target: str) -> Any:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def is_user_error(exc: BaseException) -> bool:
    """Whether `exc` means bad input (one of USER_ERRORS), without importing the modules that
    define them: an error class whose module was never imported cannot have been raised."""
    for target in _USER_ERRORS:
        module, name = target.split(":")
        if module in sys.modules and isinstance(exc, getattr(sys.modules[module], name)):
            return True
    return False


def __getattr__(name: str) -> Any:
    """The re-exported names of _LAZY, and USER_ERRORS, imported on first use."""
    if name == "USER_ERRORS":
        return tuple(_load(target) for target in _USER_ERRORS)
    if name in _LAZY:
        return _load(_LAZY[name])
    raise AttributeError(f"module 'landrec.api' has no attribute {name!r}")


if TYPE_CHECKING:
    USER_ERRORS: tuple[type[BaseException], ...]
    SKIPPED_CSV: str
    NOT_FOUND: str

    def study_table_row(r: Any) -> list[str]: ...


def _resolve(config: TrainConfig | str | Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """A config object, a YAML path or the defaults, then keyword overrides."""
    if isinstance(config, TrainConfig):
        return apply_overrides(config, overrides)
    return resolve_config(config, overrides)


@dataclass
class TrainAndTest:
    train: TrainResult
    test: EvalResult | None


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
    from landrec.engine.training.run_folder import preflight  # no torch: refusals are quick

    saved = Path(out) / CONFIG_FILE
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
        tested = None
        if test:
            try:
                tested = evaluate_on_test(result.checkpoint, data, resolved)
            except ValueError as exc:  # no test split: training still succeeded
                result.notes.append(f"no test evaluation: {exc}")
        log_run_folder(tracker, result.run_dir, _summary_metrics(result, tested))
    return TrainAndTest(result, tested)


def _summary_metrics(result: TrainResult, tested: EvalResult | None) -> dict[str, Any]:
    best = max((h["val_accuracy"] for h in result.history), default=None)
    metrics = {"best_val_accuracy": best, "train_seconds": result.seconds}
    if tested is not None:
        metrics |= {"test_accuracy": tested.accuracy, "test_macro_f1": tested.macro_f1}
    return metrics


def evaluate(
    checkpoint: str | Path,
    data: str | Path,
    split: str = "test",
    out: str | Path | None = None,
    batch_size: int = 64,
    *,
    tta: bool = False,
    unknown: bool = True,
    threshold: float | None = None,
) -> EvalResult:
    """Metrics of a checkpoint (or run folder) on a split or a folder of class subfolders;
    `tta` averages over flips; the "unknown" rule's coverage is reported when it is in force
    (a calibrated checkpoint or a `threshold`; `unknown=False` leaves it out)."""
    from landrec.data.layout import Split, load_eval_folder
    from landrec.engine.checkpoint import load_checkpoint
    from landrec.engine.evaluation.evaluate import evaluate_model, write_report
    from landrec.engine.selective import effective_threshold

    model, meta = load_checkpoint(checkpoint)
    folder = load_eval_folder(data, Split(split), meta.classes)
    chosen = effective_threshold(meta.threshold, unknown, threshold)
    result = evaluate_model(model, meta, folder, batch_size, tta=tta, threshold=chosen)
    if out is not None:
        write_report(result, Path(out))
    return result


def load_config(path: str | Path) -> TrainConfig:
    return apply_overrides(TrainConfig(), load_yaml(path))


def explain(
    checkpoint: str | Path, image: str | Path, out_png: str | Path, class_name: str | None = None
) -> ExplainResult:
    """Grad-CAM heatmap of `class_name` (default: the predicted class) over one image, as PNG."""
    from landrec.engine.inference.explain import explain as _explain

    return _explain(checkpoint, image, out_png, class_name)


def study(
    study_file: str | Path, data: str | Path, out: str | Path, tracking: bool | str = False
) -> StudyResult:
    """Run (or continue) a comparison study: each experiment of the YAML file into
    out/runs/<name>, then report.md, report.html and best_config.yaml in `out`."""
    from landrec.engine.experiments.study import run_study

    return run_study(study_file, data, out, tracking)


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


def export(
    model: str | Path,
    out: str | Path,
    int8: bool = False,
    calibration: str | Path | None = None,
    calibration_images: int = 200,
) -> ExportResult:
    """A run folder or checkpoint as ONNX; `int8` with a `calibration` folder: static int8
    calibrated on `calibration_images` of its images spread over every subfolder, else dynamic."""
    from landrec.data.layout import expand_paths
    from landrec.engine.checkpoint import resolve_checkpoint
    from landrec.engine.inference.export import export_onnx

    images = expand_paths([calibration]) if calibration else None
    return export_onnx(
        resolve_checkpoint(model), out, int8, images, calibration_images=calibration_images
    )


def models() -> list[dict]:
    """The registry: one row per architecture (parameters, input size, weights available here)."""
    return model_table()


def inspect_data(data: str | Path, out: str | Path | None = None) -> InspectReport:
    """Per-split per-class counts, image sizes, unreadable files, duplicates (+ chart in `out`)."""
    from landrec.data.inspect import inspect_dataset

    return inspect_dataset(data, out)


def data_stats(data: str | Path, size: int = 224) -> ChannelStats:
    """Per-channel mean/std of the train split at `size` px."""
    from landrec.data.inspect import channel_stats
    from landrec.data.layout import Split, load_splits

    return channel_stats(load_splits(data).get(Split.TRAIN), size)
