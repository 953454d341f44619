"""landrec study: run the experiments of one YAML file in order, then compare them in a report.

A study file holds `base:` (TrainConfig keys), `experiments:` and optionally `title:` and
`test_finalists_only:`. Each experiment has a `name`, a `kind` (train, untrained,
linear_probe or tta), optionally `based_on` (an earlier experiment whose overrides it inherits),
`init_from` (an earlier experiment whose best checkpoint initialises it; a training's `weights`
must then be auto or auto-or-none), `finalist`, and any TrainConfig keys. Unknown keys are
rejected by name before anything runs.

Every experiment runs into DIR/runs/<name> with one feature cache (DIR/cache). A finished one
leaves result.json and is skipped on the next call; an interrupted training resumes; a failing
one is recorded with its error (and error.txt) and the others still run. An experiment whose
definition changed since its folder was written (its fingerprint: kind, resolved config and
init_from's fingerprint) is run again from scratch, and so is everything initialised from it;
the old folder is kept as DIR/runs/.replaced/<name>.

This module reads top to bottom: the study file (`load_study`), the study's run (`run_study`),
then one experiment of each kind, described as one row of the comparison (`ExperimentResult`,
in `study_report`, which writes the comparison).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from landrec.data.layout import DataLayoutError, Split, load_eval_folder, load_splits
from landrec.engine.checkpoint import CheckpointMeta, load_checkpoint
from landrec.engine.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    check_init_weights,
    config_to_dict,
    load_yaml,
    save_config,
)
from landrec.engine.evaluation.evaluate import EvalResult, write_report
from landrec.engine.evaluation.untrained import untrained_model
from landrec.engine.experiments.probe import linear_probe
from landrec.engine.experiments.study_report import BEST_CONFIG, ExperimentResult
from landrec.engine.experiments.study_report import write_report as write_study_report
from landrec.engine.experiments.tracking import (
    Tracker,
    TrackingOption,
    log_run_folder,
    open_tracker,
)
from landrec.engine.runs import RunFolder
from landrec.engine.training.feature_eval import evaluate_split
from landrec.engine.training.optim import Stage
from landrec.engine.training.prepare import preprocessing_for
from landrec.engine.training.train import train
from landrec.models.choices import HeadKind
from landrec.models.factory import count_parameters
from landrec.models.net import BlockClassifier
from landrec.models.registry import get_spec

STUDY_KEYS = ("title", "base", "experiments", "test_finalists_only")
EXPERIMENT_KEYS = ("name", "kind", "based_on", "init_from", "finalist")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # also a folder name
RESULT = "result.json"
RESULTS = "results.json"
FINGERPRINT = "fingerprint.txt"
REPLACED = ".replaced"


# ---- the study file -----------------------------------------------------------------------------


class ExperimentKind(str, Enum):
    TRAIN = "train"  # landrec train: head, then (optionally) fine-tuning
    UNTRAINED = "untrained"  # the backbone with a fresh head, no training (report 5.1)
    LINEAR_PROBE = "linear_probe"  # logistic regression on cached pooled features
    TTA = "tta"  # init_from's checkpoint tested with flip test-time augmentation


@dataclass
class Experiment:
    name: str
    kind: ExperimentKind
    config: TrainConfig  # base, then the inherited and own overrides
    overrides: dict[str, Any]  # the TrainConfig keys set over base (inherited ones included)
    based_on: str | None = None
    init_from: str | None = None
    finalist: bool = False
    fingerprint: str = ""


@dataclass
class Study:
    title: str
    base: TrainConfig
    experiments: list[Experiment]
    test_finalists_only: bool = False


def _check_keys(mapping: Any, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s): {', '.join(map(str, unknown))}")
    return mapping


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _experiment(item: Any, base: TrainConfig, earlier: dict[str, Experiment]) -> Experiment:
    if not isinstance(item, dict) or not NAME.match(str(item.get("name", ""))):
        raise ConfigError(f"experiment {item!r}: needs a `name` of letters, digits, _ . -")
    name = str(item["name"])
    where = f"experiment '{name}'"
    if name in earlier:
        raise ConfigError(f"{where}: the name is used twice")
    for key in ("based_on", "init_from"):
        if item.get(key) is not None and item[key] not in earlier:
            raise ConfigError(f"{where}: {key} '{item[key]}' is not an earlier experiment")
    try:
        kind = ExperimentKind(str(item.get("kind", "train")).lower())
    except ValueError:
        choices = ", ".join(k.value for k in ExperimentKind)
        raise ConfigError(f"{where}: kind must be one of {choices}") from None
    own = {k: v for k, v in item.items() if k not in EXPERIMENT_KEYS}
    parent = earlier[item["based_on"]].overrides if item.get("based_on") else {}
    overrides = {**parent, **own}
    try:
        config = apply_overrides(base, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    finalist = _flag(item.get("finalist", False), f"{where}: finalist")
    init_from = item.get("init_from")
    if kind is ExperimentKind.TTA and init_from is None:
        raise ConfigError(f"{where}: kind tta needs init_from (the experiment it tests)")
    if kind is ExperimentKind.TRAIN:  # init_from becomes its init_checkpoint
        try:
            check_init_weights(config.weights, init_from, "init_from")
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    what = {
        "kind": kind.value,
        "config": config_to_dict(config),
        "finalist": finalist,
        "init_from": earlier[init_from].fingerprint if init_from else None,
    }
    fingerprint = hashlib.blake2b(
        json.dumps(what, sort_keys=True, default=str).encode(), digest_size=8
    ).hexdigest()
    return Experiment(
        name, kind, config, overrides, item.get("based_on"), init_from, finalist, fingerprint
    )


def load_study(path: str | Path) -> Study:
    """Parse and check a study file: every experiment's config is resolved here."""
    path = Path(path)
    raw = _check_keys(load_yaml(path), STUDY_KEYS, str(path))
    base_keys = raw.get("base") or {}
    if not isinstance(base_keys, dict):
        raise ConfigError(f"{path}: base: expected a mapping of TrainConfig keys")
    try:
        base = apply_overrides(TrainConfig(), base_keys)
    except ConfigError as exc:
        raise ConfigError(f"{path}: base: {exc}") from None
    items = raw.get("experiments")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{path}: `experiments` must be a non-empty list")
    experiments: dict[str, Experiment] = {}
    for item in items:
        exp = _experiment(item, base, experiments)
        experiments[exp.name] = exp
    only = _flag(raw.get("test_finalists_only", False), f"{path}: test_finalists_only")
    return Study(str(raw.get("title") or path.stem), base, list(experiments.values()), only)


