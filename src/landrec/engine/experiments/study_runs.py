"""One study experiment of each kind (train, untrained, linear probe), described as one row
of the comparison: what was run, on which weights, and how well and how fast it did."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

from landrec.data.layout import DataLayoutError, Split, load_eval_folder, load_splits
from landrec.engine.checkpoint import CheckpointMeta, load_checkpoint
from landrec.engine.config import (
    CONFIG_FILE,
    ConfigError,
    TrainConfig,
    config_to_dict,
    save_config,
)
from landrec.engine.evaluation.evaluate import EvalResult, write_report
from landrec.engine.evaluation.untrained import untrained_model
from landrec.engine.experiments.probe import linear_probe
from landrec.engine.experiments.tracking import Tracker
from landrec.engine.training.feature_eval import evaluate_split
from landrec.engine.training.optim import Stage
from landrec.engine.training.prepare import preprocessing_for
from landrec.engine.training.train import STATE, train
from landrec.models.choices import HeadKind
from landrec.models.factory import count_parameters
from landrec.models.net import BlockClassifier
from landrec.models.registry import get_spec
from landrec.models.weights import RANDOM_INIT


class ExperimentKind(str, Enum):
    TRAIN = "train"  # landrec train: head, then (optionally) fine-tuning
    UNTRAINED = "untrained"  # the backbone with a fresh head, no training (report 5.1)
    LINEAR_PROBE = "linear_probe"  # logistic regression on cached pooled features
    TTA = "tta"  # init_from's checkpoint tested with flip test-time augmentation


@dataclass
class ExperimentResult:
    """One row of the study's table (saved as runs/<name>/result.json)."""

    name: str
    kind: str
    model: str
    weights: str = ""  # where the backbone's weights came from, for people
    random_init: bool = False  # the backbone started without pretrained weights
    stages: str = ""
    optimizer: str = ""
    head: str = ""
    augment: str = ""
    weight_decay: float | None = None
    scheduler: str = ""
    epochs: int = 0
    best_val_accuracy: float | None = None
    test_accuracy: float | None = None
    macro_f1: float | None = None  # on test
    train_seconds: float | None = None
    wall_seconds: float | None = None  # the whole experiment: features, training, evaluations
    images_per_second: float | None = None  # decode + preprocess + eager model, sampled images
    parameters: int | None = None
    finalist: bool = False
    init_from: str | None = None
    error: str | None = None
    fingerprint: str = ""  # what was run (kind, resolved config, init_from's fingerprint)
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # the resolved TrainConfig

    @property
    def ok(self) -> bool:
        return self.error is None

    def metrics(self) -> dict[str, float | None]:
        keys = ("best_val_accuracy", "test_accuracy", "macro_f1", "train_seconds", "wall_seconds")
        return {k: getattr(self, k) for k in (*keys, "images_per_second")}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str))

    @classmethod
    def load(cls, path: Path) -> ExperimentResult:
        known = {f.name for f in fields(cls)}
        saved = json.loads(path.read_text())
        # rows written before the key existed said so in `weights` alone
        saved.setdefault("random_init", saved.get("weights") == RANDOM_INIT)
        return cls(**{k: v for k, v in saved.items() if k in known})


def _row(name: str, kind: ExperimentKind, config: TrainConfig) -> ExperimentResult:
    head = "linear" if config.head is HeadKind.LINEAR else f"mlp {config.hidden}"
    return ExperimentResult(
        name,
        kind.value,
        config.model,
        optimizer=config.optimizer.value,
        head=f"{head}, dropout {config.dropout:g}",
        augment=config.augment.value,
        weight_decay=config.weight_decay,
        scheduler=config.scheduler.value,
        config=config_to_dict(config),
    )


def failed_result(
    name: str, kind: ExperimentKind, config: TrainConfig, exc: BaseException, finalist: bool
) -> ExperimentResult:
    row = _row(name, kind, config)
    row.error, row.finalist = f"{type(exc).__name__}: {exc}", finalist
    return row


def stages_text(history: list[dict], config: TrainConfig) -> str:
    """E.g. "head 5 ep + finetune last 2 groups 3 ep"."""
    parts = []
    for stage, epochs in Counter(r["stage"] for r in history).items():
        if stage == Stage.FINETUNE.value:
            groups = config.finetune_groups or get_spec(config.model).finetune_groups
            parts.append(f"finetune last {groups} group{'s' * (groups != 1)} {epochs} ep")
        else:
            parts.append(f"{stage} {epochs} ep")
    return " + ".join(parts) or "none"


def _record_test(row: ExperimentResult, result: EvalResult) -> None:
    row.test_accuracy, row.macro_f1 = result.accuracy, result.macro_f1
    row.images_per_second, row.parameters = result.images_per_second, result.parameters


