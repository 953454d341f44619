"""The training configuration: one typed source of defaults, overridden by YAML then CLI."""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from landrec.data.atomic import write_text_atomic
from landrec.data.choices import AugPreset
from landrec.data.errors import UserError
from landrec.models.choices import AUTO_WEIGHTS, HeadKind, WeightsChoice, WeightsMode


class Optimizer(str, Enum):
    SGD = "sgd"
    ADAM = "adam"
    ADAMW = "adamw"
    RMSPROP = "rmsprop"


class Backend(str, Enum):
    TORCH = "torch"  # PyTorch eager
    ONNX = "onnx"  # ONNX Runtime (CPU): several times faster than eager here


class Scheduler(str, Enum):
    PLATEAU = "plateau"  # ReduceLROnPlateau on validation loss (the report's)
    COSINE = "cosine"
    NONE = "none"


class CachePoint(str, Enum):
    AUTO = "auto"  # the deepest prefix frozen in every stage of this run
    FINETUNE = "finetune"  # the input of the groups fine-tuning unfreezes, even head-only: head
    # and fine-tune runs then share a cache (worth it for VGG16's and AlexNet's fc layers)


class Normalize(str, Enum):
    MODEL = "model"  # the backbone's pretraining mean/std
    DATASET = "dataset"  # the train split's own mean/std (the report's choice)


@dataclass
class TrainConfig:
    """Every training option with its default (the default recipe)."""

    model: str = "mobilenet_v2"  # registry name (`landrec models`)
    weights: WeightsChoice = AUTO_WEIGHTS  # auto | none (random init) | auto-or-none | a file
    init_checkpoint: str | None = None  # start from this landrec checkpoint (or run folder)
    head: HeadKind = HeadKind.MLP  # linear | mlp (Linear-ReLU-Dropout-Linear)
    hidden: int = 256  # MLP head width
    dropout: float = 0.3  # head dropout
    image_size: int | None = None  # input size; None = the model's own
    normalize: Normalize = Normalize.MODEL
    augment: AugPreset = AugPreset.FLIP  # none | flip | report | trivial | robust
    aug_views: int = 2  # augmented views cached per training image (1 when augment=none)
    batch_size: int = 64
    optimizer: Optimizer = Optimizer.ADAMW
    head_lr: float = 1e-3  # head learning rate in stage 1 (old name: lr)
    momentum: float = 0.9  # SGD / RMSprop momentum
    weight_decay: float = 1e-4  # true L2 / decoupled decay, per the optimizer
    scheduler: Scheduler = Scheduler.COSINE
    plateau_patience: int = 2  # ReduceLROnPlateau patience (epochs)
    plateau_factor: float = 0.1
    label_smoothing: float = 0.1
    head_epochs: int = 30  # stage 1: frozen backbone
    finetune_epochs: int = 8  # stage 2: deepest groups unfrozen (0 = skip)
    finetune_groups: int | None = None  # None = the model's default
    backbone_lr: float = 1e-4  # backbone LR in stage 2, lower than the head's (old: finetune_lr)
    finetune_head_lr: float | None = None  # head LR in stage 2; None = backbone_lr * 10
    finetune_train_head: bool = True  # false: head frozen in stage 2 (as the report did)
    finetune_bn: bool = False  # true: BatchNorm statistics of unfrozen groups update too
    early_stopping: int = 0  # stop a stage after N epochs without val-loss gain (0 = off)
    seed: int = 0
    val_fraction: float = 0.15  # held out of train when there is no val split
    exclude: str | None = None  # file of paths (one a line, or a suspects.csv) left out of train
    exclude_eval: bool = False  # also out of val and test (by default test is never cleaned)
    teacher: str | None = None  # trained run(s), comma-separated, to distil from (soft targets)
    distill_alpha: float = 0.5  # the teachers' share of each target (the label's: 1 - it)
    distill_temperature: float = 1.0  # softmax temperature of the teachers' logits
    workers: int | None = None  # decode processes; None = automatic
    cache: bool = True  # train from cached frozen-prefix features
    cache_dir: str | None = None  # None = <data-root's parent>/.landrec-cache or ~/.cache
    cache_fp16: bool = True  # store cached features in float16
    cache_point: CachePoint = CachePoint.AUTO  # which block's input is cached
    feature_backend: Backend = Backend.ONNX  # what runs the frozen layers for the cache (CPU)
    bf16: bool = True  # bfloat16 autocast when PyTorch extracts features (CPU AMX / GPU)
    device: str = "auto"  # auto | cpu | cuda | cuda:N


