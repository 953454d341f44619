"""The registry as a table, and where real weights are on this machine; no torch is imported
(`landrec models` answers in a fraction of a second)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from landrec.models.registry import REGISTRY, ModelSpec


def offline_file(spec: ModelSpec) -> Path | None:
    """The installed offline package's weight file for this model, if present."""
    if spec.offline is None:
        return None
    found = importlib.util.find_spec(spec.offline.module)
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / spec.offline.relpath
    return path if path.is_file() else None


def hub_dir() -> Path:
    """torch.hub's folder, found as torch.hub.get_dir() finds it (without importing torch)."""
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))) / "hub"


def weights_available(spec: ModelSpec) -> str:
    """Where real weights would come from here without a download: 'offline', 'cache' or 'no'."""
    if offline_file(spec) is not None:
        return "offline"
    if spec.cache_file and (hub_dir() / "checkpoints" / spec.cache_file).is_file():
        return "cache"
    return "no"


def model_table() -> list[dict]:
    """One row per registered architecture (what `landrec models` prints)."""
    return [
        {
            "name": spec.name,
            "parameters": spec.parameters,
            "feature_dim": spec.feature_dim,
            "input_size": spec.input_size,
            "mean": list(spec.mean),
            "std": list(spec.std),
            "classifier": spec.classifier,
            "groups": list(spec.groups),
            "finetune_groups": spec.finetune_groups,
            "weights_here": weights_available(spec),
            "notes": spec.notes,
        }
        for spec in REGISTRY.values()
    ]
