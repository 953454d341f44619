"""The classifier: an ordered list of named backbone blocks and a head.

Vocabulary: a *block* is one named module of the backbone sequence (`stem`, `layer1`, ...,
`pool`); a *block group* is a block that holds parameters, the unit of freezing. "Stage" is
kept for the training phases (stage 1: head, stage 2: fine-tuning)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from landrec.models.choices import HeadKind


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


def fold(joint: torch.Tensor, views: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint logits (B, V*C), ordered view-major, -> the classes' and the views' logits,
    (B, C) and (B, V): each the log of its marginal under the joint softmax (up to a constant),
    so softmax(classes) sums the joint probabilities over the views, and softmax(views) over
    the classes."""
    grid = joint.unflatten(1, (views, -1))
    return grid.logsumexp(1), grid.logsumexp(2)


class BlockClassifier(nn.Module):
    """Backbone blocks run in order (input -> pooled features), then the head.

    Blocks are the units of freezing and of caching a frozen prefix: `forward_from(k, x)`
    runs blocks k.. and the head on the output of block k-1. Frozen blocks stay in eval mode,
    so their BatchNorm statistics never move.

    With `views` (> 1) the head scores each (view, class) pair: training fits those joint
    logits (`joint_from`), `forward` gives the classes' logits (the views summed out), and
    `outputs` the classes' then the views' logits side by side, what prediction and export run.
    """

    def __init__(
        self, blocks: list[tuple[str, nn.Module]], head: nn.Module, views: int = 0
    ) -> None:
        super().__init__()
        self.blocks = nn.Sequential(OrderedDict(blocks))
        self.head = head
        self.views = views
        self.frozen: set[str] = set()
        self.bn_frozen = False  # True: every BatchNorm keeps its running statistics

    @property
    def block_names(self) -> list[str]:
        return list(self.blocks._modules)

    def block_index(self, name: str) -> int:
        return self.block_names.index(name)

    def features(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Run blocks[start:stop] on x."""
        for module in list(self.blocks)[start:stop]:
            x = module(x)
        return x

    def joint_from(self, start: int, x: torch.Tensor) -> torch.Tensor:
        """The head's own logits (one per view and class) from block `start` on: what is trained."""
        return self.head(self.features(x, start))

    def forward_from(self, start: int, x: torch.Tensor) -> torch.Tensor:
        """The classes' logits from block `start` on."""
        joint = self.joint_from(start, x)
        return fold(joint, self.views)[0] if self.views > 1 else joint

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from(0, x)

    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        """The classes' logits, then the views' (when the head has views): (B, C [+ V])."""
        joint = self.joint_from(0, x)
        if self.views <= 1:
            return joint
        return torch.cat(fold(joint, self.views), 1)

    def train(self, mode: bool = True) -> BlockClassifier:
        super().train(mode)
        for name, module in self.blocks.named_children():
            if name in self.frozen:
                module.eval()
        if "head" in self.frozen:
            self.head.eval()
        if self.bn_frozen:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        # Checkpoints written before the rename name the blocks "stages.*".
        old = prefix + "stages."
        for key in [k for k in state_dict if k.startswith(old)]:
            state_dict[prefix + "blocks." + key[len(old) :]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args)


class Outputs(nn.Module):
    """A model whose forward is `BlockClassifier.outputs` (the classes', then the views'
    logits): what is exported and what prediction runs."""

    def __init__(self, model: BlockClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.outputs(x)
