"""An ensemble of trained runs as one Classifier: the mean of the members' probabilities.

Photos are decoded once, at the largest member's input size, as plain [0, 1] pixels; each
member gets them resized (bilinear, antialiased) to its own input size and normalised with its
own mean and std. With crop-free preprocessing (a resize of the short side, then the centre
square) every member sees the same field of view. The ensemble has no calibrated temperature
or "unknown" threshold of its own: `with_options`' threshold applies to the mean.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from landrec.data.preprocess import Preprocessing
from landrec.engine.checkpoint import CheckpointError
from landrec.engine.config import Backend
from landrec.engine.inference.classifier import Classifier, load_classifier

SEPARATOR = ","


def _resized(x: np.ndarray, size: int) -> np.ndarray:
    if x.shape[-1] == size:
        return x
    import torch  # only where members' input sizes differ

    batch = torch.nn.functional.interpolate(
        torch.from_numpy(x), size=(size, size), mode="bilinear", antialias=True
    )
    return batch.numpy()


def _scale(pre: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    """A member's mean and std, shaped to broadcast over (B, 3, H, W)."""
    mean, std = (np.asarray(v, dtype=np.float32)[:, None, None] for v in (pre.mean, pre.std))
    return mean, std


def ensemble_classifier(members: list[Classifier]) -> Classifier:
    """One Classifier over `members` (the first one's class order); another class set, or a
    member whose preprocessing crops (resize_size set), is refused by name."""
    classes = members[0].classes
    for m in members:
        if sorted(m.classes) != sorted(classes):
            raise CheckpointError(f"ensemble: {m.source} knows {m.classes}, not {classes}")
        if m.preprocessing.resize_size not in (None, m.preprocessing.input_size):
            raise CheckpointError(f"ensemble: {m.source} crops its input; members must not")
    widest = max(members, key=lambda m: m.preprocessing.input_size).preprocessing
    plain = replace(widest, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    orders = [[m.classes.index(c) for c in classes] for m in members]
    scales = [_scale(m.preprocessing) for m in members]  # once, not per batch

    def logits(x: np.ndarray) -> np.ndarray:
        total = np.zeros((len(x), len(classes)))
        for m, order, (mean, std) in zip(members, orders, scales, strict=True):
            y = (_resized(x, m.preprocessing.input_size) - mean) / std
            probs = m.probabilities(np.ascontiguousarray(y, dtype=np.float32))
            total += probs[:, order]
        return np.log(np.clip(total / len(members), 1e-12, 1.0))  # softmax gives the mean back

    source = "ensemble of " + " + ".join(m.source for m in members)
    return Classifier(classes, plain, logits, source)


def model_list(text: str | Path) -> list[Path]:
    """The models a model option names: comma-separated, blanks dropped; a path that exists
    is one model, commas and all."""
    if Path(text).exists():
        return [Path(text)]
    return [Path(p.strip()) for p in str(text).split(SEPARATOR) if p.strip()]


def load_models(
    model: str | Path, backend: Backend | None = None, threads: int | None = None
) -> Classifier:
    """`load_classifier(model)`; several models (`model_list`) are one ensemble of them."""
    parts = model_list(model)
    if len(parts) < 2:
        return load_classifier(model, backend, threads)
    return ensemble_classifier([load_classifier(p, backend, threads) for p in parts])
