"""Cache the outputs of a frozen prefix of the network, so heads train without re-reading images.

Entries live in one SQLite file per (architecture, prefix weights, prefix, preprocessing,
precision) and are keyed by each file's content hash and view ("clean", or an augmented view
tagged with its preset, seed and number). A changed file, preset or seed recomputes only its
own entries. Every blob carries a CRC: a corrupt or partial entry is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from landrec.data.dataset import FailureLog, ImageDataset, item_seed, make_loader
from landrec.data.decode import DECODE_VERSION
from landrec.data.transforms import (
    AugPreset,
    Preprocessing,
    eval_transform,
    mirrored_eval_transform,
    train_transform,
)
from landrec.engine.config import Backend
from landrec.engine.onnx import module_runner
from landrec.models.net import BlockClassifier

CLEAN = "clean"
MIRROR = "clean:mirror"
SCHEMA = """CREATE TABLE IF NOT EXISTS feats (
    file_hash TEXT NOT NULL, view TEXT NOT NULL, dtype TEXT NOT NULL, shape TEXT NOT NULL,
    crc INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (file_hash, view))"""


def file_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def module_hash(module: torch.nn.Module) -> str:
    """Hash of a module's parameters and buffers: which weights produced the features."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheKey:
    arch: str
    weights: str  # module_hash of the prefix
    prefix: str  # the block whose input is cached ("end" for pooled features)
    preprocessing: str
    bf16: bool
    fp16: bool
    backend: str  # what computed the features (results differ in the last bits)
    decode: int = DECODE_VERSION  # how files became pixels

    def digest(self) -> str:
        return hashlib.blake2b(repr(asdict(self)).encode(), digest_size=10).hexdigest()


@dataclass
class ViewSpec:
    """Which view of each file to compute: the clean one, its mirror image (`mirror`, for
    flip test-time augmentation) or augmented view `index`."""

    augment: AugPreset = AugPreset.NONE
    seed: int = 0
    index: int = 0
    mirror: bool = False

    @property
    def tag(self) -> str:
        if self.augment is AugPreset.NONE:
            return MIRROR if self.mirror else CLEAN
        return f"{self.augment.value}:{self.seed}:{self.index}"

    def transform(self, pre: Preprocessing) -> Callable:
        if self.augment is not AugPreset.NONE:
            return train_transform(pre, self.augment)
        return mirrored_eval_transform(pre) if self.mirror else eval_transform(pre)


