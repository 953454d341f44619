"""Evaluation through the API: metrics of a run, the untrained baseline, calibration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from landrec.models.choices import AUTO_WEIGHTS

if TYPE_CHECKING:
    from landrec.engine.evaluation.calibrate import CalibrationResult
    from landrec.engine.evaluation.evaluate import EvalResult
    from landrec.models.choices import WeightsChoice


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


def evaluate_untrained(
    model_name: str,
    data: str | Path,
    split: str = "test",
    weights: WeightsChoice | str = AUTO_WEIGHTS,
    seed: int = 0,
    *,
    image_size: int | None = None,
    batch_size: int = 64,
    workers: int | None = None,
) -> EvalResult:
    """The report's step 5.1: accuracy and throughput of a pretrained backbone with a fresh
    (random) head, before any training."""
    from landrec.engine.evaluation.untrained import evaluate_untrained as _untrained

    return _untrained(
        model_name,
        data,
        split,
        weights,
        seed,
        image_size=image_size,
        batch_size=batch_size,
        workers=workers,
    )


def to_markdown(result: EvalResult) -> str:
    """An evaluation as a Markdown report (what `landrec evaluate` prints)."""
    from landrec.engine.evaluation.evaluate import to_markdown as _markdown

    return _markdown(result)


def calibrate(
    checkpoint: str | Path,
    data: str | Path,
    split: str = "val",
    target_accuracy: float = 0.97,
    out: str | Path | None = None,
    batch_size: int = 64,
) -> CalibrationResult:
    """Temperature scaling and the "unknown" threshold fitted on `split`, stored in the
    checkpoint (and its ONNX export)."""
    from landrec.engine.evaluation.calibrate import calibrate as _calibrate

    return _calibrate(checkpoint, data, split, target_accuracy, out, batch_size)


def rejection_report(
    checkpoint: str | Path,
    in_class_data: str | Path,
    out_of_class: str | Path,
    split: str = "test",
    threshold: float | None = None,
    batch_size: int = 64,
) -> dict:
    """How the "unknown" rule treats images of none of the classes and the in-class images."""
    from landrec.engine.evaluation.calibrate import rejection_report as _report

    return _report(checkpoint, in_class_data, out_of_class, split, threshold, batch_size)
