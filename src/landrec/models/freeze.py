"""Freezing policies over the block groups (blocks holding parameters) of a classifier."""

from __future__ import annotations

from landrec.models.net import BlockClassifier


def block_groups(model: BlockClassifier) -> list[str]:
    """Blocks that hold parameters, from input to output (the block groups)."""
    return [n for n, m in model.blocks.named_children() if any(True for _ in m.parameters())]


def freeze(
    model: BlockClassifier,
    unfreeze_groups: int = 0,
    train_head: bool = True,
    freeze_bn: bool = False,
) -> list[str]:
    """Freeze all but the deepest `unfreeze_groups` groups (and the head if asked); returns
    the names of the trainable groups. Frozen groups keep BatchNorm in eval mode; with
    `freeze_bn`, the unfrozen groups' BatchNorm statistics stay fixed too."""
    groups = block_groups(model)
    if not 0 <= unfreeze_groups <= len(groups):
        raise ValueError(f"unfreeze_groups must be 0..{len(groups)}, got {unfreeze_groups}")
    trainable = groups[len(groups) - unfreeze_groups :] if unfreeze_groups else []
    model.frozen = {n for n in model.block_names if n not in trainable}
    for name, module in model.blocks.named_children():
        for p in module.parameters():
            p.requires_grad_(name in trainable)
    for p in model.head.parameters():
        p.requires_grad_(train_head)
    if not train_head:
        model.frozen.add("head")
    model.bn_frozen = freeze_bn
    model.train(model.training)
    return trainable + (["head"] if train_head else [])


def first_trainable_block(model: BlockClassifier) -> int:
    """Index of the first block with a trainable parameter: everything before it is a frozen
    prefix whose outputs can be cached. Equals the number of blocks when only the head trains."""
    for i, module in enumerate(model.blocks):
        if any(p.requires_grad for p in module.parameters()):
            return i
    return len(model.blocks)
