"""Evaluation through the feature cache, for training runs and studies.

A trained model's frozen prefix (everything before the block its run cached) runs through the
run's extractor: ONNX Runtime by default, several times faster than PyTorch eager on a CPU,
and cached, so a second evaluation of the same split decodes nothing. The trained blocks and
the head run in PyTorch, as in training. Throughput is timed apart, on a sample of the split
through the whole eager pipeline (decode, preprocess, model) as `landrec evaluate` runs it.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import torch

from landrec.data.dataset import FailureLog
from landrec.data.layout import Split, SplitData, load_eval_folder
from landrec.engine.checkpoint import CheckpointMeta, load_checkpoint
from landrec.engine.config import TrainConfig
from landrec.engine.evaluation.evaluate import (
    EvalResult,
    evaluate_model,
    image_logits,
    labelled_paths,
    result_of,
    split_view_metrics,
    write_report,
)
from landrec.engine.loop import CachedSource, predict_logits
from landrec.engine.training.exclude import exclude_from_test
from landrec.engine.training.features import ViewSpec
from landrec.engine.training.prepare import cache_start, make_extractor
from landrec.engine.tta import mean_probability_log
from landrec.models.net import BlockClassifier, fold

THROUGHPUT_SAMPLE = 128  # images timed through the eager pipeline


def evaluate_cached(
    model: BlockClassifier,
    meta: CheckpointMeta,
    split: SplitData,
    config: TrainConfig,
    tta: bool = False,
    sample: int = THROUGHPUT_SAMPLE,
) -> EvalResult:
    """Metrics of every image of `split` through the feature cache of `config`; `tta`
    averages the probabilities of each image and its mirror (both cached); for a split with
    views (a sources file's), each view's figures."""
    logits, labels, failures, view_logits = _cached_outputs(model, meta, split, config, tta)
    speed, timed = pipeline_speed(model, meta, split, config, sample, tta)
    outputs = (logits, labels, failures)
    per_view = split_view_metrics(split, meta, outputs, view_logits)
    return result_of(
        model, meta, split.name, outputs, speed, tta, timed_images=timed, per_view=per_view
    )


def cached_split_logits(
    model: BlockClassifier,
    meta: CheckpointMeta,
    split: SplitData,
    config: TrainConfig,
    tta: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, FailureLog]:
    """Logits and labels of the readable images of `split`, and the failures."""
    logits, labels, failures, _ = _cached_outputs(model, meta, split, config, tta)
    return logits, labels, failures


def _cached_outputs(
    model: BlockClassifier,
    meta: CheckpointMeta,
    split: SplitData,
    config: TrainConfig,
    tta: bool,
) -> tuple[torch.Tensor, torch.Tensor, FailureLog, torch.Tensor | None]:
    """`cached_split_logits`, and for a split with views, of a model with views, the views'
    logits of the images as they are (not mirrored)."""
    paths, labels = labelled_paths(meta, split)
    start = cache_start(config, model)
    extractor = make_extractor(config, model, start, meta.preprocessing)
    views = [ViewSpec(), *([ViewSpec(mirror=True)] if tta else [])]
    failures = FailureLog()
    fs = extractor.extract(paths, labels, views, failures, split.name)
    if len(fs.labels) == 0:
        return torch.empty(0, len(meta.classes)), fs.labels, failures, None
    per_view = [
        predict_logits(model, CachedSource(fs.features[v : v + 1], fs.labels, 256), start)[0]
        for v in range(len(views))
    ]
    logits = mean_probability_log(per_view).float() if tta else per_view[0]
    view_logits = None
    if split.views and model.views > 1:
        clean = CachedSource(fs.features[0:1], fs.labels, 256)
        view_logits = fold(predict_logits(model, clean, start, joint=True)[0], model.views)[1]
    return logits, fs.labels, failures, view_logits


def pipeline_speed(
    model: BlockClassifier,
    meta: CheckpointMeta,
    split: SplitData,
    config: TrainConfig,
    sample: int = THROUGHPUT_SAMPLE,
    tta: bool = False,
) -> tuple[float, int]:
    """Images/s of decode + preprocess + eager model (with `tta`: on both views) on a seeded
    sample of the split, and the number of images timed."""
    paths, labels = labelled_paths(meta, split)
    pick = sorted(random.Random(config.seed).sample(range(len(paths)), min(sample, len(paths))))
    t0 = time.perf_counter()
    _, kept, _ = image_logits(
        model,
        meta.preprocessing,
        [paths[i] for i in pick],
        [labels[i] for i in pick],
        config.batch_size,
        config.workers,
        tta,
    )
    seconds = time.perf_counter() - t0
    return (len(kept) / seconds if seconds > 0 else 0.0), len(kept)


def evaluate_split(
    model: BlockClassifier,
    meta: CheckpointMeta,
    split: SplitData,
    config: TrainConfig,
    tta: bool = False,
) -> EvalResult:
    """Through the feature cache when the run used one, else image by image."""
    if config.cache:
        return evaluate_cached(model, meta, split, config, tta)
    return evaluate_model(model, meta, split, config.batch_size, config.workers, tta)


def evaluate_on_test(checkpoint: Path, data: str | Path, config: TrainConfig) -> EvalResult:
    """A trained run's checkpoint on the test split of `data`; the report files go beside it."""
    model, meta = load_checkpoint(checkpoint)
    folder = exclude_from_test(load_eval_folder(data, Split.TEST, meta.classes), data, config)
    return write_report(evaluate_split(model, meta, folder, config), checkpoint.parent)
