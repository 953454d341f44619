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
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from landrec.engine import checkpoint as ckpt
from landrec.engine.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    check_init_weights,
    config_to_dict,
    load_yaml,
)
from landrec.engine.experiments.study_report import write_report
from landrec.engine.experiments.study_runs import (
    ExperimentKind,
    ExperimentResult,
    failed_result,
    run_kind,
)
from landrec.engine.experiments.tracking import TrackingOption, log_run_folder, open_tracker

STUDY_KEYS = ("title", "base", "experiments", "test_finalists_only")
EXPERIMENT_KEYS = ("name", "kind", "based_on", "init_from", "finalist")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # also a folder name
RESULT = "result.json"
RESULTS = "results.json"
FINGERPRINT = "fingerprint.txt"
REPLACED = ".replaced"
BEST_CONFIG = "best_config.yaml"


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


@dataclass
class StudyResult:
    out: Path
    results: list[ExperimentResult]
    ran: list[str]  # experiments run by this call (the others had finished before)
    best: ExperimentResult | None
    files: dict[str, str] = field(default_factory=dict)


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


def _prepared(exp: Experiment, out: Path) -> TrainConfig:
    """The shared feature cache, and the checkpoint that `init_from` points at."""
    changes: dict[str, Any] = {"cache_dir": exp.config.cache_dir or str(out / "cache")}
    if exp.init_from is not None:
        parent = out / "runs" / exp.init_from
        if not (parent / RESULT).is_file():
            raise ConfigError(f"init_from '{exp.init_from}': that experiment has not finished")
        changes["init_checkpoint"] = str((parent / ckpt.BEST).resolve())
    return dataclasses.replace(exp.config, **changes)


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
        "# Reproduce with: landrec train DATA --config best_config.yaml\n"
    )
    path.write_text(header + yaml.safe_dump(best.config, sort_keys=False))
    return path


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
    files.update(write_report(study.title, results, best, out))
    return StudyResult(out, results, ran, best, files)
