"""Test-time augmentation: class probabilities averaged over a batch and its mirror image.

Both helpers return log-probabilities, so callers can treat them as logits: softmax of the
result gives back the averaged probabilities (and argmax is unchanged by the log).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the torch helpers import it where they run; flip_tta needs NumPy only
    import torch

NumpyLogits = Callable[[np.ndarray], np.ndarray]  # (B, 3, H, W) float32 -> (B, C)


def mean_probability_log(view_logits: list[torch.Tensor]) -> torch.Tensor:
    """log(mean over views of softmax(logits)), computed stably: (V x (B, C)) -> (B, C)."""
    import torch

    log_probs = torch.stack([v.double().log_softmax(1) for v in view_logits])
    return torch.logsumexp(log_probs, 0) - math.log(len(view_logits))


TorchLogits = Callable[["torch.Tensor"], "torch.Tensor"]


def flip_tta_torch(logits_of: TorchLogits, x: torch.Tensor) -> torch.Tensor:
    """Log of the probabilities averaged over `x` and its horizontal flip (x is (B, 3, H, W))."""
    return mean_probability_log([logits_of(x), logits_of(x.flip(-1))]).float()


def flip_tta(logits: NumpyLogits) -> NumpyLogits:
    """Wrap a numpy logits function (a torch or ONNX model) so it averages over the flip."""

    def averaged(x: np.ndarray) -> np.ndarray:
        views = [x, np.ascontiguousarray(x[..., ::-1])]
        z = np.stack([logits(v) for v in views]).astype(np.float64)  # (V, B, C)
        log_probs = z - _logsumexp(z, -1)
        return (_logsumexp(log_probs, 0)[0] - math.log(len(views))).astype(np.float32)

    return averaged


def _logsumexp(z: np.ndarray, axis: int) -> np.ndarray:
    """log(sum(exp(z))) over `axis`, kept as a length-1 axis, computed stably."""
    top = z.max(axis=axis, keepdims=True)
    return top + np.log(np.exp(z - top).sum(axis=axis, keepdims=True))
