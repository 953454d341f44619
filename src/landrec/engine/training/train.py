"""landrec train: stage 1 trains a new head on a frozen backbone, stage 2 fine-tunes the
deepest layer groups; both from cached frozen-prefix features unless caching is off."""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from landrec.data.atomic import write_text_atomic
from landrec.data.dataset import FailureLog, item_seed
from landrec.data.layout import DatasetSplits, Split, load_splits
from landrec.data.transforms import AugPreset, train_transform
from landrec.engine import checkpoint as ckpt
from landrec.engine.config import (
    ConfigError,
    Select,
    TrainConfig,
    check_init_weights,
    config_to_dict,
    save_config,
)
from landrec.engine.loop import (
    CachedSource,
    EpochStats,
    ImageSource,
    PipelineSource,
    Source,
    evaluate_epoch,
    train_one_epoch,
)
from landrec.engine.plots import plot_curves
from landrec.engine.runs import RunFolder
from landrec.engine.training.distill import distill_targets
from landrec.engine.training.exclude import Exclusion, apply_exclusions
from landrec.engine.training.features import FeatureSet, ViewSpec, run_frozen
from landrec.engine.training.optim import (
    StagePlan,
    make_optimizer,
    make_scheduler,
    plan_stages,
    step_scheduler,
)
from landrec.engine.training.prepare import (
    cache_start,
    initial_model,
    make_extractor,
    pick_device,
    preprocessing_for,
)
from landrec.engine.training.resume import resume_state
from landrec.engine.training.skipped import record_skipped
from landrec.models.factory import ModelConfig
from landrec.models.freeze import freeze
from landrec.models.net import BlockClassifier


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path
    history: list[dict]
    seconds: float
    weights_source: str
    random_init: bool  # the backbone started without pretrained weights
    skipped: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cache_bytes: int = 0
    images: dict[str, int] = field(default_factory=dict)  # files listed per split
    excluded: int = 0  # files left out by --exclude


