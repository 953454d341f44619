"""landrec evaluate: test metrics, confusion matrices and a Markdown report for a checkpoint."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from landrec.data.dataset import FailureLog
from landrec.data.layout import SplitData
from landrec.data.preprocess import Preprocessing
from landrec.engine.checkpoint import CheckpointMeta
from landrec.engine.loop import PipelineSource, predict_logits
from landrec.engine.plots import plot_confusion
from landrec.engine.probability import softmax
from landrec.engine.runs import ReportFiles
from landrec.engine.selective import UNKNOWN, selective_summary
from landrec.models.factory import count_parameters
from landrec.models.net import BlockClassifier, fold


@dataclass
class EvalResult:
    classes: list[str]
    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    n_images: int
    images_per_second: float
    parameters: int
    model: str
    weights: str  # where the backbone's weights came from, for people
    random_init: bool  # the backbone started without pretrained weights
    split: str
    skipped: list[dict] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    tta: bool = False  # probabilities averaged over each image and its mirror
    selective: dict | None = None  # the "unknown" rule's coverage and accuracy, when in force
    timed_images: int | None = None  # throughput timed on this many images; None: the whole pass
    # per view of a sources file's split: images, accuracy and, where the model tells views
    # apart, `view_accuracy` (the share it gives their own view); None where data has no views
    per_view: dict[str, dict[str, float]] | None = None

    def to_dict(self) -> dict:
        cm = np.asarray(self.confusion_matrix, dtype=float)
        norm = (cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)).round(4).tolist()
        return {**self.__dict__, "confusion_matrix_normalized": norm}


def compute_metrics(labels: np.ndarray, preds: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, per-class P/R/F1/support, macro and weighted F1, confusion matrix."""
    idx = list(range(len(classes)))
    p, r, f1, support = precision_recall_fscore_support(labels, preds, labels=idx, zero_division=0)
    per_class = {
        c: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, c in enumerate(classes)
    }
    present = support > 0
    weights = support / max(support.sum(), 1)
    return {
        "accuracy": float((labels == preds).mean()) if len(labels) else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float((f1 * weights).sum()),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(labels, preds, labels=idx).tolist(),
    }


def image_logits(
    model: BlockClassifier,
    pre: Preprocessing,
    paths: list[Path],
    labels: list[int],
    batch_size: int = 64,
    workers: int | None = None,
    tta: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, FailureLog]:
    """Logits and labels of the readable images, decoded and preprocessed by the prediction
    pipeline (threads ahead of the model)."""
    failures = FailureLog()
    source = PipelineSource(paths, labels, pre, batch_size, failures, workers)
    logits, kept = predict_logits(model, source, 0, tta)
    return logits, kept, failures


def split_logits(
    model: BlockClassifier,
    meta: CheckpointMeta,
    split: SplitData,
    batch_size: int = 64,
    workers: int | None = None,
    tta: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, FailureLog]:
    """`image_logits` of a split, its labels mapped onto the checkpoint's classes."""
    paths, labels = labelled_paths(meta, split)
    return image_logits(model, meta.preprocessing, paths, labels, batch_size, workers, tta)


def labelled_paths(meta: CheckpointMeta, split: SplitData) -> tuple[list[Path], list[int]]:
    """A split's files and labels, the labels indexing the checkpoint's classes (the split
    may hold a subset of them)."""
    index = {c: i for i, c in enumerate(meta.classes)}
    remap = [index[c] for c in split.classes]
    paths, labels = split.paths_labels()
    return paths, [remap[label] for label in labels]