# Every number field's allowed values: `>= a`, `> a`, or a to b with ends included ([ ]) or not
# (( )); `| None` fields also allow None. check_config applies them to YAML, CLI and Python.
BOUNDS: dict[str, str] = {
    "hidden": ">= 1",
    "dropout": "[0, 1)",
    "image_size": ">= 32",  # below it, the backbones' downsampling leaves no pixels
    "aug_views": ">= 1",
    "batch_size": ">= 1",
    "head_lr": "> 0",
    "momentum": "[0, 1)",
    "weight_decay": ">= 0",
    "plateau_patience": ">= 0",
    "plateau_factor": "(0, 1)",
    "label_smoothing": "[0, 1)",
    "head_epochs": ">= 0",
    "finetune_epochs": ">= 0",
    "finetune_groups": ">= 1",  # 0 would read as "the model's default"
    "backbone_lr": "> 0",
    "finetune_head_lr": "> 0",
    "early_stopping": ">= 0",
    "seed": ">= 0",
    "val_fraction": "(0, 1)",
    "distill_alpha": "[0, 1]",
    "distill_temperature": "> 0",
    "workers": ">= 0",
}
DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")
CONFIG_FILE = "config.yaml"
# Old key -> its TrainConfig field: YAML files, saved runs and CLI flags that use it still work.
CONFIG_ALIASES = {"lr": "head_lr", "finetune_lr": "backbone_lr"}


class ConfigError(UserError, ValueError):
    """A configuration key or value is not valid; the message names it."""