@dataclass
class Trainer:
    """One run: its data, model, per-stage batch sources, history and checkpoints."""

    config: TrainConfig
    data: DatasetSplits
    model: BlockClassifier
    meta: ckpt.CheckpointMeta
    run_dir: Path
    failures: FailureLog = field(default_factory=FailureLog)
    history: list[dict] = field(default_factory=list)
    # the best `_score` so far (the lower the better); the resume state keeps it under its old
    # name, `best_val_loss`
    best_score: float = float("inf")
    cache_bytes: int = 0
    on_epoch: Callable[[dict], None] | None = None  # called with each history row
    exclusion: Exclusion = field(default_factory=Exclusion)  # what --exclude took out
    _cached: dict[str, FeatureSet] = field(default_factory=dict)
    _targets: torch.Tensor | None = None  # the teachers' soft targets for the cached train rows
    _average: WeightAverage = field(default_factory=lambda: WeightAverage())
    averaged: dict | None = None  # what the mean of the last epochs scored, and if it was kept

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.run_dir)

    # ---- batch sources ----------------------------------------------------------------
    def sources(self, plan: StagePlan) -> tuple[Source, Source, int]:
        """Train and val batches for a stage, and the index of the block they feed."""
        c = self.config
        if not c.cache:
            return (*self._image_sources(), 0)
        cached_at = cache_start(c, self.model)
        if not self._cached:
            self._extract(cached_at)
        train, val, start = self._cached["train"], self._cached["val"], cached_at
        if plan.unfreeze == 0 and cached_at < len(self.model.blocks):
            train = run_frozen(self.model, train, cached_at)
            val = run_frozen(self.model, val, cached_at)
            start = len(self.model.blocks)
        targets, bs = (train.labels if self._targets is None else self._targets), c.batch_size
        return (
            CachedSource(train.features, targets, bs),
            CachedSource(val.features, val.labels, bs),
            start,
        )

    def _image_sources(self) -> tuple[Source, Source]:
        c, pre = self.config, self.meta.preprocessing
        train_paths, train_labels = self.data.get(Split.TRAIN).paths_targets()
        val_paths, val_labels = self.data.get(Split.VAL).paths_targets()
        common = (c.batch_size, self.failures, c.workers)
        by_view = [train_transform(pre, preset) for preset in view_presets(self.data, c.augment)]
        per_file = None  # one transform for every file, unless the views have their own
        if len(by_view) > 1:
            per_file = [by_view[s.view] for s in self.data.get(Split.TRAIN).samples]
        return (
            ImageSource(
                train_paths, train_labels, by_view[0], *common, pre.short_side, transforms=per_file
            ),
            PipelineSource(val_paths, val_labels, pre, *common),
        )

    def _extract(self, start: int) -> None:
        c = self.config
        extractor = make_extractor(c, self.model, start, self.meta.preprocessing)
        presets = view_presets(self.data, c.augment)
        n_views = 1 if set(presets) == {AugPreset.NONE} else max(1, c.aug_views)
        samples = self.data.get(Split.TRAIN)
        paths, targets = samples.paths_targets()
        of_view: dict[int, list[int]] = defaultdict(list)
        for i, sample in enumerate(samples.samples):
            of_view[sample.view].append(i)
        parts = []
        for v, preset in enumerate(presets):  # each view of the data with its own preset
            rows = of_view[v]
            specs = [ViewSpec(preset, c.seed, i) for i in range(n_views)]
            name = f"train {self.data.views[v]}" if self.data.views else "train"
            found = extractor.extract(
                [paths[i] for i in rows], [targets[i] for i in rows], specs, self.failures, name
            )
            parts.append(([rows[k] for k in found.keep], found))
        self._cached["train"] = FeatureSet(
            torch.cat([found.features for _, found in parts], 1),
            torch.cat([found.labels for _, found in parts]),
            [i for keep, _ in parts for i in keep],
        )
        if c.teacher:
            train = self._cached["train"]
            self._targets = distill_targets(c, self.data, train.labels, train.keep)
        self._cached["val"] = extractor.extract(
            *self.data.get(Split.VAL).paths_targets(), [ViewSpec()], self.failures, "val"
        )
        self.cache_bytes = extractor.store.size_bytes()

    # ---- one stage ----------------------------------------------------------------------
    def run_stage(self, index: int, plans: list[StagePlan], resume: dict | None) -> None:
        plan, c = plans[index], self.config
        train_src, val_src, start = self.sources(plan)
        freeze(self.model, plan.unfreeze, plan.train_head, freeze_bn=not c.finetune_bn)
        optimizer = make_optimizer(c, self.model, plan)
        scheduler = make_scheduler(c, optimizer, plan.epochs)
        first_epoch, bad_epochs = 0, 0
        # the last stage's last `average_epochs` epochs are averaged (SWA-style)
        averaging = index == len(plans) - 1 and c.average_epochs >= 2
        self._average = WeightAverage()
        if resume is not None:
            optimizer.load_state_dict(resume["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(resume["scheduler"])
            first_epoch, bad_epochs = resume["epoch"], resume["bad_epochs"]
            self._average = WeightAverage.restore(resume.get("average"))
        criterion = nn.CrossEntropyLoss(self._pair_weights(), label_smoothing=c.label_smoothing)
        bar = tqdm(
            range(first_epoch, plan.epochs), desc=f"stage {index + 1} ({plan.name})", unit="epoch"
        )
        for epoch in bar:
            t0 = time.perf_counter()
            seed = item_seed(c.seed, plan.name, epoch)
            tr = train_one_epoch(self.model, train_src, start, optimizer, criterion, seed)
            va = evaluate_epoch(self.model, val_src, start)
            lr = max(g["lr"] for g in optimizer.param_groups)  # the rate this epoch used
            step_scheduler(scheduler, va.loss)
            row = {
                "stage": plan.name,
                "epoch": epoch + 1,
                "train_loss": tr.loss,
                "train_accuracy": tr.accuracy,
                "val_loss": va.loss,
                "val_accuracy": va.accuracy,
                "lr": lr,
                "seconds": time.perf_counter() - t0,
            }
            self.history.append(row)
            bar.set_postfix(val_loss=f"{va.loss:.4f}", val_acc=f"{va.accuracy:.4f}")
            score = self._score(va)
            improved = score < self.best_score
            bad_epochs = 0 if improved else bad_epochs + 1
            if improved:
                self.best_score = score
                self._save(self.folder.best, plan, epoch, va.accuracy)
                ckpt.save_same(self.folder.best, self.folder.last)
            else:
                self._save(self.folder.last, plan, epoch, va.accuracy)
            if averaging and epoch + 1 > plan.epochs - c.average_epochs:
                self._average.add(self.model)
            stop = bool(c.early_stopping) and bad_epochs >= c.early_stopping
            done = epoch + 1 == plan.epochs or stop
            self._save_state(
                index + 1 if done else index,
                0 if done else epoch + 1,
                bad_epochs,
                None if done else optimizer,
                None if done else scheduler,
            )
            if self.on_epoch is not None:  # after the save: a callback that raises leaves a
                self.on_epoch(row)  # resumable run (e.g. an Optuna trial pruned here)
            if stop:
                break
        if averaging and self._average.count >= 2:
            self._try_average(plan, val_src, start)

    def _score(self, va: EpochStats) -> float:
        """What picks the best weights, the lower the better (`select`): the val loss, or minus
        the val accuracy with each view weighing the same."""
        return va.loss if self.config.select is Select.LOSS else -va.view_balanced

    def _pair_weights(self) -> torch.Tensor | None:
        """The loss weight of each (view, class) output: its source's `weight` (sources file)."""
        weights = self.data.view_weight
        if len(self.data.views) < 2 or not weights or all(w == 1.0 for w in weights):
            return None
        per_pair = [w for w in weights for _ in self.data.classes]
        return torch.tensor(per_pair, device=next(self.model.parameters()).device)

    def _try_average(self, plan: StagePlan, val_src: Source, start: int) -> None:
        """The mean of the averaged epochs' weights, scored on val as the epochs were; the best
        checkpoint when its score is as good or better (`averaged` says what came of it)."""
        last = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self._average.load_into(self.model)
        va = evaluate_epoch(self.model, val_src, start)
        score = self._score(va)
        kept = score <= self.best_score  # a tie goes to the mean (flatter, SWA's point)
        self.averaged = {
            "stage": plan.name,
            "epochs": self._average.count,
            "val_loss": va.loss,
            "val_accuracy": va.accuracy,
            "kept": kept,
        }
        if kept:
            self.best_score = score
            self.meta.extra["averaged_epochs"] = self._average.count
            self._save(self.folder.best, plan, plan.epochs, va.accuracy)
        self.model.load_state_dict(last)

    def _save(self, path: Path, plan: StagePlan, epoch: int, val_accuracy: float) -> None:
        self.meta.extra.update(
            {"stage": plan.name, "epoch": epoch + 1, "val_accuracy": val_accuracy}
        )
        ckpt.save_checkpoint(path, self.model, self.meta)

    def _save_state(
        self, stage: int, epoch: int, bad: int, optimizer: object, scheduler: object
    ) -> None:
        write_history(self.history, self.folder.history)
        state = {
            "stage": stage,
            "epoch": epoch,
            "bad_epochs": bad,
            "best_val_loss": self.best_score,
            "history": self.history,
            "optimizer": optimizer.state_dict() if optimizer is not None else {},  # type: ignore[attr-defined]
            "scheduler": scheduler.state_dict() if scheduler is not None else {},  # type: ignore[attr-defined]
            "average": self._average.state(),
        }
        ckpt.save_state(self.folder.state, state)


@dataclass
class WeightAverage:
    """A running sum of a model's trained weights over epochs (stochastic weight averaging's
    uniform mean; BatchNorm statistics stay frozen in fine-tuning, so the mean needs no
    re-estimation); everything else is taken from the model as it is."""

    total: dict[str, torch.Tensor] = field(default_factory=dict)
    count: int = 0

    def add(self, model: nn.Module) -> None:
        """Add the weights that train (frozen blocks and BatchNorm statistics stay as they are,
        so their mean is themselves)."""
        for name, value in model.named_parameters():
            if value.requires_grad:
                v = value.detach().double().cpu()
                self.total[name] = self.total[name] + v if name in self.total else v.clone()
        self.count += 1

    def load_into(self, model: nn.Module) -> None:
        state = model.state_dict()
        for name, total in self.total.items():
            state[name] = (total / self.count).to(state[name].dtype)
        model.load_state_dict(state)

    def state(self) -> dict:
        return {"total": self.total, "count": self.count}

    @classmethod
    def restore(cls, saved: dict | None) -> WeightAverage:
        if not saved:
            return cls()
        return cls(dict(saved["total"]), int(saved["count"]))


def _averaged(trainer: Trainer) -> str:
    """A note on the mean of the last epochs' weights (`average_epochs`), or ""."""
    a = trainer.averaged
    if a is None:
        return ""
    verdict = "kept as best" if a["kept"] else "not kept: an epoch scored better"
    return (
        f"the mean of {a['stage']}'s last {a['epochs']} epochs' weights: val accuracy "
        f"{a['val_accuracy']:.4f}, loss {a['val_loss']:.4f} ({verdict})"
    )


def view_presets(data: DatasetSplits, default: AugPreset) -> list[AugPreset]:
    """The augmentation of each view of the data (one entry for data without views): a sources
    file's own preset for a source, else `default`."""
    if not data.views:
        return [default]
    presets = []
    for view, name in zip(data.views, data.view_augment or [None] * len(data.views), strict=True):
        try:
            presets.append(default if name is None else AugPreset(name))
        except ValueError:
            allowed = ", ".join(p.value for p in AugPreset)
            message = f"{data.root}: view {view}: augment {name!r} (allowed: {allowed})"
            raise ConfigError(message) from None
    return presets


def write_history(history: list[dict], path: Path) -> None:
    """The history as CSV, written atomically (a crash never leaves half a file)."""
    if not history:
        return
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(path, text.getvalue())


def build_trainer(config: TrainConfig, data_root: Path, run_dir: Path) -> Trainer:
    check_init_weights(config.weights, config.init_checkpoint)
    torch.manual_seed(config.seed)  # head init (and random-init backbones) follow the seed
    data = load_splits(data_root, config.val_fraction, config.seed)
    if config.teacher and len(data.views) > 1:  # the teachers' targets are classes, not pairs
        raise ConfigError(
            f"teacher: distilling into a model with views ({data.root}) is not supported"
        )
    exclusion = apply_exclusions(data, config)
    model_config = ModelConfig(
        config.model,
        len(data.classes),
        config.head,
        config.hidden,
        config.dropout,
        tuple(data.views) if len(data.views) > 1 else (),
    )
    model, source, random_init = initial_model(config, model_config, data.classes)
    model = model.to(pick_device(config.device)).to(memory_format=torch.channels_last)
    meta = ckpt.CheckpointMeta(
        data.classes,
        model_config,
        preprocessing_for(config, data),
        source,
        random_init,
        config_to_dict(config),
    )
    return Trainer(config, data, model, meta, run_dir, exclusion=exclusion)


def train(
    data_root: str | Path,
    run_dir: str | Path,
    config: TrainConfig | None = None,
    resume: bool = False,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train per `config` into `run_dir`; with `resume`, continue where a run stopped;
    `on_epoch` is called with each history row (what it raises propagates)."""
    config = config or TrainConfig()  # a TrainConfig is checked when it is made
    run_dir = Path(run_dir)
    run = RunFolder(run_dir)
    started = time.perf_counter()
    state = resume_state(run_dir, config) if resume else None  # reads, so checked before writes
    trainer = build_trainer(config, Path(data_root), run_dir)  # bad data fails before any write
    trainer.on_epoch = on_epoch
    run_dir.mkdir(parents=True, exist_ok=True)
    if state is None:  # a resumed run keeps the saved config it was checked against
        save_config(config, run.config)
    plans = plan_stages(config, trainer.model)
    if state is not None:
        trainer.history, trainer.best_score = list(state["history"]), state["best_val_loss"]
        ckpt.load_weights_into(trainer.model, run.last)
    for index in range(len(plans)):
        if state is not None and index < state["stage"]:
            continue
        mid_stage = state is not None and index == state["stage"] and state["epoch"] > 0
        if index > 0 and not mid_stage:
            ckpt.load_weights_into(trainer.model, run.best)  # from the best head
        trainer.run_stage(index, plans, state if mid_stage else None)
    plot_curves(trainer.history, run.curves, f"{config.model} ({trainer.meta.weights_source})")
    notes = [n for n in (trainer.data.val_note, trainer.exclusion.note(), _averaged(trainer)) if n]
    return TrainResult(
        run_dir,
        run.best,
        trainer.history,
        time.perf_counter() - started,
        trainer.meta.weights_source,
        trainer.meta.random_init,
        record_skipped(trainer.failures, trainer.data, run_dir),
        notes,
        trainer.cache_bytes,
        {s.value: len(d.samples) for s, d in trainer.data.splits.items()},
        trainer.exclusion.total,
    )
