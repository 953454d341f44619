"""Images on disk -> batches of tensors; a file that cannot be decoded is reported, not fatal."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from landrec.data.decode import ImageDecodeError, load_image

Item = tuple[int, torch.Tensor | None, str | None]  # index, image or None, failure reason
log = logging.getLogger(__name__)


def item_seed(*parts: object) -> int:
    """A stable 63-bit seed from any parts (same on every machine and process)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class ImageDataset(Dataset[Item]):
    """Decodes and transforms files by index; a file that fails yields its reason instead."""

    def __init__(
        self,
        paths: Sequence[Path],
        transform: Callable,
        draft_size: int | None = None,
        seeds: Sequence[int] | None = None,
        pages: Sequence[int] | None = None,
        transforms: Sequence[Callable] | None = None,
    ) -> None:
        self.paths = list(paths)
        self.transform = transform
        self.transforms = transforms  # per-item transforms (e.g. by view); None: `transform`
        self.draft_size = draft_size
        self.seeds = seeds  # per-item RNG seeds: random transforms become reproducible
        self.pages = pages  # per-item page of a multi-page file (0-based); None: all first

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Item:
        page = 0 if self.pages is None else self.pages[index]
        try:
            image = load_image(self.paths[index], draft_size=self.draft_size, page=page)
        except ImageDecodeError as exc:
            return index, None, exc.reason
        transform = self.transform if self.transforms is None else self.transforms[index]
        if self.seeds is None:
            return index, transform(image), None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seeds[index])
            return index, transform(image), None


@dataclass
class Batch:
    images: torch.Tensor  # (B, 3, H, W); B may be 0 when every file failed
    indices: torch.Tensor  # (B,) positions in the dataset
    failures: list[tuple[int, str]] = field(default_factory=list)


def collate(items: list[Item]) -> Batch:
    good = [(i, x) for i, x, _ in items if x is not None]
    failures = [(i, reason) for i, x, reason in items if x is None and reason is not None]
    if not good:
        return Batch(torch.empty(0), torch.empty(0, dtype=torch.long), failures)
    return Batch(
        torch.stack([x for _, x in good]),
        torch.tensor([i for i, _ in good], dtype=torch.long),
        failures,
    )


def default_workers() -> int:
    """Decode in one background process on small machines, more where there are cores."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(4, cores - 1)


def make_loader(
    dataset: ImageDataset,
    batch_size: int,
    workers: int | None = None,
    sampler: Sequence[int] | None = None,
) -> DataLoader:
    """Batches in `sampler` order (default: file order); the caller owns any shuffling."""
    workers = default_workers() if workers is None else workers
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(0),  # worker seeds; transforms seed themselves
        persistent_workers=False,
    )


class FailureLog:
    """Collects unreadable files over a run and logs one warning line per file."""

    def __init__(self) -> None:
        self.failures: dict[str, str] = {}

    def add(self, path: Path, reason: str) -> None:
        if str(path) not in self.failures:
            self.failures[str(path)] = reason
            log.warning("skipped %s: %s", path, reason)

    def add_batch(self, paths: Sequence[Path], batch: Batch) -> None:
        for index, reason in batch.failures:
            self.add(paths[index], reason)

    def to_list(self) -> list[dict[str, str]]:
        return [{"path": p, "reason": r} for p, r in sorted(self.failures.items())]