def evaluate_model(
    model: BlockClassifier,
    meta: CheckpointMeta,
    split: SplitData,
    batch_size: int = 64,
    workers: int | None = None,
    tta: bool = False,
    threshold: float | None = None,
) -> EvalResult:
    """Decode, preprocess and classify every image of `split`, timing the whole pass; with a
    `threshold`, also report what the "unknown" rule would accept and how accurately; for a
    split with views (a sources file's), each view's figures."""
    t0 = time.perf_counter()
    view_logits = None
    if split.views:
        logits, labels, failures, view_logits = _split_logits_with_views(
            model, meta, split, batch_size, workers, tta
        )
    else:
        logits, labels, failures = split_logits(model, meta, split, batch_size, workers, tta)
    seconds = time.perf_counter() - t0
    speed = len(labels) / seconds if seconds > 0 else 0.0
    outputs = (logits, labels, failures)
    per_view = split_view_metrics(split, meta, outputs, view_logits)
    return result_of(model, meta, split.name, outputs, speed, tta, threshold, per_view=per_view)


def _split_logits_with_views(
    model: BlockClassifier,
    meta: CheckpointMeta,
    split: SplitData,
    batch_size: int,
    workers: int | None,
    tta: bool,
) -> tuple[torch.Tensor, torch.Tensor, FailureLog, torch.Tensor | None]:
    """`split_logits`, and the views' logits of a model with views: it gives its joint
    logits, folded into the classes' (what `forward` computes: the same values; with `tta`,
    the flips are averaged before the fold) and the views'."""
    paths, labels = labelled_paths(meta, split)
    failures = FailureLog()
    source = PipelineSource(paths, labels, meta.preprocessing, batch_size, failures, workers)
    joint = model.views > 1
    out, kept = predict_logits(model, source, 0, tta, joint=joint)
    view_logits = None
    if joint and len(kept):
        out, view_logits = fold(out, model.views)
    return out, kept, failures, view_logits


def split_view_metrics(
    split: SplitData,
    meta: CheckpointMeta,
    outputs: tuple[torch.Tensor, torch.Tensor, FailureLog],
    view_logits: torch.Tensor | None,
) -> dict[str, dict[str, float]] | None:
    """`view_metrics` of a split's outputs (logits, labels, failures) where its samples carry
    views (a sources file's); None where they do not."""
    if not split.views:
        return None
    logits, labels, failures = outputs
    kept = [s.view for s in split.samples if str(s.path) not in failures.failures]
    views = torch.tensor(kept, dtype=torch.long)  # each readable sample's, in order
    return view_metrics(logits, labels, views, view_logits, split.views, list(meta.model.views))


def view_metrics(
    logits: torch.Tensor,
    labels: torch.Tensor,
    views: torch.Tensor,
    view_logits: torch.Tensor | None,
    names: list[str],
    model_views: list[str],
) -> dict[str, dict[str, float]]:
    """Per view of the data (`names`, indexed by `views`): its images, their accuracy and,
    where the model has that view, the share of them it gives that view."""
    out: dict[str, dict[str, float]] = {}
    right = logits.argmax(1) == labels if len(labels) else labels.bool()
    for i, name in enumerate(names):
        mask = views == i
        if not mask.any():
            continue
        n = int(mask.sum())
        row: dict[str, float] = {"images": n, "accuracy": int(right[mask].sum()) / n}
        if view_logits is not None and name in model_views:
            seen = view_logits[mask].argmax(1) == model_views.index(name)
            row["view_accuracy"] = int(seen.sum()) / n
        out[name] = row
    return out


def result_of(
    model: BlockClassifier,
    meta: CheckpointMeta,
    split_name: str,
    outputs: tuple[torch.Tensor, torch.Tensor, FailureLog],
    images_per_second: float,
    tta: bool = False,
    threshold: float | None = None,
    timed_images: int | None = None,
    per_view: dict[str, dict[str, float]] | None = None,
) -> EvalResult:
    """The metrics of one split's logits and labels (`outputs` also holds its failures)."""
    logits, labels, failures = outputs
    metrics = compute_metrics(labels.numpy(), logits.argmax(1).numpy(), meta.classes)
    selective = None
    if threshold is not None:
        probs = softmax(logits.double().numpy(), meta.temperature)
        selective = selective_summary(probs, labels.numpy(), threshold)
    return EvalResult(
        classes=meta.classes,
        n_images=len(labels),
        images_per_second=images_per_second,
        parameters=count_parameters(model),
        model=meta.model.arch,
        weights=meta.weights_source,
        random_init=meta.random_init,
        split=split_name,
        skipped=failures.to_list(),
        tta=tta,
        selective=selective,
        timed_images=timed_images,
        per_view=per_view,
        **metrics,
    )


