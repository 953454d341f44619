"""landrec calibrate: temperature scaling and an "unknown" threshold fitted on validation
logits and written into the checkpoint, so that predict and ONNX export apply them."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

if TYPE_CHECKING:
    from landrec.models.net import BlockClassifier

from landrec.data.layout import (
    DataLayoutError,
    Split,
    SplitData,
    expand_paths,
    find_split_folders,
    is_sources_file,
    load_eval_folder,
    load_splits,
    read_sources_file,
)
from landrec.engine.checkpoint import (
    CALIBRATION,
    CheckpointMeta,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from landrec.engine.evaluation.evaluate import image_logits, split_logits
from landrec.engine.plots import plot_coverage
from landrec.engine.probability import softmax
from landrec.engine.selective import (
    choose_threshold,
    coverage_accuracy,
    coverage_curve,
    selective_summary,
)

TEMPERATURE_RANGE = (0.01, 100.0)  # the search's bounds; a fit at a bound is reported in notes
PLOT = "calibration.png"
REPORT = "calibration.json"


@dataclass
class CalibrationResult:
    temperature: float
    ece_before: float  # expected calibration error (15 bins) at temperature 1
    ece_after: float
    nll_before: float  # mean negative log-likelihood at temperature 1
    nll_after: float
    target_accuracy: float
    threshold: float | None  # None: no threshold reaches the target on this split
    coverage: float  # fraction of the split accepted at the threshold
    accuracy: float | None  # accuracy on the accepted images (None: none accepted)
    n_images: int
    split: str = "val"
    curve: list[dict] = field(default_factory=list)  # threshold, coverage, accuracy
    checkpoint: str = ""
    files: dict[str, str] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outside_n: int = 0  # out-of-class images that joined the threshold's choice
    # the out-of-class check: per folder, its held-out half's images and the rate rejected
    out_of_class: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of softmax(logits / temperature)."""
    log_probs = log_softmax(logits.astype(np.float64) / temperature, axis=1)
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The scalar T > 0 minimising the NLL of softmax(logits / T): a bounded search on log T
    (the NLL is convex in 1/T, so the 1-D minimum is the global one)."""
    lo, hi = (math.log(t) for t in TEMPERATURE_RANGE)
    fit = minimize_scalar(
        lambda log_t: nll(logits, labels, math.exp(log_t)),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-5},
    )
    best = math.exp(float(fit.x))
    # The bounded search never evaluates T = 1 itself; never return something worse.
    return best if nll(logits, labels, best) <= nll(logits, labels, 1.0) else 1.0


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    if len(labels) == 0:
        return 0.0
    confidence = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)  # (lo, hi]
    gap = np.bincount(which, correct - confidence, minlength=bins)
    return float(np.abs(gap).sum() / len(labels))


def fit_calibration(
    logits: np.ndarray,
    labels: np.ndarray,
    target_accuracy: float = 0.97,
    bins: int = 15,
    outside: np.ndarray | None = None,
) -> CalibrationResult:
    """Temperature, calibration errors and the unknown threshold for one set of logits.
    `outside`: logits of images of none of the classes; they join the threshold's choice as
    errors whenever accepted (the temperature is fitted on the labelled images alone)."""
    if len(labels) == 0:
        raise ValueError("no readable images to calibrate on")
    temperature = fit_temperature(logits, labels)
    before = softmax(logits)
    after = softmax(logits, temperature)
    confidence, correct = after.max(1), after.argmax(1) == labels
    if outside is not None and len(outside):
        out_confidence = softmax(outside, temperature).max(1)
        threshold = choose_threshold(
            np.r_[confidence, out_confidence],
            np.r_[correct, np.zeros(len(out_confidence), dtype=bool)],
            target_accuracy,
        )
    else:
        threshold = choose_threshold(confidence, correct, target_accuracy)
    at = math.inf if threshold is None else threshold
    coverage, accuracy = coverage_accuracy(confidence, correct, at)
    notes = []
    if threshold is None:
        notes.append(f"no threshold reaches accuracy {target_accuracy}: every image is unknown")
    if not TEMPERATURE_RANGE[0] * 1.01 < temperature < TEMPERATURE_RANGE[1] * 0.99:
        notes.append(f"temperature {temperature:.3g} is at the search bound {TEMPERATURE_RANGE}")
    return CalibrationResult(
        temperature=temperature,
        ece_before=expected_calibration_error(before, labels, bins),
        ece_after=expected_calibration_error(after, labels, bins),
        nll_before=nll(logits, labels),
        nll_after=nll(logits, labels, temperature),
        target_accuracy=target_accuracy,
        threshold=threshold,
        coverage=coverage,
        accuracy=accuracy,
        n_images=len(labels),
        curve=coverage_curve(confidence, correct),
        notes=notes,
        outside_n=0 if outside is None else len(outside),
    )


def halves(folder: Path) -> tuple[list[Path], list[Path]]:
    """A folder's images split in two by a hash of their path below it (stable across
    machines): the first half joins the calibration, the second checks it."""
    fit: list[Path] = []
    check: list[Path] = []
    for path in expand_paths([folder]):
        key = path.relative_to(folder).as_posix().encode()
        (fit if hashlib.sha256(key).digest()[0] % 2 == 0 else check).append(path)
    return fit, check


def _outside_logits(
    model: BlockClassifier, meta: CheckpointMeta, paths: list[Path], batch_size: int
) -> np.ndarray:
    logits, _, _ = image_logits(model, meta.preprocessing, paths, [0] * len(paths), batch_size)
    return logits.double().numpy().reshape(len(logits), -1)


def check_out_of_class(
    model: BlockClassifier,
    meta: CheckpointMeta,
    folders: dict[Path, list[Path]],
    temperature: float,
    threshold: float | None,
    batch_size: int,
) -> list[dict]:
    """Per folder: its images (the check halves), the rate the unknown rule rejects, and the
    classes the accepted ones were taken for."""
    rows = []
    for folder, paths in folders.items():
        if not paths:
            rows.append({"folder": str(folder), "n": 0, "rejection_rate": None, "accepted_as": {}})
            continue
        probs = softmax(_outside_logits(model, meta, paths, batch_size), temperature)
        accepted = probs.max(1) >= (math.inf if threshold is None else threshold)
        taken = Counter(meta.classes[i] for i in probs.argmax(1)[accepted])
        rows.append(
            {
                "folder": str(folder),
                "n": len(probs),
                "rejection_rate": float(1 - accepted.mean()) if len(probs) else None,
                "accepted_as": dict(taken.most_common()),
            }
        )
    return rows


def load_split_for(meta: CheckpointMeta, data: str | Path, split: Split) -> SplitData:
    """`split` of a data-set root, or a folder of class subfolders. A data set without a val
    folder gets the same val that training held out of train (its val_fraction and seed)."""
    root = Path(data)
    folders = find_split_folders(root) if root.is_dir() else {}
    tc = meta.train_config
    held_out = tc.get("val_fraction", 0.15), tc.get("seed", 0)  # as training held val out
    if is_sources_file(root):
        return load_eval_folder(root, split, meta.classes, *held_out)
    if split is Split.VAL and Split.TRAIN in folders and Split.VAL not in folders:
        held = load_splits(root, *held_out).get(split)
        if not set(held.classes) <= set(meta.classes):
            raise DataLayoutError(f"{root}: classes {held.classes} differ from {meta.classes}")
        return held
    return load_eval_folder(root, split, meta.classes)


def calibrate(
    checkpoint: str | Path,
    data: str | Path,
    split: str = "val",
    target_accuracy: float = 0.97,
    out: str | Path | None = None,
    batch_size: int = 64,
    out_of_class: list[Path] | None = None,
) -> CalibrationResult:
    """Fit on `split` of `data`, store temperature and threshold in the checkpoint (a run
    folder's best), and write calibration.json and calibration.png into `out` (default: the
    checkpoint's folder). `out_of_class`: folders of images of none of the classes (default: a
    sources file's); half of each joins the threshold's choice, the other half checks it."""
    path = resolve_checkpoint(checkpoint)
    model, meta = load_checkpoint(path)
    samples = load_split_for(meta, data, Split(split))
    if out_of_class is None:
        out_of_class = read_sources_file(data).out_of_class if is_sources_file(data) else []
    split_folders = {Path(f): halves(Path(f)) for f in out_of_class}
    fit_paths = [p for fit, _ in split_folders.values() for p in fit]
    logits, labels, failures = split_logits(model, meta, samples, batch_size)
    outside = _outside_logits(model, meta, fit_paths, batch_size) if fit_paths else None
    result = fit_calibration(
        logits.double().numpy(), labels.numpy(), target_accuracy, outside=outside
    )
    checks = {f: check for f, (_, check) in split_folders.items()}
    result.out_of_class = check_out_of_class(
        model, meta, checks, result.temperature, result.threshold, batch_size
    )
    result.split, result.checkpoint, result.skipped = split, str(path), failures.to_list()
    meta.extra[CALIBRATION] = {
        "temperature": result.temperature,
        "threshold": result.threshold if result.threshold is not None else 1.0,
        "target_accuracy": target_accuracy,
        "split": split,
    }
    save_checkpoint(path, model, meta)
    out_dir = Path(out) if out is not None else path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"{meta.model.arch} on '{split}', T = {result.temperature:.3f}"
    png = plot_coverage(result.curve, out_dir / PLOT, target_accuracy, result.threshold, title)
    result.files = {"png": str(png), "json": str(out_dir / REPORT)}
    Path(result.files["json"]).write_text(json.dumps(result.to_dict(), indent=2))
    return result


def rejection_report(
    checkpoint: str | Path,
    in_class_data: str | Path,
    out_of_class: str | Path,
    split: str = "test",
    threshold: float | None = None,
    batch_size: int = 64,
) -> dict:
    """How the unknown rule treats images of none of the classes (the rate rejected) and the
    in-class images of `split` (the rate wrongly rejected, accuracy on those accepted)."""
    model, meta = load_checkpoint(checkpoint)
    threshold = threshold if threshold is not None else meta.threshold
    if threshold is None:
        raise ValueError("the checkpoint has no threshold: run `landrec calibrate` or pass one")
    inside = load_split_for(meta, in_class_data, Split(split))
    in_logits, in_labels, _ = split_logits(model, meta, inside, batch_size)
    folder = Path(out_of_class)
    [outside] = check_out_of_class(
        model, meta, {folder: expand_paths([folder])}, meta.temperature, threshold, batch_size
    )
    in_probs = softmax(in_logits.numpy(), meta.temperature)
    summary = selective_summary(in_probs, in_labels.numpy(), threshold)
    return {
        "threshold": threshold,
        "temperature": meta.temperature,
        "in_class": {
            "split": split,
            "n": summary["n"],
            "false_rejection_rate": summary["rejected"],
            "accuracy_accepted": summary["accuracy_accepted"],
            "accuracy_all": summary["accuracy_all"],
        },
        "out_of_class": {k: outside[k] for k in ("n", "rejection_rate", "accepted_as")},
    }
