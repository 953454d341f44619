"""One epoch of training or evaluation over a source of (inputs, labels) batches.

A source is either cached features (inputs of block `start`) or decoded images (start 0);
the loop does not care which, so the cached and uncached paths share every line of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from landrec.data.dataset import FailureLog, ImageDataset, item_seed, make_loader
from landrec.data.preprocess import Preprocessing
from landrec.engine.pipeline import image_batches
from landrec.engine.tta import flip_tta_torch
from landrec.models.net import BlockClassifier

Batches = Iterator[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class EpochStats:
    loss: float
    accuracy: float
    n: int
    # `accuracy` on each view's samples averaged over the views, each view weighing the same
    # (`accuracy` itself for a head without views)
    view_balanced: float = float("nan")


def epoch_order(n: int, seed: int) -> tuple[torch.Tensor, torch.Generator]:
    """The shuffled order of an epoch, shared by the cached and image paths."""
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g), g


def to_model(x: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """Move a batch to the model's device; 4-D maps go channels-last (faster on CPU and GPU)."""
    device = next(model.parameters()).device
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


class CachedSource:
    """Batches from cached features (V views x N images); one random view per image per epoch."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor, batch_size: int) -> None:
        self.features, self.labels, self.batch_size = features, labels, batch_size
        self.start = 0

    def __len__(self) -> int:
        return (len(self.labels) + self.batch_size - 1) // self.batch_size

    def batches(self, seed: int | None = None) -> Batches:
        """`seed` None: in order, view 0. Else shuffled with a random view, from that seed."""
        n_views, n = self.features.shape[0], len(self.labels)
        if seed is None:
            order, views = torch.arange(n), torch.zeros(n, dtype=torch.long)
        else:
            order, g = epoch_order(n, seed)
            views = torch.randint(n_views, (n,), generator=g)
        for i in range(0, n, self.batch_size):
            idx = order[i : i + self.batch_size]
            yield self.features[views[idx], idx].float(), self.labels[idx]


class ImageSource:
    """Batches of decoded images; random transforms seeded per (seed, file)."""

    def __init__(
        self,
        paths: list[Path],
        labels: list[int],
        transform: Callable,
        batch_size: int,
        failures: FailureLog,
        workers: int | None = None,
        draft_size: int | None = None,
        transforms: list[Callable] | None = None,
    ) -> None:
        self.paths, self.labels = paths, torch.tensor(labels)
        self.transform, self.batch_size, self.failures = transform, batch_size, failures
        self.workers, self.draft_size = workers, draft_size
        self.transforms = transforms  # per file (e.g. by its view); None: `transform` for all

    def __len__(self) -> int:
        return (len(self.paths) + self.batch_size - 1) // self.batch_size

    def batches(self, seed: int | None = None) -> Batches:
        seeds = None if seed is None else [item_seed(seed, str(p)) for p in self.paths]
        dataset = ImageDataset(
            self.paths, self.transform, self.draft_size, seeds, transforms=self.transforms
        )
        order = None if seed is None else epoch_order(len(self.paths), seed)[0].tolist()
        loader = make_loader(dataset, self.batch_size, self.workers, sampler=order)
        for batch in loader:
            self.failures.add_batch(self.paths, batch)
            if len(batch.indices):
                yield batch.images, self.labels[batch.indices]


class PipelineSource:
    """Evaluation batches from the prediction pipeline (`engine/pipeline.py`): decoding and
    NumPy preprocessing in threads, ahead of the model; the same arrays `landrec predict`
    classifies. In order, never shuffled."""

    def __init__(
        self,
        paths: list[Path],
        labels: list[int],
        pre: Preprocessing,
        batch_size: int,
        failures: FailureLog,
        workers: int | None = None,
    ) -> None:
        self.paths, self.labels, self.pre = paths, torch.tensor(labels), pre
        self.batch_size, self.failures, self.workers = batch_size, failures, workers

    def __len__(self) -> int:
        return (len(self.paths) + self.batch_size - 1) // self.batch_size

    def batches(self, seed: int | None = None) -> Batches:
        if seed is not None:
            raise ValueError("the prediction pipeline reads in order: no shuffled epochs")
        items = [(p, 0) for p in self.paths]
        for batch in image_batches(items, self.pre, self.batch_size, self.workers or None):
            for index, reason in batch.failures:
                self.failures.add(self.paths[index], reason)
            if batch.indices:
                yield torch.from_numpy(batch.images), self.labels[batch.indices]


Source = CachedSource | ImageSource | PipelineSource


def train_one_epoch(
    model: BlockClassifier,
    source: Source,
    start: int,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    seed: int,
    desc: str = "train",
) -> EpochStats:
    """One pass of SGD steps; `start` is the block the source's inputs feed."""
    model.train()
    torch.manual_seed(item_seed(seed, "dropout"))
    total_loss, correct, n = 0.0, 0, 0
    for x, y in tqdm(source.batches(seed), total=len(source), desc=desc, leave=False):
        x = to_model(x, model)
        y = y.to(x.device)
        logits = model.joint_from(start, x)  # one per (view, class) where the head has views
        loss = criterion(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(y)
        hard = y if y.ndim == 1 else y.argmax(1)  # soft targets (distillation): their top class
        correct += int((logits.argmax(1) == hard).sum())
        n += len(y)
    return EpochStats(total_loss / max(n, 1), correct / max(n, 1), n)


@torch.inference_mode()
def predict_logits(
    model: BlockClassifier, source: Source, start: int, tta: bool = False, joint: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels over a source, in order, in eval mode; with `tta`, the log of the
    probabilities averaged over each batch and its horizontal flip (images only: start 0);
    with `joint`, the head's own logits (per view and class: what training's labels index)."""
    if tta and start != 0:
        raise ValueError("test-time augmentation flips images; cached features cannot be flipped")
    model.eval()
    outs, labels = [], []
    for x, y in source.batches(None):
        x = to_model(x, model)
        forward = partial(model.joint_from if joint else model.forward_from, start)
        out = flip_tta_torch(forward, x) if tta else forward(x)
        outs.append(out.float().cpu())
        labels.append(y)
    if not outs:
        return torch.empty(0), torch.empty(0, dtype=torch.long)
    return torch.cat(outs), torch.cat(labels)


def evaluate_epoch(model: BlockClassifier, source: Source, start: int) -> EpochStats:
    logits, labels = predict_logits(model, source, start, joint=True)
    if len(labels) == 0:
        return EpochStats(float("nan"), 0.0, 0)
    loss = nn.functional.cross_entropy(logits, labels).item()
    accuracy = float((logits.argmax(1) == labels).float().mean())
    return EpochStats(loss, accuracy, len(labels), view_balanced(logits, labels, model.views))


def view_balanced(joint: torch.Tensor, targets: torch.Tensor, views: int) -> float:
    """The share of samples whose (view, class) pair is right, on each view's samples, averaged
    over the views (targets index the pairs view-major); plain accuracy without views."""
    right = joint.argmax(1) == targets
    if views <= 1:
        return float(right.float().mean())
    of_view = targets // (joint.shape[1] // views)
    per_view = [right[of_view == v].float().mean() for v in range(views) if (of_view == v).any()]
    return float(torch.stack(per_view).mean())