def _base(kind: Any) -> Any:
    """A field's type without its `| None`."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


def allowed(name: str) -> str:
    """What a field accepts, in words (error messages say it)."""
    kind = typing.get_type_hints(TrainConfig)[name]
    base = _base(kind)
    if name in BOUNDS:
        bound = BOUNDS[name]
        interval = "in " if bound[0] in "[(" else ""
        text = f"{'integer' if base is int else 'number'} {interval}{bound}"
    elif isinstance(base, type) and issubclass(base, Enum):
        text = "one of " + ", ".join(m.value for m in base)
    elif base is bool:
        text = "true or false"
    elif base is WeightsChoice:
        text = "auto, none, auto-or-none or a file"
    else:  # str
        text = "auto, cpu, cuda or cuda:N" if name == "device" else "text"
    return f"none or {text}" if base is not kind else text


def within(value: float, bound: str) -> bool:
    """Whether `value` is finite and meets `bound` (written as in BOUNDS)."""
    if bound.startswith(">"):
        low = float(bound.lstrip(">= "))
        return math.isfinite(value) and (value > low or (value == low and "=" in bound))
    low, high = (float(end) for end in bound[1:-1].split(","))
    above = value > low or (value == low and bound[0] == "[")
    return math.isfinite(value) and above and (value < high or (value == high and bound[-1] == "]"))


def _convert(kind: Any, value: Any) -> Any:
    base = _base(kind)
    if base is not kind and (value is None or str(value).lower() in ("none", "null")):
        return None
    if isinstance(base, type) and hasattr(base, "parse"):  # e.g. WeightsChoice
        return base.parse(value)
    if isinstance(base, type) and issubclass(base, Enum):
        return base(value.value if isinstance(value, Enum) else str(value).lower())
    if base is bool and isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(value)
        return value.lower() in ("true", "1", "yes")
    if base is str and not isinstance(value, str | Path):
        raise ValueError(f"not text: {value!r}")  # a YAML list or mapping is no path or name
    if base is int and (isinstance(value, bool) or not float(value).is_integer()):
        raise ValueError(f"not an integer: {value!r}")  # YAML's 1.5 or true is no batch size
    return base(value)


def _coerce(name: str, kind: Any, value: Any) -> Any:
    """`value` as the field's type, within the field's bounds."""
    try:
        value = _convert(kind, value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConfigError(f"{name}: {value!r} is not valid (allowed: {allowed(name)})") from exc
    if value is not None and name in BOUNDS and not within(value, BOUNDS[name]):
        raise ConfigError(f"{name}: {value!r} is out of range (allowed: {allowed(name)})")
    if name == "device" and not DEVICE.fullmatch(value):
        raise ConfigError(f"device: {value!r} is not valid (allowed: {allowed(name)})")
    return value


def check_config(config: TrainConfig) -> TrainConfig:
    """`config` with every field coerced to its type and checked against its bounds, and the
    fields checked against each other; the first violation raises ConfigError naming it."""
    hints = typing.get_type_hints(TrainConfig)
    values = {
        f.name: _coerce(f.name, hints[f.name], getattr(config, f.name)) for f in fields(config)
    }
    if values["head_epochs"] + values["finetune_epochs"] < 1:
        raise ConfigError(
            f"head_epochs + finetune_epochs: {values['head_epochs']} + "
            f"{values['finetune_epochs']} trains nothing (allowed: a sum >= 1)"
        )
    return dataclasses.replace(config, **values)


def _coerced(overrides: dict[str, Any]) -> dict[str, Any]:
    """Overrides with old names renamed, unknown keys rejected, each value coerced and checked."""
    overrides = _renamed(overrides)
    hints = typing.get_type_hints(TrainConfig)
    unknown = sorted(str(k) for k in overrides if k not in hints)
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
    return {k: _coerce(k, hints[k], v) for k, v in overrides.items()}


def apply_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """A copy of `config` with `overrides` applied, checked (see `check_config`); unknown keys
    are rejected by name."""
    return check_config(dataclasses.replace(config, **_coerced(overrides)))


def _renamed(overrides: dict[str, Any]) -> dict[str, Any]:
    """Old key names replaced by their fields' names; an old and a new name together is an error."""
    out = dict(overrides)
    for old, new in CONFIG_ALIASES.items():
        if old in out:
            if new in out:
                raise ConfigError(f"{old} and {new} both given: {old} is the old name of {new}")
            out[new] = out.pop(old)
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML file's mapping; a missing, unreadable or malformed file raises ConfigError naming
    it (and the line and column of a syntax error)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:  # missing, a folder, not text
        raise ConfigError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict | None):
        raise ConfigError(f"{path}: expected a mapping of config keys")
    return data or {}


def resolve_config(yaml_path: str | Path | None, cli: dict[str, Any]) -> TrainConfig:
    """Defaults, then the YAML file, then CLI options (None values are 'not given'); the result
    is checked once, so the YAML's values may be completed by the CLI's."""
    values: dict[str, Any] = {}
    if yaml_path is not None:
        data = load_yaml(yaml_path)
        try:
            values = _coerced(data)
        except ConfigError as exc:
            raise ConfigError(f"{yaml_path}: {exc}") from exc
    values |= _coerced({k: v for k, v in cli.items() if v is not None})
    return check_config(dataclasses.replace(TrainConfig(), **values))


def _plain(value: Any) -> Any:  # as YAML and JSON hold it: enums and choices as text
    if isinstance(value, Enum):
        return value.value
    return str(value) if isinstance(value, WeightsChoice) else value


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    return {f.name: _plain(getattr(config, f.name)) for f in fields(config)}


def check_init_weights(
    weights: WeightsChoice, init: str | None, option: str = "init_checkpoint"
) -> None:
    """With an init checkpoint (`option` names where it comes from), `weights` must defer to
    it: auto and auto-or-none do; none or a file would be silently replaced."""
    if init is not None and weights.mode in (WeightsMode.NONE, WeightsMode.FILE):
        raise ConfigError(
            f"weights: {weights} and {option}: {init} both given: the init checkpoint's "
            "weights would replace them (weights: auto starts from the checkpoint alone)"
        )


def save_config(config: TrainConfig, path: Path) -> None:  # atomic: never half a file
    write_text_atomic(path, yaml.safe_dump(config_to_dict(config), sort_keys=False))
