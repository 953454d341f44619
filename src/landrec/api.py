"""The Python API, mirroring the CLI: `landrec.train`, `landrec.evaluate`, `landrec.predict`, ...

It is the one gateway to the engine: the CLI (and the archive service) call these functions and
use the result types and errors re-exported here, never engine modules directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from landrec.data.decode import ImageDecodeError
from landrec.data.inspect import ChannelStats as ChannelStats
from landrec.data.inspect import InspectReport, channel_stats, inspect_dataset
from landrec.data.layout import DataLayoutError, Split, expand_paths, load_eval_folder, load_splits
from landrec.data.sniff import NOT_FOUND as NOT_FOUND
from landrec.data.sniff import Kind, detect_all
from landrec.engine.checkpoint import (
    CheckpointError,
    UnknownClassError,
    load_checkpoint,
    resolve_checkpoint,
)
from landrec.engine.config import CONFIG_ALIASES as CONFIG_ALIASES
from landrec.engine.config import (
    CONFIG_FILE,
    Backend,
    ConfigError,
    TrainConfig,
    apply_overrides,
    config_to_dict,
    load_yaml,
    resolve_config,
)
from landrec.engine.evaluation.calibrate import CalibrationResult as CalibrationResult
from landrec.engine.evaluation.calibrate import calibrate as calibrate
from landrec.engine.evaluation.calibrate import rejection_report as rejection_report
from landrec.engine.evaluation.evaluate import EvalResult, evaluate_model, write_report
from landrec.engine.evaluation.evaluate import to_markdown as to_markdown
from landrec.engine.evaluation.untrained import evaluate_untrained as evaluate_untrained
from landrec.engine.experiments.study import StudyResult, run_study
from landrec.engine.experiments.study_report import table_row
from landrec.engine.experiments.tracking import cli_default, log_run_folder, open_tracker
from landrec.engine.experiments.tune import MissingDependencyError, TuneResult
from landrec.engine.experiments.tune import tune as _tune
from landrec.engine.inference.classifier import Classifier, load_classifier, with_options
from landrec.engine.inference.export import ExportResult, export_onnx
from landrec.engine.inference.predict import Prediction, predict_inputs
from landrec.engine.inference.video import VideoOptions as VideoOptions
from landrec.engine.inference.video import VideoPrediction, predict_videos
from landrec.engine.runtime import tune_allocator as tune_allocator
from landrec.engine.selective import effective_threshold
from landrec.engine.training.feature_eval import evaluate_on_test
from landrec.engine.training.run_folder import preflight
from landrec.engine.training.skipped import SKIPPED_CSV as SKIPPED_CSV
from landrec.engine.training.train import TrainResult
from landrec.engine.training.train import train as _train
from landrec.models.catalog import model_table
from landrec.models.registry import UnknownModelError
from landrec.models.weights import WeightsUnavailableError

if TYPE_CHECKING:
    from landrec.engine.inference.explain import ExplainResult

study_table_row = table_row  # a study result's cells, as report.md shows them
tracking_default = cli_default  # whether the CLI tracks when no tracking option is given

# Errors that mean bad input: the CLI prints them as one line instead of a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    CheckpointError,
    ConfigError,
    DataLayoutError,
    FileNotFoundError,
    IsADirectoryError,
    ImageDecodeError,
    MissingDependencyError,
    UnknownClassError,
    UnknownModelError,
    WeightsUnavailableError,
)


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
    saved = Path(out) / CONFIG_FILE
    if resume and saved.is_file() and config is None:
        config = saved
    resolved = _resolve(config, overrides)
    run = Path(out)
    preflight(data, run, resolved, resume)  # refused runs fail before the tracker writes
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
    model, meta = load_checkpoint(checkpoint)
    folder = load_eval_folder(data, Split(split), meta.classes)
    chosen = effective_threshold(meta.threshold, unknown, threshold)
    result = evaluate_model(model, meta, folder, batch_size, tta=tta, threshold=chosen)
    if out is not None:
        write_report(result, Path(out))
    return result


def predict(
    model: str | Path,
    paths: Iterable[str | Path],
    top_k: int = 3,
    backend: str = "torch",
    batch_size: int = 32,
    progress: bool = False,
    *,
    tta: bool = False,
    unknown: bool = True,
    threshold: float | None = None,
    pages: bool = False,
) -> list[Prediction]:
    """Classify files and folders (recursively: every file, recognised by its content) with a
    checkpoint or an exported ONNX file; one row per input, with an error when it is missing,
    unreadable or not an image. Below the calibrated top-1 probability (or `threshold`) the
    label is "unknown", unless `unknown` is False; `tta` averages probabilities over each image
    and its mirror; `pages` classifies every page of a multi-page TIFF (`file.tif#page=N`)."""
    classifier = _classifier(model, backend, tta, unknown, threshold)
    inputs = detect_all(paths)
    return predict_inputs(classifier, inputs, top_k, batch_size, progress, pages)


def _classifier(
    model: str | Path, backend: str, tta: bool, unknown: bool, threshold: float | None
) -> Classifier:
    chosen = Backend(backend)
    source = resolve_checkpoint(model) if chosen is Backend.TORCH else Path(model)
    return with_options(load_classifier(source, chosen), tta, unknown, threshold)


@dataclass
class MediaPredictions:
    images: list[Prediction]  # as `predict` returns them
    videos: list[VideoPrediction]


def has_videos(paths: Iterable[str | Path]) -> bool:
    """Whether any of the files, or any file in the folders, is a video (by its content)."""
    return any(d.kind is Kind.VIDEO for d in detect_all(paths))


def predict_media(
    model: str | Path,
    paths: Iterable[str | Path],
    top_k: int = 3,
    backend: str = "torch",
    batch_size: int = 32,
    progress: bool = False,
    video: VideoOptions | None = None,
    *,
    tta: bool = False,
    unknown: bool = True,
    threshold: float | None = None,
    pages: bool = False,
) -> MediaPredictions:
    """Classify images (as `predict` does) and videos (sampled frames, summarised) with one
    loaded model; files and folders, recursively; inputs that are neither are rows of `images`
    with their error. Options as for `predict`."""
    classifier = _classifier(model, backend, tta, unknown, threshold)
    inputs = detect_all(paths)
    videos = [d.path for d in inputs if d.kind is Kind.VIDEO]
    others = [d for d in inputs if d.kind is not Kind.VIDEO]  # images, and rows saying why not
    return MediaPredictions(
        predict_inputs(classifier, others, top_k, batch_size, progress, pages),
        predict_videos(classifier, videos, video or VideoOptions(), batch_size, progress),
    )


def load_config(path: str | Path) -> TrainConfig:
    return apply_overrides(TrainConfig(), load_yaml(path))


def explain(
    checkpoint: str | Path, image: str | Path, out_png: str | Path, class_name: str | None = None
) -> ExplainResult:
    """Grad-CAM heatmap of `class_name` (default: the predicted class) over one image, as PNG."""
    from landrec.engine.inference.explain import (
        explain as _explain,
    )  # grad-cam takes a second to import

    return _explain(checkpoint, image, out_png, class_name)


def study(
    study_file: str | Path, data: str | Path, out: str | Path, tracking: bool | str = False
) -> StudyResult:
    """Run (or continue) a comparison study: each experiment of the YAML file into
    out/runs/<name>, then report.md, report.html and best_config.yaml in `out`."""
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
    return _tune(data, out, _resolve(config, overrides), trials, storage, study_name, tracking)


def export(
    model: str | Path,
    out: str | Path,
    int8: bool = False,
    calibration: str | Path | None = None,
    calibration_images: int = 200,
) -> ExportResult:
    """A run folder or checkpoint as ONNX; `int8` with a `calibration` folder: static int8
    calibrated on its first `calibration_images` images, else dynamic."""
    images = expand_paths([calibration])[:calibration_images] if calibration else None
    return export_onnx(resolve_checkpoint(model), out, int8, images)


def models() -> list[dict]:
    """The registry: one row per architecture (parameters, input size, weights available here)."""
    return model_table()


def inspect_data(data: str | Path, out: str | Path | None = None) -> InspectReport:
    """Per-split per-class counts, image sizes, unreadable files, duplicates (+ chart in `out`)."""
    return inspect_dataset(data, out)


def data_stats(data: str | Path, size: int = 224) -> ChannelStats:
    """Per-channel mean/std of the train split at `size` px."""
    return channel_stats(load_splits(data).get(Split.TRAIN), size)
