"""PNG figures: learning curves, confusion matrices, coverage curves (matplotlib, no pyplot)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_curves(history: list[dict], path: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, train vs val, with stage boundaries marked."""
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    x = np.arange(1, len(history) + 1)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        ax.plot(x, [r[f"train_{key}"] for r in history], label=f"train {key}", marker=".")
        ax.plot(x, [r[f"val_{key}"] for r in history], label=f"val {key}", marker=".")
        for i in range(1, len(history)):
            if history[i]["stage"] != history[i - 1]["stage"]:
                ax.axvline(i + 0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch (all stages)")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_confusion(matrix: np.ndarray, classes: list[str], path: Path, title: str = "") -> Path:
    """Row-normalised heatmap with the counts written in each cell."""
    counts = np.asarray(matrix)
    norm = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.8 * len(classes) + 2)
    fig = Figure(figsize=(size, size))
    ax = fig.subplots()
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(classes)):
        for j in range(len(classes)):
            colour = "white" if norm[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{counts[i, j]}\n{norm[i, j]:.2f}",
                ha="center",
                va="center",
                color=colour,
                fontsize=8,
            )
    ax.set_title(title or "confusion matrix (row-normalised)")
    return _save(fig, path)


def plot_coverage(
    curve: list[dict], path: Path, target: float, threshold: float | None, title: str = ""
) -> Path:
    """Accuracy on accepted images against coverage, and both against the threshold."""
    t = np.array([p["threshold"] for p in curve])
    coverage = np.array([p["coverage"] for p in curve])
    accuracy = np.array([np.nan if p["accuracy"] is None else p["accuracy"] for p in curve])
    fig = Figure(figsize=(10, 4))
    ax_cov, ax_t = fig.subplots(1, 2)
    ax_cov.plot(coverage, accuracy, marker=".")
    ax_cov.set_xlabel("coverage (fraction accepted)")
    ax_cov.set_ylabel("accuracy on accepted images")
    ax_t.plot(t, coverage, label="coverage")
    ax_t.plot(t, accuracy, label="accuracy on accepted")
    ax_t.set_xlabel("threshold on top-1 probability")
    for ax in (ax_cov, ax_t):
        ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target:g}")
        ax.grid(alpha=0.3)
    if threshold is not None:
        ax_t.axvline(threshold, color="red", linewidth=1, label=f"threshold {threshold:.3f}")
    ax_t.legend()
    fig.suptitle(title or "coverage vs accuracy")
    return _save(fig, path)
