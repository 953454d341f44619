"""landrec data audit: likely label errors and near-duplicates, from frozen features.

Every image of every split gets pooled features from each backbone (through the feature cache,
so a second audit decodes nothing), then out-of-fold probabilities from a logistic regression
fitted K times on the other folds (folds stratified by label, splits pooled). Confident learning
(Northcutt et al., 2021) reads label errors from them: class k's threshold is the mean
probability of k over the images labelled k; an image is a suspect when another class clears
its threshold while the image's own label does not (the confident joint's off-diagonal), ranked
by how far the suggested class's probability exceeds the given one's. Near-duplicates are pairs
of files whose features' cosine similarity exceeds a threshold.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from landrec.data.dataset import FailureLog
from landrec.data.layout import DatasetSplits, load_splits
from landrec.engine.config import ConfigError, TrainConfig, apply_overrides
from landrec.engine.experiments.audit_report import (
    AuditOptions,
    AuditResult,
    Findings,
    Pool,
    write_outputs,
)
from landrec.engine.experiments.probe import frozen_backbone, split_features


def gather(data: DatasetSplits, configs: list[TrainConfig], failures: FailureLog) -> Pool:
    """Pooled features of every file of every split, for each backbone, through the cache."""
    per_model: list[dict[Path, np.ndarray]] = []
    weights = []
    for config in configs:
        frozen = frozen_backbone(config, data)
        weights.append(frozen.weights.source)
        found: dict[Path, np.ndarray] = {}
        for split in data.splits.values():
            fs = split_features(frozen.extractor, split, failures)
            vectors = fs.features[0].float().numpy()
            found.update({split.samples[i].path: vectors[j] for j, i in enumerate(fs.keep)})
        per_model.append(found)
    samples = [(s, name.value) for name, d in data.splits.items() for s in d.samples]
    kept = [(s, name) for s, name in samples if all(s.path in f for f in per_model)]
    blocks = [_normalised(np.stack([f[s.path] for s, _ in kept])) for f in per_model]
    return Pool(
        data.classes,
        [s.path for s, _ in kept],
        [name for _, name in kept],
        np.array([s.label for s, _ in kept], dtype=np.int64),
        np.concatenate(blocks, axis=1) / np.sqrt(len(blocks)),
        weights,
    )


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def out_of_fold(pool: Pool, folds: int, c: float, seed: int = 0) -> np.ndarray:
    """(N, K) probabilities, each row from a regression that never saw that image."""
    n_classes = len(pool.classes)
    probs = np.zeros((len(pool.labels), n_classes))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, held_rows in splitter.split(pool.features, pool.labels):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        model.fit(pool.features[fit_rows], pool.labels[fit_rows])
        classes = model.classes_
        probs[np.ix_(held_rows, classes)] = model.predict_proba(pool.features[held_rows])
    return probs


def class_thresholds(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per class: the mean probability of that class over the images labelled with it."""
    return np.array(
        [
            probs[labels == k, k].mean() if (labels == k).any() else 1.0
            for k in range(probs.shape[1])
        ]
    )


def find_suspects(
    probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray
) -> list[tuple[int, int, float]]:
    """(image, suggested class, margin) of each off-diagonal entry of the confident joint,
    largest margin first: another class clears its threshold, the given label does not."""
    rows = np.arange(len(labels))
    own = probs[rows, labels]
    others = probs >= thresholds
    others[rows, labels] = False
    flagged = others.any(axis=1) & (own < thresholds[labels])
    suggested = np.where(others, probs, -1.0).argmax(axis=1)
    margin = probs[rows, suggested] - own
    order = sorted(np.flatnonzero(flagged), key=lambda i: (-margin[i], i))
    return [(int(i), int(suggested[i]), float(margin[i])) for i in order]


def near_duplicates(
    features: np.ndarray, threshold: float, chunk: int = 1024
) -> list[tuple[int, int, float]]:
    """Pairs (i < j) of rows whose cosine similarity exceeds `threshold`."""
    x = _normalised(features.astype(np.float32))
    pairs = []
    for start in range(0, len(x), chunk):
        sims = x[start : start + chunk] @ x.T  # (chunk, N)
        rows, cols = np.nonzero(sims > threshold)
        rows = rows + start
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            if j > i:
                pairs.append((i, j, float(sims[i - start, j])))
    return pairs


def _configs(options: AuditOptions) -> list[TrainConfig]:
    """One TrainConfig per backbone: the overrides, checked, with that model."""
    return [
        apply_overrides(TrainConfig(), {**options.overrides, "model": m}) for m in options.models
    ]


def _folds(labels: np.ndarray, wanted: int) -> int:
    """`wanted`, or fewer when a class has fewer images than folds (at least 2 each)."""
    smallest = int(np.bincount(labels).min()) if len(labels) else 0
    if smallest < 2:
        raise ConfigError("audit: every class needs at least 2 readable images")
    return min(wanted, smallest)


def audit(
    data_root: str | Path, out: str | Path, options: AuditOptions | None = None
) -> AuditResult:
    """Audit every split of `data_root`; write suspects.csv, duplicates.csv, one contact sheet
    per class and summary.json into `out`."""
    options = options or AuditOptions()
    if options.folds < 2:
        raise ConfigError(f"folds: {options.folds} is out of range (allowed: integer >= 2)")
    started = time.perf_counter()
    configs = _configs(options)
    data = load_splits(data_root, configs[0].val_fraction, configs[0].seed)
    failures = FailureLog()
    pool = gather(data, configs, failures)
    folds = _folds(pool.labels, options.folds)
    probs = out_of_fold(pool, folds, options.c, configs[0].seed)
    thresholds = class_thresholds(probs, pool.labels)
    findings = Findings(
        pool,
        probs,
        thresholds,
        find_suspects(probs, pool.labels, thresholds),
        near_duplicates(pool.features, options.duplicate_threshold),
        folds,
        failures.to_list(),
    )
    return write_outputs(Path(out), findings, options, time.perf_counter() - started)
