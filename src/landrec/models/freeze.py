"""Freezing policies over the named layer groups of a staged classifier."""

from __future__ import annotations

from landrec.models.net import StagedClassifier


def param_groups(model: StagedClassifier) -> list[str]:
    """Stages that hold parameters, from input to output (the layer groups)."""
    return [n for n, m in model.stages.named_children() if any(True for _ in m.parameters())]


def freeze(
    model: StagedClassifier,
    unfreeze_groups: int = 0,
    train_head: bool = True,
    freeze_bn: bool = False,
) -> list[str]:
    """Freeze all but the deepest `unfreeze_groups` groups (and the head if asked); returns
    the names of the trainable groups. Frozen groups keep BatchNorm in eval mode; with
    `freeze_bn`, the unfrozen groups' BatchNorm statistics stay fixed too."""
    groups = param_groups(model)
    if not 0 <= unfreeze_groups <= len(groups):
        raise ValueError(f"unfreeze_groups must be 0..{len(groups)}, got {unfreeze_groups}")
    trainable = groups[len(groups) - unfreeze_groups :] if unfreeze_groups else []
    model.frozen = {n for n in model.stage_names if n not in trainable}
    for name, module in model.stages.named_children():
        for p in module.parameters():
            p.requires_grad_(name in trainable)
    for p in model.head.parameters():
        p.requires_grad_(train_head)
    if not train_head:
        model.frozen.add("head")
    model.bn_frozen = freeze_bn
    model.train(model.training)
    return trainable + (["head"] if train_head else [])


def first_trainable_stage(model: StagedClassifier) -> int:
    """Index of the first stage with a trainable parameter: everything before it is a frozen
    prefix whose outputs can be cached. Equals the number of stages when only the head trains."""
    for i, module in enumerate(model.stages):
        if any(p.requires_grad for p in module.parameters()):
            return i
    return len(model.stages)
