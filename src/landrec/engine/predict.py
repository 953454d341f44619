"""landrec predict: classify files and folders with a checkpoint (PyTorch or ONNX Runtime)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from landrec.data.dataset import ImageDataset, make_loader
from landrec.data.layout import IMAGE_EXTENSIONS
from landrec.data.transforms import Preprocessing, eval_transform
from landrec.engine.checkpoint import load_checkpoint

LogitsFn = Callable[[np.ndarray], np.ndarray]  # (B, 3, H, W) float32 -> (B, C) logits


class Backend(str, Enum):
    TORCH = "torch"
    ONNX = "onnx"


@dataclass
class Prediction:
    path: str
    label: str | None  # None when the file could not be read
    confidence: float | None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "label": self.label,
            "confidence": self.confidence,
            "top_k": [{"label": c, "probability": p} for c, p in self.top_k],
            "error": self.error,
        }


@dataclass
class Classifier:
    """What prediction needs: class names, preprocessing and a logits function."""

    classes: list[str]
    preprocessing: Preprocessing
    logits: LogitsFn
    source: str  # description of the model (checkpoint path, backend, weights)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders recursively (image files only), in sorted order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                sorted(
                    f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
                )
            )
        else:
            out.append(p)
    return out


def torch_classifier(checkpoint: str | Path) -> Classifier:
    model, meta = load_checkpoint(checkpoint)
    model = model.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def logits(x: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
        return model(batch).float().numpy()

    init = " (random init)" if meta.random_init else ""
    return Classifier(meta.classes, meta.preprocessing, logits, f"{checkpoint} [torch]{init}")


def load_classifier(model_path: str | Path, backend: Backend = Backend.TORCH) -> Classifier:
    if backend is Backend.ONNX:
        from landrec.engine.export import onnx_classifier

        return onnx_classifier(model_path)
    return torch_classifier(model_path)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict_files(
    classifier: Classifier,
    paths: list[Path],
    top_k: int = 3,
    batch_size: int = 32,
    workers: int | None = None,
    progress: bool = True,
) -> list[Prediction]:
    """One Prediction per path, in order; unreadable files carry their error."""
    pre = classifier.preprocessing
    dataset = ImageDataset(paths, eval_transform(pre), draft_size=pre.short_side)
    results: dict[int, Prediction] = {}
    k = max(1, min(top_k, len(classifier.classes)))
    loader = make_loader(dataset, batch_size, workers)
    for batch in tqdm(loader, desc="predict", unit="batch", disable=not progress):
        for i, reason in batch.failures:
            results[i] = Prediction(str(paths[i]), None, None, error=reason)
        if len(batch.indices) == 0:
            continue
        probs = softmax(classifier.logits(batch.images.numpy()))
        for row, i in zip(probs, batch.indices.tolist(), strict=True):
            order = np.argsort(-row)[:k]
            top = [(classifier.classes[j], float(row[j])) for j in order]
            results[i] = Prediction(str(paths[i]), top[0][0], top[0][1], top)
    return [results[i] for i in range(len(paths))]
