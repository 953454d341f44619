"""Image files to model-ready batches: decoding and preprocessing run in a pool of threads ahead
of the model (the next batches decode while the current one is classified), in input order;
a file that cannot be decoded becomes its row's error, never the run's.

Threads, not processes: libjpeg-turbo (through simplejpeg or Pillow) and Pillow's resize
release the GIL, NumPy too while it normalises, and ONNX Runtime while it runs. On the shared
2-core machine the two were within its noise (2 threads 82 images/s against 74 for one worker
process in one session, 89 against 99 in another; benchmarks/bench_predict.py measures both),
and threads need no process start, no pickled arrays and no fork of a process holding ORT's
threads; they also write each image straight into its row of the batch.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from landrec.data.preprocess import Loaded, Preprocessing, load_array

AHEAD = 2  # batches decoding while the model runs: enough to hide an uneven batch


@dataclass
class Timings:
    """Optional counters of where prediction's time goes (seconds; decode and preprocess are
    summed over the workers, so they can exceed the wall time)."""

    decode_s: float = 0.0
    preprocess_s: float = 0.0
    wait_s: float = 0.0  # the model waiting for a batch to be ready
    infer_s: float = 0.0  # the model, softmax included
    images: int = 0

    def add(self, loaded: Loaded) -> None:
        self.decode_s += loaded.decode_s
        self.preprocess_s += loaded.preprocess_s
        self.images += 1


@dataclass
class ArrayBatch:
    images: np.ndarray  # (B, 3, H, W) float32 of the images that decoded; B may be 0
    indices: list[int]  # their positions in the input
    failures: list[tuple[int, str]] = field(default_factory=list)  # (position, reason)
    size: int = 0  # inputs the batch covers, decoded or not


def default_workers() -> int:
    """Decoding threads: one per core, 4 at most (the model uses the cores too)."""
    return max(1, min(4, os.cpu_count() or 1))


def image_batches(
    items: Sequence[tuple[Path, int]],
    pre: Preprocessing,
    batch_size: int = 32,
    workers: int | None = None,
    timings: Timings | None = None,
    pool: Executor | None = None,
) -> Iterator[ArrayBatch]:
    """Batches of (path, page) items decoded and preprocessed by `workers` threads (or by
    `pool`, e.g. a ProcessPoolExecutor), `AHEAD` batches ahead of the consumer, in order.
    Threads write each image into its row of the batch's array (no stacking copy afterwards:
    it cost 5 ms a batch of 32 on the model's thread); a process pool returns arrays."""
    owned = pool is None
    executor = ThreadPoolExecutor(workers or default_workers()) if pool is None else pool
    in_place = isinstance(executor, ThreadPoolExecutor)
    size = pre.input_size
    with executor if owned else nullcontext(executor):
        starts = iter(range(0, len(items), batch_size))
        pending: deque[tuple[int, np.ndarray | None, list[Future[Loaded]]]] = deque()

        def submit() -> None:
            start = next(starts, None)
            if start is None:
                return
            chunk = items[start : start + batch_size]
            rows = np.empty((len(chunk), 3, size, size), np.float32) if in_place else None
            futures = [
                executor.submit(load_array, path, pre, page, None if rows is None else rows[i])
                for i, (path, page) in enumerate(chunk)
            ]
            pending.append((start, rows, futures))

        for _ in range(AHEAD + 1):
            submit()
        while pending:
            start, rows, futures = pending.popleft()
            submit()  # keep AHEAD batches decoding while this one is classified
            waited = time.perf_counter()
            loaded = [f.result() for f in futures]
            if timings is not None:
                timings.wait_s += time.perf_counter() - waited
                for one in loaded:
                    timings.add(one)
            yield collate(start, loaded, pre, rows)


def collate(
    start: int, loaded: list[Loaded], pre: Preprocessing, rows: np.ndarray | None = None
) -> ArrayBatch:
    """One batch from the loaded items at positions start, start + 1, ...; `rows` is the array
    they were written into, if they were (used whole when every item decoded)."""
    good = [i for i, x in enumerate(loaded) if x.array is not None]
    failures = [(start + i, x.error or "unreadable") for i, x in enumerate(loaded) if x.error]
    size = pre.input_size
    if rows is not None and len(good) == len(rows):
        images = rows
    elif rows is not None:
        images = rows[good]  # a copy of the rows that decoded
    elif good:
        images = np.stack([x.array for x in loaded if x.array is not None])
    else:
        images = np.empty((0, 3, size, size), dtype=np.float32)
    return ArrayBatch(images, [start + i for i in good], failures, len(loaded))
