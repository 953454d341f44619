"""What each training stage trains and at which learning rates: the stage plans (head_lr,
backbone_lr), the optimizer with one parameter group per rate, and the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch

from landrec.engine.config import Optimizer, Scheduler, TrainConfig
from landrec.models.freeze import block_groups
from landrec.models.net import BlockClassifier
from landrec.models.registry import get_spec


class Stage(str, Enum):
    """The training stages, in order (history.csv's `stage` column holds the value)."""

    HEAD = "head"  # stage 1: a new head on the frozen backbone
    FINETUNE = "finetune"  # stage 2: the deepest block groups unfrozen


@dataclass(frozen=True)
class StagePlan:
    stage: Stage
    epochs: int
    unfreeze: int  # number of deepest block groups trained
    train_head: bool
    backbone_lr: float  # for the unfrozen backbone groups
    head_lr: float

    @property
    def name(self) -> str:
        """The stage as history.csv, checkpoints and seeds name it."""
        return self.stage.value


def finetune_group_count(config: TrainConfig, model: BlockClassifier) -> int:
    """How many of the deepest block groups stage 2 unfreezes."""
    groups = config.finetune_groups or get_spec(config.model).finetune_groups
    return min(groups, len(block_groups(model)))


def plan_stages(config: TrainConfig, model: BlockClassifier) -> list[StagePlan]:
    plans = [StagePlan(Stage.HEAD, config.head_epochs, 0, True, 0.0, config.head_lr)]
    if config.finetune_epochs > 0:
        groups = finetune_group_count(config, model)
        head_lr = config.finetune_head_lr or config.backbone_lr * 10
        plans.append(
            StagePlan(
                Stage.FINETUNE,
                config.finetune_epochs,
                groups,
                config.finetune_train_head,
                config.backbone_lr,
                head_lr,
            )
        )
    return [p for p in plans if p.epochs > 0]


def make_optimizer(
    config: TrainConfig, model: BlockClassifier, plan: StagePlan
) -> torch.optim.Optimizer:
    """Discriminative learning rates: the head's and the unfrozen backbone's."""
    backbone = [p for p in model.blocks.parameters() if p.requires_grad]
    head = [p for p in model.head.parameters() if p.requires_grad]
    groups = [
        g
        for g in (
            {"params": backbone, "lr": plan.backbone_lr},
            {"params": head, "lr": plan.head_lr},
        )
        if g["params"]
    ]
    wd = config.weight_decay
    if config.optimizer is Optimizer.SGD:
        # SGD's weight_decay adds wd * w to the gradient: true L2 regularisation.
        return torch.optim.SGD(groups, momentum=config.momentum, weight_decay=wd, nesterov=True)
    if config.optimizer is Optimizer.ADAM:
        return torch.optim.Adam(groups, weight_decay=wd)
    if config.optimizer is Optimizer.RMSPROP:
        return torch.optim.RMSprop(groups, momentum=config.momentum, weight_decay=wd)
    return torch.optim.AdamW(groups, weight_decay=wd)


def make_scheduler(
    config: TrainConfig, optimizer: torch.optim.Optimizer, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    """Stepped once per epoch (plateau: on validation loss)."""
    if config.scheduler is Scheduler.PLATEAU:
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.plateau_factor, patience=config.plateau_patience
        )
    if config.scheduler is Scheduler.COSINE:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    return None


def step_scheduler(scheduler: object, val_loss: float) -> None:
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_loss)
    elif isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        scheduler.step()