class FeatureStore:
    """A SQLite file of feature blobs keyed by (file hash, view tag)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as db:
                db.execute(SCHEMA)
                db.execute("SELECT count(*) FROM feats").fetchone()
        except sqlite3.DatabaseError:  # not a database / damaged: start over
            path.unlink(missing_ok=True)
            with self._connect() as db:
                db.execute(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path)) as db, db:
            yield db

    def get(self, hashes: Sequence[str], view: str) -> dict[str, np.ndarray]:
        """Entries found and intact; missing or corrupt ones are absent from the result."""
        out: dict[str, np.ndarray] = {}
        wanted = set(hashes)
        with self._connect() as db:
            rows = db.execute(
                "SELECT file_hash, dtype, shape, crc, data FROM feats WHERE view=?", (view,)
            )
            for h, dtype, shape, crc, data in rows:
                if h not in wanted or zlib.crc32(data) != crc:
                    continue
                dims = tuple(int(d) for d in shape.split(",") if d)
                array = np.frombuffer(data, dtype=dtype)
                if array.size == int(np.prod(dims)):
                    out[h] = array.reshape(dims)
        return out

    def put(self, rows: list[tuple[str, str, np.ndarray]]) -> None:
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO feats VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (h, view, a.dtype.str, ",".join(map(str, a.shape)), zlib.crc32(b), b)
                    for h, view, a in rows
                    for b in [a.tobytes()]
                ],
            )

    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0


@dataclass
class FeatureSet:
    """Cached inputs of block `start` for one split: rows align with `valid` samples."""

    features: torch.Tensor  # (V, N, ...) views x images
    labels: torch.Tensor  # (N,)
    keep: list[int]  # positions in the split's sample list that decoded


@dataclass
class Extractor:
    """Runs the frozen prefix blocks[:start] over files, through the store."""

    model: BlockClassifier
    start: int
    preprocessing: Preprocessing
    store: FeatureStore
    batch_size: int = 64
    workers: int | None = None
    bf16: bool = True
    fp16: bool = True
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: Backend = Backend.TORCH  # ONNX: the prefix runs on ONNX Runtime (CPU only)
    _runner: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    def _prefix(self, x: torch.Tensor) -> np.ndarray:
        """blocks[:start] on one preprocessed batch -> float32 numpy."""
        if self.backend is Backend.ONNX and self.device.type == "cpu":
            if self._runner is None:
                prefix = torch.nn.Sequential(*list(self.model.blocks)[: self.start])
                self._runner = module_runner(prefix, x[:2].float())
            return self._runner(x.numpy())
        x = x.to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.model.features(x, 0, self.start).float().contiguous().cpu().numpy()

    @torch.inference_mode()
    def _compute(
        self, paths: list[Path], hashes: list[str], view: ViewSpec, failures: FailureLog, desc: str
    ) -> dict[str, np.ndarray]:
        pre = self.preprocessing
        transform = view.transform(pre)
        seeds = [item_seed(view.seed, h, view.index) for h in hashes]
        dataset = ImageDataset(paths, transform, draft_size=pre.short_side, seeds=seeds)
        loader = make_loader(dataset, self.batch_size, workers=self.workers)
        self.model.eval()
        out: dict[str, np.ndarray] = {}
        dtype = np.float16 if self.fp16 else np.float32
        for batch in tqdm(loader, desc=desc, unit="batch", leave=False):
            failures.add_batch(paths, batch)
            if len(batch.indices) == 0:
                continue
            y = self._prefix(batch.images)
            rows = [
                (hashes[i], view.tag, y[j].astype(dtype))
                for j, i in enumerate(batch.indices.tolist())
            ]
            self.store.put(rows)
            out.update({h: a for h, _, a in rows})
        return out

    def extract(
        self,
        paths: list[Path],
        labels: list[int],
        views: list[ViewSpec],
        failures: FailureLog,
        desc: str = "features",
    ) -> FeatureSet:
        """Features for every view of every file, computing only what the store lacks."""
        hashes = [file_hash(p) for p in paths]
        per_view: list[dict[str, np.ndarray]] = []
        for view in views:
            found = self.store.get(hashes, view.tag)
            todo = [
                i
                for i, h in enumerate(hashes)
                if h not in found and str(paths[i]) not in failures.failures
            ]
            if todo:
                found.update(
                    self._compute(
                        [paths[i] for i in todo],
                        [hashes[i] for i in todo],
                        view,
                        failures,
                        f"{desc} [{view.tag}]",
                    )
                )
            per_view.append(found)
        keep = [i for i, h in enumerate(hashes) if all(h in v for v in per_view)]
        stacked = (
            np.stack([np.stack([v[hashes[i]] for i in keep]) for v in per_view])
            if keep
            else np.zeros((len(views), 0))
        )
        return FeatureSet(torch.from_numpy(stacked), torch.tensor([labels[i] for i in keep]), keep)


@torch.inference_mode()
def run_frozen(model: BlockClassifier, fs: FeatureSet, start: int, batch: int = 256) -> FeatureSet:
    """Push cached inputs of block `start` through the remaining frozen blocks (pooled output)."""
    model.eval()
    device = next(model.parameters()).device
    views = []
    for v in range(fs.features.shape[0]):
        chunks = [
            model.features(fs.features[v, i : i + batch].float().to(device), start).float().cpu()
            for i in range(0, fs.features.shape[1], batch)
        ]
        views.append(torch.cat(chunks) if chunks else torch.empty(0))
    return FeatureSet(torch.stack(views), fs.labels, fs.keep)