# ---- running a study ----------------------------------------------------------------------------


@dataclass
class StudyResult:
    out: Path
    results: list[ExperimentResult]
    ran: list[str]  # experiments run by this call (the others had finished before)
    best: ExperimentResult | None
    files: dict[str, str] = field(default_factory=dict)


def run_study(
    study_file: str | Path, data: str | Path, out: str | Path, tracking: TrackingOption = False
) -> StudyResult:
    """Run (or continue) a study into `out`, then write report.md/html and best_config.yaml."""
    study = load_study(study_file)
    out, data = Path(out), Path(data)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    results: list[ExperimentResult] = []
    ran: list[str] = []
    for exp in study.experiments:
        run_dir = out / "runs" / exp.name
        _replace_if_changed(exp, run_dir)
        if (run_dir / RESULT).is_file():
            results.append(ExperimentResult.load(run_dir / RESULT))
            continue
        ran.append(exp.name)
        results.append(run_experiment(study, exp, data, out, tracking))
        (out / RESULTS).write_text(json.dumps([r.to_dict() for r in results], indent=2))
    best = best_of(results)
    files = {"results": str(out / RESULTS)}
    if best is not None:
        files["best_config"] = str(write_best_config(best, out / BEST_CONFIG))
    (out / RESULTS).write_text(json.dumps([r.to_dict() for r in results], indent=2))
    files.update(write_study_report(study.title, results, best, out))
    return StudyResult(out, results, ran, best, files)