def to_markdown(result: EvalResult) -> str:
    random_note = " — **random init** (no pretrained weights)" if result.random_init else ""
    lines = [
        f"# Evaluation: {result.model} on '{result.split}'{random_note}",
        "",
        f"- weights: {result.weights}",
        f"- images: {result.n_images} ({len(result.skipped)} unreadable, skipped)",
        f"- accuracy: **{result.accuracy:.4f}**, macro F1: {result.macro_f1:.4f}, "
        f"weighted F1: {result.weighted_f1:.4f}",
        f"- throughput: {result.images_per_second:.1f} images/s (decode + preprocess + model"
        f"{_timed_on(result)})",
        f"- parameters: {result.parameters:,}",
        *_reliability_lines(result),
        *_view_lines(result),
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for c, m in result.per_class.items():
        lines.append(
            f"| {c} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['support']} |"
        )
    lines += ["", "Confusion matrix (rows: true, columns: predicted):", ""]
    lines.append("| | " + " | ".join(result.classes) + " |")
    lines.append("|---" * (len(result.classes) + 1) + "|")
    for c, row in zip(result.classes, result.confusion_matrix, strict=True):
        lines.append(f"| **{c}** | " + " | ".join(map(str, row)) + " |")
    if result.skipped:
        lines += ["", "Unreadable files:", ""] + [
            f"- {s['path']}: {s['reason']}" for s in result.skipped
        ]
    return "\n".join(lines) + "\n"


def _timed_on(result: EvalResult) -> str:
    if result.timed_images is None:
        return ""
    return f", PyTorch, timed on {result.timed_images} of the images"


def _view_lines(result: EvalResult) -> list[str]:
    """Each view's row, where the split has views."""
    if not result.per_view:
        return []
    lines = ["", "| view | images | accuracy | view right |", "|---|---|---|---|"]
    for name, row in result.per_view.items():
        seen = row.get("view_accuracy")
        shown = "–" if seen is None else f"{seen:.4f}"
        lines.append(f"| {name} | {row['images']} | {row['accuracy']:.4f} | {shown} |")
    return lines


def _reliability_lines(result: EvalResult) -> list[str]:
    lines = []
    if result.tta:
        lines.append("- test-time augmentation: probabilities averaged with the mirror image")
    sel = result.selective
    if sel is not None:
        accepted = "n/a" if sel["accuracy_accepted"] is None else f"{sel['accuracy_accepted']:.4f}"
        lines.append(
            f"- '{UNKNOWN}' below top-1 probability {sel['threshold']:.4f}: coverage "
            f"{sel['coverage']:.4f}, accuracy on accepted images {accepted} (metrics above: all)"
        )
    return lines


def write_report(result: EvalResult, out_dir: Path, prefix: str = "") -> EvalResult:
    """metrics JSON, Markdown report and confusion-matrix PNG into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out_dir, f"{prefix}{result.split}")
    png = plot_confusion(
        np.asarray(result.confusion_matrix),
        result.classes,
        files.confusion,
        f"{result.model} — {result.split} (accuracy {result.accuracy:.3f})",
    )
    result.files = {
        "confusion_png": str(png),
        "json": str(files.metrics),
        "markdown": str(files.markdown),
    }
    Path(result.files["json"]).write_text(json.dumps(result.to_dict(), indent=2))
    Path(result.files["markdown"]).write_text(to_markdown(result))
    return result


@torch.inference_mode()
def time_inference(model: BlockClassifier, size: int, batch: int, repeats: int = 5) -> float:
    """Model-only images/s on random input of one batch size (the report's 'inference time')."""
    model.eval()
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    model(x)
    t0 = time.perf_counter()
    for _ in range(repeats):
        model(x)
    return batch * repeats / (time.perf_counter() - t0)
