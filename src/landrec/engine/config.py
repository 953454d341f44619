"""The training configuration: one typed source of defaults, overridden by YAML then CLI."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from landrec.data.transforms import AugPreset
from landrec.models.net import HeadKind
from landrec.models.weights import AUTO_WEIGHTS, WeightsChoice, WeightsMode


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
    FINETUNE = "finetune"  # the input of the groups fine-tuning unfreezes, even in a head-only
    # run: head and fine-tune runs of one model then share one cache (worth it when the
    # blocks above that point are cheap, e.g. VGG16's and AlexNet's fully connected layers)


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
    augment: AugPreset = AugPreset.FLIP  # none | flip | report | trivial
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
    workers: int | None = None  # decode processes; None = automatic
    cache: bool = True  # train from cached frozen-prefix features
    cache_dir: str | None = None  # None = <data-root's parent>/.landrec-cache or ~/.cache
    cache_fp16: bool = True  # store cached features in float16
    cache_point: CachePoint = CachePoint.AUTO  # which block's input is cached
    feature_backend: Backend = Backend.ONNX  # what runs the frozen layers for the cache (CPU)
    bf16: bool = True  # bfloat16 autocast when PyTorch extracts features (CPU AMX / GPU)
    device: str = "auto"  # auto | cpu | cuda


CONFIG_FILE = "config.yaml"
# Old key -> its TrainConfig field: YAML files, saved runs and CLI flags that use it still work.
CONFIG_ALIASES = {"lr": "head_lr", "finetune_lr": "backbone_lr"}


class ConfigError(ValueError):
    """A configuration key or value is not valid; the message names it."""


def _coerce(name: str, kind: Any, value: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        is_none = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_none and type(None) in typing.get_args(kind):
            return None
        return _coerce(name, options[0], value)
    try:
        if isinstance(kind, type) and hasattr(kind, "parse"):  # e.g. WeightsChoice
            return kind.parse(value)
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind(value.value if isinstance(value, Enum) else str(value).lower())
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        return kind(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name}: invalid value {value!r} ({exc})") from exc


def apply_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """A copy of `config` with `overrides` applied; unknown keys are rejected by name."""
    overrides = _renamed(overrides)
    hints = typing.get_type_hints(TrainConfig)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
    values = {k: _coerce(k, hints[k], v) for k, v in overrides.items()}
    return dataclasses.replace(config, **values)


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
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys")
    return data


def resolve_config(yaml_path: str | Path | None, cli: dict[str, Any]) -> TrainConfig:
    """Defaults, then the YAML file, then CLI options (None values are 'not given')."""
    config = TrainConfig()
    if yaml_path is not None:
        config = apply_overrides(config, load_yaml(yaml_path))
    return apply_overrides(config, {k: v for k, v in cli.items() if v is not None})


def _plain(value: Any) -> Any:
    """A field's value as YAML and JSON hold it: enums and choices as their text."""
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


def save_config(config: TrainConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
