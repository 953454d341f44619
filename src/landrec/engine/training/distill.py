"""Knowledge distillation: trained runs (the teachers) give soft targets for a new run.

Each teacher classifies training photos once, clean (its own eval preprocessing, through the
prediction pipeline); the teachers' probabilities at `distill_temperature` are averaged, and
each photo's target becomes (1 - alpha) * its one-hot label + alpha * that average. The student
trains on these targets with the usual cross-entropy (label smoothing included), for every
cached augmented view of the photo; validation and checkpoint choice use the true labels.

Out-of-fold teachers: a teacher trained with `--exclude LIST` never saw the listed photos, so
what it says of them is a prediction, not a memory of the label. For a photo that some teachers
were trained without, only those teachers are averaged; other photos get every teacher. Teachers
trained on complementary folds (each excluding one fold) so cover every photo out of fold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from landrec.data.layout import DatasetSplits, Split
from landrec.engine.checkpoint import CheckpointError
from landrec.engine.config import ConfigError, TrainConfig, load_yaml
from landrec.engine.inference.classifier import Classifier, load_classifier
from landrec.engine.inference.ensemble import model_list
from landrec.engine.pipeline import image_batches
from landrec.engine.probability import softmax
from landrec.engine.runs import RunFolder
from landrec.engine.training.exclude import listed_files

BATCH = 64


def teacher_runs(config: TrainConfig) -> list[Path]:
    """The `teacher` option's run folders (or checkpoints or .onnx files), comma-separated."""
    return model_list(config.teacher) if config.teacher else []


def _load(run: Path) -> Classifier:
    try:
        return load_classifier(run)
    except (CheckpointError, FileNotFoundError, OSError) as exc:
        raise ConfigError(f"teacher: {run}: {exc}") from exc


def held_out(run: Path, data_root: str | Path) -> set[Path]:
    """The files a teacher run was trained without: the `exclude` list of its saved config
    (resolved against `data_root`); none for an exported model or a run without a list."""
    config = RunFolder(run if run.is_dir() else run.parent).config
    listed = load_yaml(config).get("exclude") if config.is_file() else None
    if not listed:
        return set()
    try:
        return listed_files(listed, data_root)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"teacher: {run} was trained without {listed}: cannot read it") from exc


def check_teachers(config: TrainConfig, data: DatasetSplits) -> None:
    """Refuse, before anything is written, teachers that cannot serve: a missing or unloadable
    run, another class set, an unreadable exclusion list, or a run without the feature cache
    (the targets follow the cache's rows)."""
    runs = teacher_runs(config)
    if config.teacher is not None and not runs:
        raise ConfigError(f"teacher: {config.teacher!r} names no run")
    if runs and not config.cache:
        raise ConfigError("teacher: distillation trains from the feature cache (cache: true)")
    for run in runs:
        known = sorted(_load(run).classes)
        if known != sorted(data.classes):
            raise ConfigError(f"teacher: {run} knows {known}, the data {sorted(data.classes)}")
        held_out(run, data.root)


def teacher_probabilities(
    runs: list[Path],
    paths: list[Path],
    classes: list[str],
    temperature: float = 1.0,
    workers: int | None = None,
    held: list[set[Path]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The teachers' mean probabilities (N, C) over `paths`, columns in `classes`' order
    (each row over the teachers that could read the photo), and which rows any could read.
    With `held` (per teacher, the files it was trained without), a photo some teachers held
    out is averaged over those teachers alone."""
    held = held or [set() for _ in runs]
    resolved = [p.resolve() for p in paths]
    out_of_fold = np.array([[p in h for p in resolved] for h in held]).reshape(len(runs), -1)
    uses = np.where(out_of_fold.any(axis=0), out_of_fold, True)  # (teachers, N)
    total, counts = np.zeros((len(paths), len(classes))), np.zeros(len(paths))
    for run, use in zip(runs, uses, strict=True):
        teacher, rows = _load(run), np.flatnonzero(use)
        order = [teacher.classes.index(c) for c in classes]
        batches = image_batches(
            [(paths[i], 0) for i in rows], teacher.preprocessing, BATCH, workers
        )
        for batch in tqdm(batches, f"teacher {run}", -(-len(rows) // BATCH), leave=False):
            if batch.indices:
                logits = teacher.class_logits(batch.images)[:, order]
                total[rows[batch.indices]] += softmax(logits, temperature)
                counts[rows[batch.indices]] += 1
    return total / np.maximum(counts, 1)[:, None], counts > 0


def soft_targets(
    labels: torch.Tensor, teacher: np.ndarray, readable: np.ndarray, alpha: float
) -> torch.Tensor:
    """(1 - alpha) * one-hot(labels) + alpha * teacher, row by row; a row no teacher could read
    keeps its one-hot label."""
    onehot = torch.nn.functional.one_hot(labels, teacher.shape[1]).double()
    mixed = (1 - alpha) * onehot + alpha * torch.from_numpy(teacher)
    keep = torch.from_numpy(readable)[:, None]
    return torch.where(keep, mixed, onehot).float()


def distill_targets(
    config: TrainConfig, data: DatasetSplits, labels: torch.Tensor, keep: list[int]
) -> torch.Tensor:
    """Soft targets for the training rows `keep` (positions in the train split) of `data`."""
    paths, _ = data.get(Split.TRAIN).paths_labels()
    runs = teacher_runs(config)
    probs, readable = teacher_probabilities(
        runs,
        [paths[i] for i in keep],
        data.classes,
        config.distill_temperature,
        config.workers,
        [held_out(run, data.root) for run in runs],
    )
    return soft_targets(labels, probs, readable, config.distill_alpha)
