"""What prediction runs: a checkpoint's classes, preprocessing and a logits function, on
PyTorch or ONNX Runtime, with the "unknown" rule and optional flip TTA."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from landrec.data.transforms import Preprocessing
from landrec.engine.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint
from landrec.engine.config import Backend
from landrec.engine.onnx import parse_meta, session_options
from landrec.engine.probability import softmax
from landrec.engine.selective import effective_threshold
from landrec.engine.tta import flip_tta

LogitsFn = Callable[[np.ndarray], np.ndarray]  # (B, 3, H, W) float32 -> (B, C) logits


@dataclass
class Classifier:
    """What prediction needs: class names, preprocessing and a logits function."""

    classes: list[str]
    preprocessing: Preprocessing
    logits: LogitsFn
    source: str  # description of the model (checkpoint path, backend, weights)
    temperature: float = 1.0  # calibrated softmax temperature (1.0: not calibrated)
    threshold: float | None = None  # top-1 probability below which the label is "unknown"

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities, (B, 3, H, W) -> (B, C) float64."""
        return softmax(self.logits(x), self.temperature)


def _classifier(meta: CheckpointMeta, logits: LogitsFn, source: str) -> Classifier:
    init = " (random init)" if meta.random_init else ""
    return Classifier(
        meta.classes, meta.preprocessing, logits, source + init, meta.temperature, meta.threshold
    )


def torch_classifier(checkpoint: str | Path) -> Classifier:
    """A Classifier running a landrec checkpoint in PyTorch eager (channels-last)."""
    model, meta = load_checkpoint(checkpoint)
    model = model.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def logits(x: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
        return model(batch).float().numpy()

    return _classifier(meta, logits, f"{checkpoint} [torch]")


def onnx_classifier(path: str | Path, threads: int | None = None) -> Classifier:
    """A Classifier running an exported ONNX file on ONNX Runtime's CPU provider."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX model")
    options = session_options(threads)
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own types for protobuf and graph errors
        raise CheckpointError(f"{path}: not a loadable ONNX model ({exc})") from exc
    meta = parse_meta(session.get_modelmeta().custom_metadata_map, path)
    input_name = session.get_inputs()[0].name

    def logits(x: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]

    return _classifier(meta, logits, f"{path} [onnx]")


def load_classifier(model_path: str | Path, backend: Backend = Backend.TORCH) -> Classifier:
    if backend is Backend.ONNX:
        return onnx_classifier(model_path)
    return torch_classifier(model_path)


def with_options(
    classifier: Classifier, tta: bool = False, unknown: bool = True, threshold: float | None = None
) -> Classifier:
    """The classifier with flip TTA, and the "unknown" rule at `threshold` (default: the
    calibrated one) or, with `unknown` False, off."""
    logits = flip_tta(classifier.logits) if tta else classifier.logits
    chosen = effective_threshold(classifier.threshold, unknown, threshold)
    return replace(classifier, logits=logits, threshold=chosen)
