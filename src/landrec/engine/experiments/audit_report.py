"""What `landrec data audit` records and writes: suspects.csv, duplicates.csv, one contact sheet
per class and summary.json (the computation is in audit.py)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from landrec.data.atomic import write_text_atomic
from landrec.data.decode import ImageDecodeError, load_image

SUSPECTS_CSV = "suspects.csv"
DUPLICATES_CSV = "duplicates.csv"
SUMMARY_JSON = "summary.json"
SUSPECT_FIELDS = ("path", "split", "given", "suggested", "p_given", "p_suggested", "margin", "rank")
DUPLICATE_FIELDS = ("path_a", "split_a", "label_a", "path_b", "split_b", "label_b", "similarity")
THUMB = 160  # contact-sheet thumbnail side, pixels
SHEET_COLUMNS = 6


@dataclass
class AuditOptions:
    """What `landrec data audit` computes; feature extraction follows `TrainConfig` overrides."""

    models: tuple[str, ...] = ("mobilenet_v2", "efficientnet_lite0")  # features concatenated
    folds: int = 5  # stratified folds of the out-of-fold probabilities
    c: float = 0.01  # inverse L2 strength of the regression (0.01 best of 0.01-1 here)
    duplicate_threshold: float = 0.97  # cosine similarity above which two files are reported
    per_sheet: int = 24  # suspects shown on each class's contact sheet
    overrides: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields (weights, ...)


@dataclass
class Pool:
    """Every readable image of every split: features of all backbones, one row per file."""

    classes: list[str]
    paths: list[Path]
    splits: list[str]
    labels: np.ndarray  # (N,)
    features: np.ndarray  # (N, D): each backbone's features L2-normalised, concatenated
    weights: list[str]  # where each backbone's weights came from


@dataclass
class Findings:
    pool: Pool
    probs: np.ndarray  # (N, K) out-of-fold probabilities
    thresholds: np.ndarray  # (K,) confident-learning thresholds
    suspects: list[tuple[int, int, float]]  # (image, suggested class, margin), ranked
    pairs: list[tuple[int, int, float]]  # near-duplicates (image, image, cosine similarity)
    folds: int
    skipped: list[dict[str, str]]  # unreadable files and why


@dataclass
class AuditResult:
    summary: dict[str, Any]
    suspects: list[dict[str, Any]]
    duplicates: list[dict[str, Any]]


def suspect_rows(f: Findings) -> list[dict[str, Any]]:
    pool, probs = f.pool, f.probs
    return [
        {
            "path": str(pool.paths[i]),
            "split": pool.splits[i],
            "given": pool.classes[pool.labels[i]],
            "suggested": pool.classes[k],
            "p_given": round(float(probs[i, pool.labels[i]]), 4),
            "p_suggested": round(float(probs[i, k]), 4),
            "margin": round(margin, 4),
            "rank": rank,
        }
        for rank, (i, k, margin) in enumerate(f.suspects, 1)
    ]


def duplicate_rows(f: Findings) -> list[dict[str, Any]]:
    """Pairs across splits first (a test image seen in training), then by similarity."""
    pool = f.pool
    pairs = sorted(f.pairs, key=lambda p: (pool.splits[p[0]] == pool.splits[p[1]], -p[2]))
    return [
        {
            "path_a": str(pool.paths[i]),
            "split_a": pool.splits[i],
            "label_a": pool.classes[pool.labels[i]],
            "path_b": str(pool.paths[j]),
            "split_b": pool.splits[j],
            "label_b": pool.classes[pool.labels[j]],
            "similarity": round(sim, 4),
        }
        for i, j, sim in pairs
    ]


def write_csv(rows: list[dict[str, Any]], fields: tuple[str, ...], path: Path) -> Path:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, text.getvalue())
    return path


def _thumbnail(path: str) -> np.ndarray | None:
    try:
        image = load_image(path, draft_size=THUMB).convert("RGB")
    except (ImageDecodeError, OSError):
        return None
    image.thumbnail((THUMB, THUMB))
    return np.asarray(image)


def contact_sheet(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Thumbnails of `rows` (suspects.csv rows), each titled rank, split, given -> suggested
    with both probabilities, and the file's name."""
    n_rows = max(1, -(-len(rows) // SHEET_COLUMNS))
    fig = Figure(figsize=(2.2 * SHEET_COLUMNS, 2.5 * n_rows + 0.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, SHEET_COLUMNS, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, row in zip(axes, rows, strict=False):
        thumb = _thumbnail(row["path"])
        if thumb is not None:
            ax.imshow(thumb)
        ax.set_title(
            f"#{row['rank']} {row['split']}: {row['given']} -> {row['suggested']}\n"
            f"p {row['p_given']:.2f} -> {row['p_suggested']:.2f}  {Path(row['path']).name[:22]}",
            fontsize=7,
        )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return path


def _counts(f: Findings) -> dict[str, dict[str, dict[str, int]]]:
    """split -> class -> images and suspects."""
    pool = f.pool
    images = Counter(zip(pool.splits, pool.labels.tolist(), strict=True))
    flagged = Counter((pool.splits[i], int(pool.labels[i])) for i, _, _ in f.suspects)
    return {
        split: {
            name: {"images": images[split, k], "suspects": flagged[split, k]}
            for k, name in enumerate(pool.classes)
        }
        for split in dict.fromkeys(pool.splits)
    }


def summarise(f: Findings, options: AuditOptions, files: list[Path], seconds: float) -> dict:
    """The audit in numbers: what `--json` prints and summary.json holds."""
    pool = f.pool
    correct = f.probs.argmax(axis=1) == pool.labels
    splits = np.array(pool.splits)
    by_split = Counter(pool.splits[i] for i, _, _ in f.suspects)
    settings = {k: v for k, v in asdict(options).items() if k != "overrides"}
    return {
        **settings,
        "models": list(options.models),
        "folds": f.folds,
        "weights": pool.weights,
        "images": len(pool.labels),
        "probe_accuracy": round(float(correct.mean()), 4) if len(correct) else None,
        "probe_accuracy_by_split": {
            s: round(float(correct[splits == s].mean()), 4) for s in dict.fromkeys(pool.splits)
        },
        "thresholds": {
            c: round(float(t), 4) for c, t in zip(pool.classes, f.thresholds, strict=True)
        },
        "suspects": len(f.suspects),
        "suspects_by_split": {s: by_split[s] for s in dict.fromkeys(pool.splits)},
        "counts": _counts(f),
        "duplicates": len(f.pairs),
        "cross_split_duplicates": sum(pool.splits[i] != pool.splits[j] for i, j, _ in f.pairs),
        "skipped": f.skipped,
        "seconds": round(seconds, 1),
        "files": [str(p) for p in files],
    }


def write_outputs(
    out: Path, findings: Findings, options: AuditOptions, seconds: float
) -> AuditResult:
    """suspects.csv, duplicates.csv, suspects_<class>.png per class and summary.json in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    suspects, duplicates = suspect_rows(findings), duplicate_rows(findings)
    files = [
        write_csv(suspects, SUSPECT_FIELDS, out / SUSPECTS_CSV),
        write_csv(duplicates, DUPLICATE_FIELDS, out / DUPLICATES_CSV),
    ]
    for name in findings.pool.classes:
        rows = [r for r in suspects if r["given"] == name][: options.per_sheet]
        title = f"labelled {name}: top {len(rows)} suspects (given -> suggested)"
        files.append(contact_sheet(rows, out / f"suspects_{name}.png", title))
    files.append(out / SUMMARY_JSON)
    summary = summarise(findings, options, files, seconds)
    write_text_atomic(out / SUMMARY_JSON, json.dumps(summary, indent=2))
    return AuditResult(summary, suspects, duplicates)
