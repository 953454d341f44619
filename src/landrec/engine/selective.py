"""Selective classification: accept a prediction only when its top-1 probability reaches a
threshold, otherwise call it "unknown"; coverage and accuracy of that rule."""

from __future__ import annotations

import numpy as np

UNKNOWN = "unknown"  # the label given to images the model is not confident about


def label_or_unknown(label: str, confidence: float, threshold: float | None) -> str:
    """`label`, or "unknown" when its probability is below the threshold (None: never)."""
    return UNKNOWN if threshold is not None and confidence < threshold else label


def effective_threshold(
    calibrated: float | None, unknown: bool = True, override: float | None = None
) -> float | None:
    """The threshold in force: `override`, else the calibrated one; None when `unknown` is off."""
    if not unknown:
        return None
    return override if override is not None else calibrated


def coverage_accuracy(
    confidence: np.ndarray, correct: np.ndarray, threshold: float
) -> tuple[float, float | None]:
    """(coverage, accuracy on the accepted images) for accepting `confidence >= threshold`;
    accuracy is None when nothing is accepted."""
    accepted = confidence >= threshold
    coverage = float(accepted.mean()) if len(accepted) else 0.0
    accuracy = float(correct[accepted].mean()) if accepted.any() else None
    return coverage, accuracy


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> float | None:
    """The smallest threshold whose accepted images are at least `target` accurate: the lowest
    accepted confidence (0.0 when everything may be accepted); None when no threshold does."""
    order = np.argsort(-confidence, kind="stable")
    conf, ok = confidence[order], correct[order].astype(float)
    n = len(conf)
    if n == 0:
        return None
    accuracy_of_top = np.cumsum(ok) / np.arange(1, n + 1)  # accept the n most confident
    # Accepting exactly the top k is only possible where the next confidence is strictly lower.
    cut = np.r_[conf[:-1] > conf[1:], True]
    good = np.flatnonzero(cut & (accuracy_of_top >= target))
    if len(good) == 0:
        return None
    k = int(good[-1])
    return 0.0 if k == n - 1 else float(conf[k])


def coverage_curve(confidence: np.ndarray, correct: np.ndarray, points: int = 101) -> list[dict]:
    """Coverage and accuracy on accepted images for thresholds evenly spaced over [0, 1]."""
    curve = []
    for t in np.linspace(0.0, 1.0, points):
        coverage, accuracy = coverage_accuracy(confidence, correct, float(t))
        curve.append({"threshold": round(float(t), 6), "coverage": coverage, "accuracy": accuracy})
    return curve


def selective_summary(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """What the unknown rule does to a labelled set: how much it accepts and how well."""
    confidence, correct = probs.max(1), probs.argmax(1) == labels
    coverage, accuracy = coverage_accuracy(confidence, correct, threshold)
    return {
        "threshold": threshold,
        "n": len(labels),
        "coverage": coverage,
        "rejected": 1.0 - coverage if len(labels) else 0.0,
        "accuracy_accepted": accuracy,
        "accuracy_all": float(correct.mean()) if len(labels) else None,
    }
