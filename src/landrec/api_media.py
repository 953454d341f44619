"""Prediction through the API (`landrec.api.predict`, `predict_media`, re-exported there):
files and folders, images and videos, on ONNX Runtime or PyTorch; the engine is imported by
the functions, so importing this module stays cheap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from landrec.engine.config import Backend

if TYPE_CHECKING:
    from landrec.engine.inference.classifier import Classifier
    from landrec.engine.inference.predict import Prediction
    from landrec.engine.inference.video import VideoOptions, VideoPrediction


def predict(
    model: str | Path,
    paths: Iterable[str | Path],
    top_k: int = 3,
    backend: str | None = None,
    batch_size: int = 32,
    progress: bool = False,
    *,
    tta: bool = False,
    unknown: bool = True,
    threshold: float | None = None,
    pages: bool = False,
) -> list[Prediction]:
    """Classify files and folders (recursively: every file, recognised by its content) with a
    run folder, checkpoint or exported ONNX file on `backend` ("onnx": ONNX Runtime, the default
    where it is installed, a run folder's export cached beside its checkpoint; "torch":
    PyTorch); one row per input, with an error when it is missing, unreadable or not an image.
    Below the calibrated top-1 probability (or `threshold`) the label is "unknown", unless
    `unknown` is False; `tta` averages probabilities over each image and its mirror; `pages`
    classifies every page of a multi-page TIFF (`file.tif#page=N`)."""
    from landrec.data.sniff import detect_all
    from landrec.engine.inference.predict import predict_inputs

    classifier = _classifier(model, backend, tta, unknown, threshold)
    inputs = detect_all(paths)
    return predict_inputs(classifier, inputs, top_k, batch_size, progress, pages)


def _classifier(
    model: str | Path, backend: str | None, tta: bool, unknown: bool, threshold: float | None
) -> Classifier:
    from landrec.engine.inference.classifier import load_classifier, with_options

    chosen = None if backend is None else Backend(backend)  # None: ONNX Runtime where installed
    return with_options(load_classifier(model, chosen), tta, unknown, threshold)


@dataclass
class MediaPredictions:
    images: list[Prediction]  # as `predict` returns them
    videos: list[VideoPrediction]


def has_videos(paths: Iterable[str | Path]) -> bool:
    """Whether any of the files, or any file in the folders, is a video (by its content)."""
    from landrec.data.sniff import Kind, detect_all

    return any(d.kind is Kind.VIDEO for d in detect_all(paths))


def predict_media(
    model: str | Path,
    paths: Iterable[str | Path],
    top_k: int = 3,
    backend: str | None = None,
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
    from landrec.data.sniff import Kind, detect_all
    from landrec.engine.inference.predict import predict_inputs
    from landrec.engine.inference.video import VideoOptions, predict_videos

    classifier = _classifier(model, backend, tta, unknown, threshold)
    inputs = detect_all(paths)
    videos = [d.path for d in inputs if d.kind is Kind.VIDEO]
    others = [d for d in inputs if d.kind is not Kind.VIDEO]  # images, and rows saying why not
    return MediaPredictions(
        predict_inputs(classifier, others, top_k, batch_size, progress, pages),
        predict_videos(classifier, videos, video or VideoOptions(), batch_size, progress),
    )
