"""The registry as a table: parameters, input size and where real weights come from here."""

from __future__ import annotations

import torch

from landrec.models.freeze import block_groups
from landrec.models.net import BlockClassifier
from landrec.models.registry import REGISTRY
from landrec.models.weights import weights_available


def model_table() -> list[dict]:
    rows = []
    for spec in REGISTRY.values():
        with torch.device("meta"):  # shapes only: no memory, no time
            model = BlockClassifier(spec.split(spec.build()), torch.nn.Identity())
        rows.append(
            {
                "name": spec.name,
                "parameters": sum(p.numel() for p in model.parameters()),
                "feature_dim": spec.feature_dim,
                "input_size": spec.input_size,
                "mean": list(spec.mean),
                "std": list(spec.std),
                "classifier": spec.classifier,
                "groups": block_groups(model),
                "finetune_groups": spec.finetune_groups,
                "weights_here": weights_available(spec),
                "notes": spec.notes,
            }
        )
    return rows
