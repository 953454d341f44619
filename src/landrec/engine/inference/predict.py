"""landrec predict: classify files and folders with a checkpoint (PyTorch or ONNX Runtime)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from landrec.data.decode import ImageDecodeError, count_frames
from landrec.data.formats import Detected, MediaKind
from landrec.engine.inference.classifier import Classifier
from landrec.engine.pipeline import Timings, image_batches
from landrec.engine.selective import label_or_unknown

TIFF_EXTENSIONS = frozenset({".tif", ".tiff"})  # the multi-page files `pages` expands


@dataclass
class Prediction:
    path: str
    label: str | None  # None when the file could not be read
    confidence: float | None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None
    best_guess: str | None = None  # the top-1 class, also when `label` is "unknown"
    view: str | None = None  # e.g. ground or overhead, where the model tells views apart
    view_confidence: float | None = None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "label": self.label,
            "confidence": self.confidence,
            "top_k": [{"label": c, "probability": p} for c, p in self.top_k],
            "error": self.error,
            "best_guess": self.best_guess,
            "view": self.view,
            "view_confidence": self.view_confidence,
        }


@dataclass(frozen=True)
class ImageRef:
    """One image to classify: a file, or one page of a multi-page TIFF."""

    path: Path
    page: int = 0  # 0-based
    n_pages: int = 1  # pages of the file when they are classified one by one

    def __str__(self) -> str:
        """The path, with `#page=N` (N from 1) for a page of a multi-page file."""
        return f"{self.path}#page={self.page + 1}" if self.n_pages > 1 else str(self.path)


def tiff_pages(path: Path) -> int:
    """Pages of a TIFF file; 1 for other files and for files that cannot be read (the error
    then shows when the image is decoded)."""
    if path.suffix.lower() not in TIFF_EXTENSIONS:
        return 1
    try:
        return count_frames(path)
    except ImageDecodeError:
        return 1


def image_refs(paths: Iterable[Path], pages: bool = False) -> list[ImageRef]:
    """One ImageRef per file; with `pages`, one per page of each multi-page TIFF."""
    refs: list[ImageRef] = []
    for path in paths:
        n_pages = tiff_pages(path) if pages else 1
        refs.extend(ImageRef(path, page, n_pages) for page in range(n_pages))
    return refs


def predict_files(
    classifier: Classifier,
    paths: list[Path],
    top_k: int = 3,
    batch_size: int = 32,
    workers: int | None = None,
    progress: bool = True,
    pages: bool = False,
) -> list[Prediction]:
    """One Prediction per path (with `pages`: per page of each multi-page TIFF), in order;
    unreadable files carry their error."""
    return predict_refs(classifier, image_refs(paths, pages), top_k, batch_size, workers, progress)


def predict_inputs(
    classifier: Classifier,
    inputs: list[Detected],
    top_k: int = 3,
    batch_size: int = 32,
    progress: bool = True,
    pages: bool = False,
    timings: Timings | None = None,
) -> list[Prediction]:
    """One Prediction per input in order (per page with `pages`): images are classified, every
    other input carries why not (missing, unreadable, unsupported format)."""
    refs_of = [image_refs([d.path], pages) if d.kind is MediaKind.IMAGE else [] for d in inputs]
    flat = [ref for refs in refs_of for ref in refs]
    classified = iter(
        predict_refs(classifier, flat, top_k, batch_size, progress=progress, timings=timings)
    )
    out: list[Prediction] = []
    for detected, refs in zip(inputs, refs_of, strict=True):
        if detected.kind is MediaKind.IMAGE:
            out.extend(next(classified) for _ in refs)
        else:
            error = detected.error or f"{detected.what}: videos are classified by predict_media"
            out.append(Prediction(str(detected.path), None, None, error=error))
    return out


def predict_refs(
    classifier: Classifier,
    refs: list[ImageRef],
    top_k: int = 3,
    batch_size: int = 32,
    workers: int | None = None,
    progress: bool = True,
    timings: Timings | None = None,
) -> list[Prediction]:
    """One Prediction per image (file or page), in order; unreadable ones carry their error.
    Images decode in `workers` threads ahead of the model (`pipeline.image_batches`)."""
    if not refs:
        return []
    results: dict[int, Prediction] = {}
    k = clamped_k(classifier, top_k)
    items = [(r.path, r.page) for r in refs]
    batches = image_batches(items, classifier.preprocessing, batch_size, workers, timings)
    total = math.ceil(len(refs) / batch_size)
    for batch in tqdm(batches, "predict", total, unit="batch", disable=not progress):
        for i, reason in batch.failures:
            results[i] = Prediction(str(refs[i]), None, None, error=reason)
        if not batch.indices:
            continue
        started = time.perf_counter()
        names = [str(refs[i]) for i in batch.indices]
        rows = predictions(classifier, names, batch.images, k)
        if timings is not None:
            timings.infer_s += time.perf_counter() - started
        results.update(zip(batch.indices, rows, strict=True))
    return [results[i] for i in range(len(refs))]


def clamped_k(classifier: Classifier, top_k: int) -> int:
    """How many classes a prediction lists: `top_k`, within 1 and the number of classes."""
    return max(1, min(top_k, len(classifier.classes)))


def to_prediction(
    classifier: Classifier, path: str, probs: np.ndarray, k: int, views: np.ndarray | None = None
) -> Prediction:
    """The top-k classes of one probability row; "unknown" when top-1 is below the threshold;
    the likelier view of `views` (the model's view probabilities), where it has views."""
    order = np.argsort(-probs)[:k]
    top = [(classifier.classes[j], float(probs[j])) for j in order]
    best, confidence = top[0]
    label = label_or_unknown(best, confidence, classifier.threshold)
    view, view_confidence = likelier_view(classifier.views, views)
    return Prediction(path, label, confidence, top, None, best, view, view_confidence)


def predictions(
    classifier: Classifier, names: list[str], arrays: np.ndarray, k: int
) -> list[Prediction]:
    """One model call on preprocessed arrays (B, 3, H, W): a Prediction per name, in order."""
    probs, views = classifier.outputs(arrays)
    return [
        to_prediction(classifier, name, probs[j], k, None if views is None else views[j])
        for j, name in enumerate(names)
    ]


def likelier_view(names: list[str], probs: np.ndarray | None) -> tuple[str | None, float | None]:
    """The likelier view under view probabilities `probs`, and its probability; (None, None)
    for a model without views."""
    if probs is None or not names:
        return None, None
    v = int(np.argmax(probs))
    return names[v], float(probs[v])
