"""Prediction through the API: files and folders, images and videos, on ONNX Runtime or
PyTorch; what a file is (`detect`); a model loaded once for many batches (`Predictor`). The
engine is imported by the functions, so importing this module stays cheap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from landrec.engine.config import Backend

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from landrec.data.formats import Detected
    from landrec.data.preprocess import Preprocessing
    from landrec.engine.inference.classifier import Classifier
    from landrec.engine.inference.predict import ImageRef, Prediction
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
    model: str | Path,
    backend: str | None,
    tta: bool,
    unknown: bool,
    threshold: float | None,
    threads: int | None = None,
) -> Classifier:
    from landrec.engine.inference.classifier import with_options
    from landrec.engine.inference.ensemble import load_models

    chosen = None if backend is None else Backend(backend)  # None: ONNX Runtime where installed
    return with_options(load_models(model, chosen, threads), tta, unknown, threshold)


@dataclass
class MediaPredictions:
    images: list[Prediction]  # as `predict` returns them
    videos: list[VideoPrediction]


def has_videos(paths: Iterable[str | Path]) -> bool:
    """Whether any of the files, or any file in the folders, is a video (by its content)."""
    from landrec.data.formats import MediaKind
    from landrec.data.sniff import detect_all

    return any(d.kind is MediaKind.VIDEO for d in detect_all(paths))


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
    from landrec.data.formats import MediaKind
    from landrec.data.sniff import detect_all
    from landrec.engine.inference.predict import predict_inputs
    from landrec.engine.inference.video import VideoOptions, predict_videos

    classifier = _classifier(model, backend, tta, unknown, threshold)
    inputs = detect_all(paths)
    videos = [d.path for d in inputs if d.kind is MediaKind.VIDEO]
    others = [d for d in inputs if d.kind is not MediaKind.VIDEO]  # images, and rows saying why not
    return MediaPredictions(
        predict_inputs(classifier, others, top_k, batch_size, progress, pages),
        predict_videos(classifier, videos, video or VideoOptions(), batch_size, progress),
    )


def enable_heif() -> bool:
    """Let Pillow open HEIC/HEIF/AVIF (pillow-heif) where it is installed; False if not."""
    from landrec.data.decode import enable_heif as register

    return register()


def load_image(path: str | Path, draft_size: int | None = None) -> Image.Image:
    """An image file as a fully loaded, upright 8-bit RGB picture (landrec's one decode path:
    the formats it reads, its pixel limit); `draft_size` lets JPEG decode at a reduced scale.
    An `ImageDecodeError` (a `UserError`) says why a file cannot be read."""
    from landrec.data.decode import load_image as decode

    return decode(path, draft_size=draft_size)


def detect(path: str | Path) -> Detected:
    """What a file is, by its content: its `format` (kind image, video, unsupported,
    unreadable or missing; name "JPEG image", "PDF document" or why it cannot be read; media
    type where known)."""
    from landrec.data.sniff import detect as sniff

    return sniff(path)


class Predictor:
    """A model loaded once and used for many batches (the archive service): images in batches
    through the decoding pipeline, videos frame by frame; options as for `predict`."""

    def __init__(
        self,
        model: str | Path,
        backend: str | None = None,
        *,
        unknown: bool = True,
        threshold: float | None = None,
        batch_size: int = 32,
        workers: int | None = None,
        model_threads: int | None = None,
    ) -> None:
        """`workers`: decoding threads; `model_threads`: ONNX Runtime's (default: one per
        core; several processes on one machine share its cores)."""
        self.classifier = _classifier(model, backend, False, unknown, threshold, model_threads)
        self.batch_size, self.workers = batch_size, workers

    @property
    def classes(self) -> list[str]:
        return list(self.classifier.classes)

    @property
    def views(self) -> list[str]:
        """The views the model tells apart (e.g. ground, overhead); [] where it has none."""
        return list(self.classifier.views)

    @property
    def source(self) -> str:
        return self.classifier.source

    @property
    def preprocessing(self) -> Preprocessing:
        """What the model's input is made with (input size, the short side decoded at least)."""
        return self.classifier.preprocessing

    def decode(self, path: Path) -> Image.Image:
        """An image file as `images` decodes it for the model (RGB, upright, reduced by an
        integer factor keeping its short side >= `preprocessing.short_side`); a `UserError`
        that says why when it cannot be read. `model_input` of it is what `images` classifies."""
        from landrec.data.decode import load_image

        return load_image(path, draft_size=self.preprocessing.short_side)

    def model_input(self, image: Image.Image, out: np.ndarray | None = None) -> np.ndarray:
        """The (3, H, W) array the model reads of a decoded image (see `decode`), written into
        `out` (e.g. a row of a batch) when given."""
        from landrec.data.preprocess import to_array

        return to_array(image, self.preprocessing, out)

    def arrays(self, names: list[str], arrays: np.ndarray, top_k: int = 3) -> list[Prediction]:
        """One Prediction per `model_input` array (an image decoded elsewhere, e.g. for its
        thumbnail too), named `names`, in `batch_size` model calls."""
        from landrec.engine.inference.predict import clamped_k, predictions

        k = clamped_k(self.classifier, top_k)
        out: list[Prediction] = []
        for start in range(0, len(names), self.batch_size):
            end = start + self.batch_size
            out += predictions(self.classifier, names[start:end], arrays[start:end], k)
        return out

    def images(self, paths: list[Path], top_k: int = 3) -> list[Prediction]:
        """One Prediction per image file, in order; an unreadable one carries its error."""
        from landrec.engine.inference.predict import ImageRef

        return self._predict([ImageRef(Path(p)) for p in paths], top_k)

    def pages(self, path: Path, n_pages: int, top_k: int = 3) -> list[Prediction]:
        """One Prediction per page of a multi-page image (`file#page=N`, N from 1)."""
        from landrec.engine.inference.predict import ImageRef

        return self._predict([ImageRef(Path(path), p, n_pages) for p in range(n_pages)], top_k)

    def _predict(self, refs: list[ImageRef], top_k: int) -> list[Prediction]:
        from landrec.engine.inference.predict import predict_refs

        return predict_refs(self.classifier, refs, top_k, self.batch_size, self.workers, False)

    def video(self, path: Path, options: VideoOptions | None = None) -> VideoPrediction:
        """Sampled frames of one video classified and summarised (dominant context, segments)."""
        from landrec.engine.inference.video import VideoOptions, predict_video

        return predict_video(self.classifier, path, options or VideoOptions(), self.batch_size)
