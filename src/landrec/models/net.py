"""The classifier: an ordered list of named backbone stages and a head."""

from __future__ import annotations

from collections import OrderedDict
from enum import Enum

import torch
from torch import nn


class HeadKind(str, Enum):
    LINEAR = "linear"
    MLP = "mlp"


def build_head(
    kind: HeadKind, in_features: int, num_classes: int, hidden: int, dropout: float
) -> nn.Module:
    """`linear`, or the report's Linear -> ReLU -> Dropout -> Linear."""
    if kind is HeadKind.LINEAR:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_classes))
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )


class StagedClassifier(nn.Module):
    """Backbone stages run in order (input -> pooled features), then the head.

    Stages are the layer groups used for freezing and for caching a frozen prefix:
    `forward_from(k, x)` runs stages k.. and the head on the output of stage k-1.
    Frozen stages stay in eval mode, so their BatchNorm statistics never move.
    """

    def __init__(self, stages: list[tuple[str, nn.Module]], head: nn.Module) -> None:
        super().__init__()
        self.stages = nn.Sequential(OrderedDict(stages))
        self.head = head
        self.frozen: set[str] = set()
        self.bn_frozen = False  # True: every BatchNorm keeps its running statistics

    @property
    def stage_names(self) -> list[str]:
        return list(self.stages._modules)

    def stage_index(self, name: str) -> int:
        return self.stage_names.index(name)

    def features(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Run stages[start:stop] on x."""
        for module in list(self.stages)[start:stop]:
            x = module(x)
        return x

    def forward_from(self, start: int, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x, start))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(x))

    def train(self, mode: bool = True) -> StagedClassifier:
        super().train(mode)
        for name, module in self.stages.named_children():
            if name in self.frozen:
                module.eval()
        if "head" in self.frozen:
            self.head.eval()
        if self.bn_frozen:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self