def _replace_if_changed(exp: Experiment, run_dir: Path) -> None:
    """Move aside a run folder written for another definition of the experiment (one written
    before fingerprints existed counts as the same definition)."""
    if not run_dir.is_dir():
        return
    saved = run_dir / FINGERPRINT
    if not saved.is_file() or saved.read_text().strip() == exp.fingerprint:
        return
    old = run_dir.parent / REPLACED / exp.name
    if old.exists():
        shutil.rmtree(old)
    old.parent.mkdir(exist_ok=True)
    run_dir.rename(old)


def best_of(results: list[ExperimentResult]) -> ExperimentResult | None:
    """The trained experiment with the highest best val accuracy (the first of equals)."""
    trained = [
        r
        for r in results
        if r.ok and r.kind == ExperimentKind.TRAIN.value and r.best_val_accuracy is not None
    ]
    return max(trained, key=lambda r: r.best_val_accuracy or 0.0, default=None)


def write_best_config(best: ExperimentResult, path: Path) -> Path:
    header = (
        f"# The best configuration of this study: experiment '{best.name}', "
        f"best val accuracy {best.best_val_accuracy:.4f}.\n"
        f"# Reproduce with: landrec train DATA --config {BEST_CONFIG}\n"
    )
    path.write_text(header + yaml.safe_dump(best.config, sort_keys=False))
    return path


def run_experiment(
    study: Study, exp: Experiment, data: Path, out: Path, tracking: TrackingOption
) -> ExperimentResult:
    """Run one experiment into out/runs/<name>; an error is recorded, not raised."""
    run_dir = out / "runs" / exp.name
    test = exp.finalist or not study.test_finalists_only
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / FINGERPRINT).write_text(exp.fingerprint)
    started = time.perf_counter()
    try:
        config = _prepared(exp, out)
        with open_tracker(tracking, out, f"landrec-study-{study.title}", exp.name) as tracker:
            tracker.log_params({"kind": exp.kind.value, **config_to_dict(config)})
            result = run_kind(exp.kind, exp.name, config, data, run_dir, tracker, test)
            result.finalist, result.init_from = exp.finalist, exp.init_from
            result.fingerprint = exp.fingerprint
            result.wall_seconds = time.perf_counter() - started
            log_run_folder(tracker, run_dir, result.metrics())
    except Exception as exc:  # one failing experiment must not stop the study
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "error.txt").write_text(traceback.format_exc())
        return failed_result(exp.name, exp.kind, exp.config, exc, exp.finalist)
    result.save(run_dir / RESULT)
    return result


def _prepared(exp: Experiment, out: Path) -> TrainConfig:
    """The shared feature cache, and the checkpoint that `init_from` points at."""
    changes: dict[str, Any] = {"cache_dir": exp.config.cache_dir or str(out / "cache")}
    if exp.init_from is not None:
        parent = out / "runs" / exp.init_from
        if not (parent / RESULT).is_file():
            raise ConfigError(f"init_from '{exp.init_from}': that experiment has not finished")
        changes["init_checkpoint"] = str(RunFolder(parent).best.resolve())
    return apply_overrides(exp.config, changes)


# ---- one experiment of each kind ----------------------------------------------------------------


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


def _run_train(
    row: ExperimentResult, config: TrainConfig, data: Path, run_dir: Path, tracker: Tracker
) -> Path:
    resumed = RunFolder(run_dir).state.is_file()
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
    save_config(config, RunFolder(run_dir).config)
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
    save_config(config, RunFolder(run_dir).config)
    splits = load_splits(data, config.val_fraction, config.seed)
    val = evaluate_split(model, meta, splits.get(Split.VAL), config, tta=True)
    row.best_val_accuracy = val.accuracy
    write_report(val, run_dir)
    _test(row, model, meta, data, config, test, run_dir, tta=True)


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


def _record_test(row: ExperimentResult, result: EvalResult) -> None:
    row.test_accuracy, row.macro_f1 = result.accuracy, result.macro_f1
    row.images_per_second, row.parameters = result.images_per_second, result.parameters