def _test(
    row: ExperimentResult,
    model: BlockClassifier,
    meta: CheckpointMeta,
    data: Path,
    config: TrainConfig,
    test: bool,
    out: Path,
    tta: bool = False,
) -> None:
    """Test a loaded model (report files into `out`) unless only finalists are tested."""
    row.parameters = count_parameters(model)
    if not test:
        row.notes.append("not tested: test_finalists_only")
        return
    try:
        folder = load_eval_folder(data, Split.TEST, meta.classes)
    except DataLayoutError as exc:
        row.notes.append(f"no test evaluation: {exc}")
        return
    _record_test(row, write_report(evaluate_split(model, meta, folder, config, tta), out))


def _run_train(
    row: ExperimentResult, config: TrainConfig, data: Path, run_dir: Path, tracker: Tracker
) -> Path:
    resumed = (run_dir / STATE).is_file()
    result = train(data, run_dir, config, resume=resumed, on_epoch=tracker.on_epoch)
    row.weights, row.random_init = result.weights_source, result.random_init
    row.epochs, row.train_seconds = len(result.history), result.seconds
    row.stages = stages_text(result.history, config)
    row.best_val_accuracy = max((h["val_accuracy"] for h in result.history), default=None)
    row.notes += result.notes + (["resumed an interrupted run"] if resumed else [])
    return result.checkpoint


def _run_probe(row: ExperimentResult, config: TrainConfig, data: Path, run_dir: Path) -> Path:
    result = linear_probe(data, run_dir, config)
    row.weights, row.random_init = result.weights_source, result.random_init
    row.train_seconds = result.seconds
    row.stages, row.optimizer, row.scheduler = "frozen backbone", "lbfgs (sklearn)", "-"
    row.head, row.augment, row.weight_decay = f"logistic regression, C={result.c:g}", "none", None
    row.best_val_accuracy = result.val_accuracy
    row.notes.append(f"val macro F1 {result.val_macro_f1:.4f}; C chosen on val")
    return result.checkpoint


def _run_untrained(
    row: ExperimentResult, config: TrainConfig, data: Path, run_dir: Path, test: bool
) -> None:
    """The backbone with a fresh head: val accuracy through the study's feature cache (the
    features later experiments train on), throughput timed through the eager pipeline."""
    row.stages, row.optimizer, row.scheduler, row.augment = "none (fresh head)", "-", "-", "-"
    row.head, row.weight_decay = "linear, untrained", None
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / CONFIG_FILE)
    splits = load_splits(data, config.val_fraction, config.seed)
    model, meta = untrained_model(
        config.model, splits.classes, config.weights, config.seed, config.image_size
    )
    meta.preprocessing = preprocessing_for(config, splits)
    row.weights, row.random_init = meta.weights_source, meta.random_init
    val = evaluate_split(model, meta, splits.get(Split.VAL), config)
    row.best_val_accuracy, row.images_per_second = val.accuracy, val.images_per_second
    write_report(val, run_dir)
    _test(row, model, meta, data, config, test, run_dir)


def _run_tta(
    row: ExperimentResult, config: TrainConfig, data: Path, run_dir: Path, test: bool
) -> None:
    """The init_from checkpoint, unchanged, with probabilities averaged over each image and its
    mirror; both views go through the feature cache."""
    if config.init_checkpoint is None:
        raise ConfigError("kind tta needs init_from: the experiment whose checkpoint it tests")
    checkpoint = Path(config.init_checkpoint)
    model, meta = load_checkpoint(checkpoint)
    row.weights, row.random_init = meta.weights_source, meta.random_init
    row.stages, row.optimizer, row.scheduler = "none (flip TTA of a trained model)", "-", "-"
    row.head = f"{row.head} (trained)"
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / CONFIG_FILE)
    splits = load_splits(data, config.val_fraction, config.seed)
    val = evaluate_split(model, meta, splits.get(Split.VAL), config, tta=True)
    row.best_val_accuracy = val.accuracy
    write_report(val, run_dir)
    _test(row, model, meta, data, config, test, run_dir, tta=True)


def run_kind(
    kind: ExperimentKind,
    name: str,
    config: TrainConfig,
    data: Path,
    run_dir: Path,
    tracker: Tracker,
    test: bool,
) -> ExperimentResult:
    """Run one experiment of `kind` into `run_dir` and describe it."""
    row = _row(name, kind, config)
    if kind is ExperimentKind.UNTRAINED:
        _run_untrained(row, config, data, run_dir, test)
        return row
    if kind is ExperimentKind.TTA:
        _run_tta(row, config, data, run_dir, test)
        return row
    if kind is ExperimentKind.LINEAR_PROBE:
        checkpoint = _run_probe(row, config, data, run_dir)
    else:
        checkpoint = _run_train(row, config, data, run_dir, tracker)
    model, meta = load_checkpoint(checkpoint)
    _test(row, model, meta, data, config, test, checkpoint.parent)
    return row
