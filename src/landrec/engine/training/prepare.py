"""What a run needs before training: device, preprocessing, feature extractor, init weights."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from landrec.data.decode import DECODE_VERSION
from landrec.data.inspect import channel_stats
from landrec.data.layout import DatasetSplits, Split, SplitData
from landrec.data.transforms import Preprocessing
from landrec.engine import checkpoint as ckpt
from landrec.engine.config import CachePoint, ConfigError, Normalize, TrainConfig
from landrec.engine.training.features import CacheKey, Extractor, FeatureStore, module_hash
from landrec.engine.training.optim import finetune_group_count, plan_stages
from landrec.models.factory import ModelConfig, create_model
from landrec.models.freeze import first_trainable_block, freeze
from landrec.models.net import BlockClassifier
from landrec.models.registry import get_spec
from landrec.models.weights import RANDOM_WEIGHTS


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "landrec" / "features"


def preprocessing_for(config: TrainConfig, data: DatasetSplits) -> Preprocessing:
    """The model's input size and mean/std, or the train split's own statistics."""
    spec = get_spec(config.model)
    size = config.image_size or spec.input_size
    if config.normalize is Normalize.DATASET:
        mean, std = _split_stats(data.get(Split.TRAIN), size, cache_dir(config))
        return Preprocessing(size, mean, std)
    return Preprocessing(size, spec.mean, spec.std)


def cache_dir(config: TrainConfig) -> Path:
    return Path(config.cache_dir or default_cache_dir())


def _split_stats(split: SplitData, size: int, folder: Path) -> tuple[tuple, tuple]:
    """`channel_stats` of a split, kept in `folder` under a digest of every file's path, size
    and modification time: each run of a study would otherwise decode the split again."""
    digest = hashlib.blake2b(f"{size}:{DECODE_VERSION}".encode(), digest_size=10)
    for sample in split.samples:
        stat = sample.path.stat()
        digest.update(f"{sample.path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    path = folder / f"stats-{digest.hexdigest()}.json"
    try:
        saved = json.loads(path.read_text())
        return tuple(saved["mean"]), tuple(saved["std"])
    except (OSError, ValueError, KeyError, TypeError):  # absent or damaged: compute again
        stats = channel_stats(split, size)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mean": stats.mean, "std": stats.std, "images": stats.n_images}))
    return stats.mean, stats.std


def cache_start(config: TrainConfig, model: BlockClassifier) -> int:
    """The block whose input gets cached: the end of the deepest prefix frozen in every stage
    of this run, or, with cache_point "finetune", the input of the groups stage 2 unfreezes.
    Leaves `model` frozen up to that block."""
    unfreeze = max((p.unfreeze for p in plan_stages(config, model)), default=0)
    if config.cache_point is CachePoint.FINETUNE:
        unfreeze = max(unfreeze, finetune_group_count(config, model))
    freeze(model, unfreeze)
    return first_trainable_block(model)


def make_extractor(
    config: TrainConfig, model: BlockClassifier, start: int, pre: Preprocessing
) -> Extractor:
    """Runs the frozen prefix blocks[:start] through its store, one file per cache key."""
    c = config
    prefix = nn.Sequential(*list(model.blocks)[:start])
    backend = c.feature_backend.value
    key = CacheKey(
        c.model, module_hash(prefix), str(start), repr(pre), c.bf16, c.cache_fp16, backend
    )
    store = FeatureStore(cache_dir(c) / f"{key.digest()}.sqlite")
    device = next(model.parameters()).device
    return Extractor(
        model,
        start,
        pre,
        store,
        c.batch_size,
        c.workers,
        c.bf16,
        c.cache_fp16,
        device,
        c.feature_backend,
    )


def load_init_checkpoint(
    model: BlockClassifier, path: str, classes: list[str]
) -> ckpt.CheckpointMeta:
    """Copy an init checkpoint's weights into `model` (same architecture, head and classes);
    returns its metadata."""
    try:
        return ckpt.load_weights_into(model, path, classes)
    except ckpt.CheckpointError as exc:
        raise ConfigError(f"init_checkpoint: {exc}") from exc


def init_source(path: str, meta: ckpt.CheckpointMeta) -> str:
    """The weights_source of a run started from an init checkpoint: that file, and where its
    backbone's weights came from."""
    return f"init_checkpoint {ckpt.resolve_checkpoint(path)} (backbone: {meta.weights_source})"


def initial_model(
    config: TrainConfig, model_config: ModelConfig, classes: list[str]
) -> tuple[BlockClassifier, str, bool]:
    """The model a run starts from, where its backbone's weights came from, and whether that
    was random init: `weights`, or the init checkpoint (the backbone is then built without
    looking for pretrained weights, which the checkpoint's would replace)."""
    init = config.init_checkpoint
    if init is None:
        model, weights = create_model(model_config, config.weights)
        return model, weights.source, not weights.pretrained
    model, _ = create_model(model_config, RANDOM_WEIGHTS)
    meta = load_init_checkpoint(model, init, classes)
    return model, init_source(init, meta), meta.random_init
