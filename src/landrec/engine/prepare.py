"""What a run needs before training: device, preprocessing, feature extractor, init weights."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from landrec.data.inspect import channel_stats
from landrec.data.layout import DatasetSplits, Split
from landrec.data.transforms import Preprocessing
from landrec.engine import checkpoint as ckpt
from landrec.engine.config import ConfigError, Normalize, TrainConfig
from landrec.engine.features import CacheKey, Extractor, FeatureStore, module_hash
from landrec.models.net import StagedClassifier
from landrec.models.registry import get_spec


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
        stats = channel_stats(data.get(Split.TRAIN), size)
        return Preprocessing(size, stats.mean, stats.std)
    return Preprocessing(size, spec.mean, spec.std)


def make_extractor(
    config: TrainConfig, model: StagedClassifier, start: int, pre: Preprocessing
) -> Extractor:
    """Runs the frozen prefix stages[:start] through its store, one file per cache key."""
    c = config
    prefix = nn.Sequential(*list(model.stages)[:start])
    backend = c.feature_backend.value
    key = CacheKey(
        c.model, module_hash(prefix), str(start), repr(pre), c.bf16, c.cache_fp16, backend
    )
    store = FeatureStore(Path(c.cache_dir or default_cache_dir()) / f"{key.digest()}.sqlite")
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


def load_init_checkpoint(model: StagedClassifier, path: str, classes: list[str]) -> str:
    """Copy a checkpoint's weights into `model` (same architecture, head and classes);
    returns where that checkpoint's backbone weights came from."""
    source, meta = ckpt.load_checkpoint(path)
    if meta.classes != classes:
        raise ConfigError(f"init_checkpoint {path}: classes {meta.classes} differ from {classes}")
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError as exc:
        raise ConfigError(f"init_checkpoint {path}: does not fit this model ({exc})") from exc
    return meta.weights_source
