"""What prediction runs: a checkpoint's classes, preprocessing and a logits function, on
PyTorch or ONNX Runtime, with the "unknown" rule and optional flip TTA."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landrec.data.errors import InputNotFoundError
from landrec.data.preprocess import Preprocessing
from landrec.engine.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    load_checkpoint,
    read_meta,
    resolve_checkpoint,
)
from landrec.engine.config import Backend
from landrec.engine.inference import onnx_cache
from landrec.engine.onnx import parse_meta, session_options
from landrec.engine.probability import softmax
from landrec.engine.runs import onnx_cache_path
from landrec.engine.selective import effective_threshold
from landrec.engine.tta import flip_tta

if TYPE_CHECKING:  # imported where a session is made; torch where the PyTorch backend runs
    import onnxruntime as ort

# (B, 3, H, W) float32 -> (B, C) class logits, then (B, V) view logits where the model has views
LogitsFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class Classifier:
    """What prediction needs: class names, preprocessing and a logits function (the model's
    outputs: the classes' logits, then the views' where it tells views apart)."""

    classes: list[str]
    preprocessing: Preprocessing
    logits: LogitsFn
    source: str  # description of the model (checkpoint path, backend, weights)
    temperature: float = 1.0  # calibrated softmax temperature (1.0: not calibrated)
    threshold: float | None = None  # top-1 probability below which the label is "unknown"
    views: list[str] = field(default_factory=list)  # e.g. ground, overhead ([]: no view output)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities, (B, 3, H, W) -> (B, C) float64."""
        return self.outputs(x)[0]

    def outputs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """One model call: calibrated class probabilities (B, C) and the view probabilities
        (B, V), None where the model has no views (the temperature is the classes')."""
        return self.split(self.logits(x))

    def split(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """`outputs` of logits already computed."""
        n = len(self.classes)
        views = softmax(logits[:, n:]) if self.views else None
        return softmax(logits[:, :n], self.temperature), views

    def class_logits(self, x: np.ndarray) -> np.ndarray:
        """The classes' logits alone, (B, C)."""
        return self.logits(x)[:, : len(self.classes)]


def _classifier(meta: CheckpointMeta, logits: LogitsFn, source: str) -> Classifier:
    init = " (random init)" if meta.random_init else ""
    return Classifier(
        meta.classes,
        meta.preprocessing,
        logits,
        source + init,
        meta.temperature,
        meta.threshold,
        list(meta.model.views),
    )


def torch_classifier(checkpoint: str | Path) -> Classifier:
    """A Classifier running a landrec checkpoint in PyTorch eager (channels-last)."""
    import torch

    model, meta = load_checkpoint(checkpoint)
    model = model.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def logits(x: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
        return model.outputs(batch).float().numpy()

    return _classifier(meta, logits, f"{checkpoint} [torch]")


def onnx_classifier(path: str | Path, threads: int | None = None) -> Classifier:
    """A Classifier running an exported ONNX file on ONNX Runtime's CPU provider."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no such ONNX model")
    return _from_session(_session(path, threads), path)


def checkpoint_onnx_classifier(model: str | Path, threads: int | None = None) -> Classifier:
    """A Classifier running a run folder's (or checkpoint's) fp32 ONNX export on ONNX Runtime:
    the export cached beside the checkpoint; when it is missing or out of date, it is made
    (with PyTorch) at the first batch, so a run that classifies nothing writes nothing."""
    checkpoint = resolve_checkpoint(model)
    cached = onnx_cache_path(checkpoint)
    if cached.is_file():
        try:
            session = _session(cached, threads)
        except CheckpointError:  # a damaged cache file: rebuilt at the first batch
            pass
        else:
            if onnx_cache.is_current(session.get_modelmeta().custom_metadata_map, checkpoint):
                return _from_session(session, checkpoint)
    built: list[LogitsFn] = []

    def logits(x: np.ndarray) -> np.ndarray:
        if not built:
            built.append(_runner(_session(onnx_cache.build(checkpoint), threads)))
        return built[0](x)

    return _classifier(read_meta(checkpoint), logits, f"{checkpoint} [onnx]")


def _session(model: Path | bytes, threads: int | None) -> ort.InferenceSession:
    import onnxruntime as ort

    options = session_options(threads)
    # Idle ORT threads sleep instead of spinning: the decoding threads need those cycles (2
    # shared cores, 1,470 photos, median of 3 interleaved rounds: 89 images/s, 76 spinning).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    name = "the exported model" if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own types for protobuf and graph errors
        raise CheckpointError(f"{name}: not a loadable ONNX model ({exc})") from exc


def _runner(session: ort.InferenceSession) -> LogitsFn:
    input_name = session.get_inputs()[0].name
    return lambda x: session.run(None, {input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]


def _from_session(session: ort.InferenceSession, path: Path) -> Classifier:
    meta = parse_meta(session.get_modelmeta().custom_metadata_map, path)
    return _classifier(meta, _runner(session), f"{path} [onnx]")


def default_backend() -> Backend:
    """ONNX Runtime where it is installed (several times faster on CPU), else PyTorch."""
    return Backend.ONNX if importlib.util.find_spec("onnxruntime") else Backend.TORCH


def load_classifier(
    model_path: str | Path, backend: Backend | None = None, threads: int | None = None
) -> Classifier:
    """A run folder, checkpoint or (ONNX Runtime only) exported .onnx file, on `backend`
    (default: `default_backend()`); `threads`: ONNX Runtime's (default one per core)."""
    backend = backend or default_backend()
    if backend is Backend.TORCH:
        return torch_classifier(resolve_checkpoint(model_path))
    path = Path(model_path)
    if path.is_dir() or path.suffix.lower() == ".safetensors":
        return checkpoint_onnx_classifier(path, threads)
    return onnx_classifier(path, threads)


def with_options(
    classifier: Classifier, tta: bool = False, unknown: bool = True, threshold: float | None = None
) -> Classifier:
    """The classifier with flip TTA, and the "unknown" rule at `threshold` (default: the
    calibrated one) or, with `unknown` False, off."""
    logits = flip_tta(classifier.logits) if tta else classifier.logits
    chosen = effective_threshold(classifier.threshold, unknown, threshold)
    return replace(classifier, logits=logits, threshold=chosen)
