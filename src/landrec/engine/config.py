"""The training configuration: one typed source of defaults, overridden by YAML then CLI.

`TrainConfig` is a pydantic model: each field's type, bounds (`Field(ge=..., lt=...)`) and
`description` are the one declaration that validation, error messages and `--help` read."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePath
from typing import Annotated, Any, TypeVar

import annotated_types
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)

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


class Select(str, Enum):
    """What picks the best checkpoint on val (timm's default metric is top-1 too)."""

    ACCURACY = "accuracy"  # top-1, averaged over the data's views with equal weight
    LOSS = "loss"  # the lowest loss (label smoothing makes it favour early, soft epochs)


class CachePoint(str, Enum):
    AUTO = "auto"  # the deepest prefix frozen in every stage of this run
    FINETUNE = "finetune"  # the input of the groups fine-tuning unfreezes, even head-only: head
    # and fine-tune runs then share a cache (worth it for VGG16's and AlexNet's fc layers)


class Normalize(str, Enum):
    MODEL = "model"  # the backbone's pretraining mean/std
    DATASET = "dataset"  # the train split's own mean/std (the report's choice)


# Old key -> its TrainConfig field: YAML files, saved runs and CLI flags that use it still work.
CONFIG_ALIASES = {"lr": "head_lr", "finetune_lr": "backbone_lr"}


class ConfigError(UserError, ValueError):
    """A configuration key or value is not valid; the message names it."""


@dataclass(frozen=True)
class Allowed:
    """What a field accepts, in words, where its type and bounds do not say it."""

    text: str


# How YAML and command-line text become values, beyond pydantic's own parsing.
def _none_text(value: Any) -> Any:  # `none` / `null` (any case) of an optional field
    return None if isinstance(value, str) and value.lower() in ("none", "null") else value


def _whole(value: Any) -> Any:  # YAML's `true` is no batch size, nor text such as "8.0"
    text = isinstance(value, str) and not value.strip().lstrip("+-").isdigit()
    if isinstance(value, bool) or text:  # (pydantic would take them as 1 and 8)
        raise ValueError(f"not an integer: {value!r}")
    return value


def _bool_text(value: Any) -> Any:  # only these words (pydantic would also take on, t, y, ...)
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if isinstance(value, str) and value.lower() not in words:
        raise ValueError(f"not true or false: {value!r}")
    return words[value.lower()] if isinstance(value, str) else value


def _enum_text(value: Any) -> Any:  # an enum's value in any case
    return value if isinstance(value, Enum) else str(value).lower()


def _path_text(value: Any) -> Any:  # a Path given in Python is text
    return str(value) if isinstance(value, PurePath) else value


EnumT = TypeVar("EnumT", bound=Enum)
Choice = Annotated[EnumT, BeforeValidator(_enum_text)]  # Choice[Optimizer]
Int = Annotated[int, BeforeValidator(_whole)]
OptionalInt = Annotated[int | None, BeforeValidator(_whole), BeforeValidator(_none_text)]
OptionalFloat = Annotated[float | None, BeforeValidator(_none_text)]
Flag = Annotated[bool, BeforeValidator(_bool_text)]
Text = Annotated[str, BeforeValidator(_path_text)]
OptionalText = Annotated[str | None, BeforeValidator(_path_text), BeforeValidator(_none_text)]
Device = Annotated[
    Text, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$"), Allowed("auto, cpu, cuda or cuda:N")
]
Weights = Annotated[
    WeightsChoice,
    PlainValidator(WeightsChoice.parse),
    PlainSerializer(str, when_used="json"),  # YAML and JSON hold the keyword or the file
    Allowed("auto, none, auto-or-none or a file"),
]


class TrainConfig(BaseModel):
    """Every training option with its default (the default recipe), checked wherever a config
    is made (Python, YAML, CLI): a bad value raises ConfigError naming the option and its rule."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    model: Text = Field("mobilenet_v2", description="registry name (`landrec models`)")
    weights: Weights = Field(
        AUTO_WEIGHTS, description="auto | none (random init) | auto-or-none | a file"
    )
    init_checkpoint: OptionalText = Field(
        None, description="start from this landrec checkpoint (or run folder)"
    )
    head: Choice[HeadKind] = Field(
        HeadKind.MLP, description="linear | mlp (Linear-ReLU-Dropout-Linear)"
    )
    hidden: Int = Field(256, ge=1, description="MLP head width")
    dropout: float = Field(0.3, ge=0, lt=1, description="head dropout")
    # at least 32: below it, the backbones' downsampling leaves no pixels
    image_size: OptionalInt = Field(None, ge=32, description="input size; None = the model's own")
    normalize: Choice[Normalize] = Field(
        Normalize.MODEL,
        description="mean/std: the backbone's pretraining ones (model) or the train split's",
    )
    augment: Choice[AugPreset] = Field(
        AugPreset.FLIP, description="none | flip | report | trivial | robust"
    )
    aug_views: Int = Field(
        2, ge=1, description="augmented views cached per training image (1 when augment=none)"
    )
    batch_size: Int = Field(64, ge=1, description="images per training batch")
    optimizer: Choice[Optimizer] = Field(
        Optimizer.ADAMW, description="the optimizer of both stages"
    )
    head_lr: float = Field(1e-3, gt=0, description="head learning rate in stage 1 (old name: lr)")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD / RMSprop momentum")
    weight_decay: float = Field(
        1e-4, ge=0, description="true L2 / decoupled decay, per the optimizer"
    )
    scheduler: Choice[Scheduler] = Field(
        Scheduler.COSINE, description="cosine | plateau (ReduceLROnPlateau on val loss) | none"
    )
    plateau_patience: Int = Field(2, ge=0, description="ReduceLROnPlateau patience (epochs)")
    plateau_factor: float = Field(0.1, gt=0, lt=1, description="ReduceLROnPlateau's LR factor")
    label_smoothing: float = Field(0.1, ge=0, lt=1, description="label smoothing of the loss")
    head_epochs: Int = Field(30, ge=0, description="stage 1: frozen backbone")
    finetune_epochs: Int = Field(8, ge=0, description="stage 2: deepest groups unfrozen (0 = skip)")
    # at least 1: 0 would read as "the model's default"
    finetune_groups: OptionalInt = Field(None, ge=1, description="None = the model's default")
    backbone_lr: float = Field(
        1e-4, gt=0, description="backbone LR in stage 2, lower than the head's (old: finetune_lr)"
    )
    finetune_head_lr: OptionalFloat = Field(
        None, gt=0, description="head LR in stage 2; None = backbone_lr * 10"
    )
    finetune_train_head: Flag = Field(
        True, description="false: head frozen in stage 2 (as the report did)"
    )
    finetune_bn: Flag = Field(
        False, description="true: BatchNorm statistics of unfrozen groups update too"
    )
    average_epochs: Int = Field(
        4,
        ge=0,
        description="the mean weights of the last stage's last N epochs become the best "
        "checkpoint when their val score is better (0 or 1 = off)",
    )
    select: Choice[Select] = Field(
        Select.ACCURACY,
        description="the best checkpoint: val accuracy (each view weighing the same) or loss",
    )
    early_stopping: Int = Field(
        0, ge=0, description="stop a stage after N epochs with no better `select` score (0 = off)"
    )
    seed: Int = Field(0, ge=0, description="random seed (split, initialisation, batches)")
    val_fraction: float = Field(
        0.15, gt=0, lt=1, description="held out of train when there is no val split"
    )
    exclude: OptionalText = Field(
        None, description="file of paths (one a line, or a suspects.csv) left out of train"
    )
    exclude_eval: Flag = Field(
        False, description="also out of val and test (by default test is never cleaned)"
    )
    teacher: OptionalText = Field(
        None, description="trained run(s), comma-separated, to distil from (soft targets)"
    )
    distill_alpha: float = Field(
        0.5, ge=0, le=1, description="the teachers' share of each target (the label's: 1 - it)"
    )
    distill_temperature: float = Field(
        1.0, gt=0, description="softmax temperature of the teachers' logits"
    )
    calibrate: Flag = Field(
        True,
        description="after training: temperature and the unknown threshold fitted on val "
        "and on the data's out-of-class folders (a sources file's out_of_class)",
    )
    target_accuracy: float = Field(
        0.97, gt=0, le=1, description="calibration: accuracy of the accepted images aimed at"
    )
    workers: OptionalInt = Field(None, ge=0, description="decode processes; None = automatic")
    cache: Flag = Field(True, description="train from cached frozen-prefix features")
    cache_dir: OptionalText = Field(None, description="None = ~/.cache/landrec/features")
    cache_fp16: Flag = Field(True, description="store cached features in float16")
    cache_point: Choice[CachePoint] = Field(
        CachePoint.AUTO, description="which block's input is cached"
    )
    feature_backend: Choice[Backend] = Field(
        Backend.ONNX, description="what runs the frozen layers for the cache (CPU)"
    )
    bf16: Flag = Field(
        True, description="bfloat16 autocast when PyTorch extracts features (CPU AMX / GPU)"
    )
    device: Device = Field("auto", description="auto | cpu | cuda | cuda:N")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _config_error(exc, values) from exc

    @model_validator(mode="after")
    def _trains_something(self) -> TrainConfig:
        if self.head_epochs + self.finetune_epochs < 1:
            raise ConfigError(
                f"head_epochs + finetune_epochs: {self.head_epochs} + {self.finetune_epochs} "
                "trains nothing (allowed: a sum >= 1)"
            )
        return self


def _base(kind: Any) -> Any:
    """A field's type without its `| None`."""
    return next((a for a in getattr(kind, "__args__", ()) if a is not type(None)), kind)


def bounds(name: str) -> dict[str, float]:
    """Field `name`'s bounds as its Field declares them: {"ge": 0, "lt": 1}; {} if none."""
    metadata = TrainConfig.model_fields[name].metadata
    return {
        kind: getattr(m, kind)
        for m in metadata
        for kind in ("ge", "gt", "le", "lt")
        if isinstance(m, annotated_types.BaseMetadata) and hasattr(m, kind)
    }


def _range(ends: dict[str, float]) -> str:
    """Bounds in words: `>= 1`, `> 0`, `in [0, 1)`."""
    low = f"{ends.get('ge', ends.get('gt')):g}"
    if "le" not in ends and "lt" not in ends:
        return f"{'>=' if 'ge' in ends else '>'} {low}"
    high = f"{ends.get('le', ends.get('lt')):g}"
    return f"in {'[' if 'ge' in ends else '('}{low}, {high}{']' if 'le' in ends else ')'}"


def _in_words(name: str, base: Any) -> str:
    metadata = TrainConfig.model_fields[name].metadata
    marked = next((m.text for m in metadata if isinstance(m, Allowed)), None)
    if marked is not None:
        return marked
    if base in (int, float):
        return f"{'integer' if base is int else 'number'} {_range(bounds(name))}"
    if isinstance(base, type) and issubclass(base, Enum):
        return "one of " + ", ".join(m.value for m in base)
    return "true or false" if base is bool else "text"


def allowed(name: str) -> str:
    """What field `name` accepts, in words (error messages say it): from its type and bounds."""
    info = TrainConfig.model_fields[name]
    words = _in_words(name, _base(info.annotation))
    return words if _base(info.annotation) is info.annotation else f"none or {words}"


OUT_OF_RANGE = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)


def _config_error(exc: ValidationError, given: Mapping[Any, Any]) -> ConfigError:
    """pydantic's first error as one line: unknown keys, else the option, its value, its rule."""
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        return ConfigError(f"unknown config key(s): {', '.join(unknown)}")
    first = errors[0]
    if not first["loc"]:  # a rule over several fields: its own ConfigError
        cause = first.get("ctx", {}).get("error")
        return cause if isinstance(cause, ConfigError) else ConfigError(first["msg"])
    name = str(first["loc"][0])
    value = given.get(name, first["input"])
    if first["type"] not in OUT_OF_RANGE:
        return ConfigError(f"{name}: {value!r} is not valid (allowed: {allowed(name)})")
    with contextlib.suppress(TypeError, ValueError):  # as parsed: --head-lr -1 shows -1.0
        value = _base(TrainConfig.model_fields[name].annotation)(value)
    return ConfigError(f"{name}: {value!r} is out of range (allowed: {allowed(name)})")


def _known(overrides: Mapping[Any, Any]) -> dict[str, Any]:
    """Old key names replaced by their fields' names; unknown keys, or an old and a new name
    together, raise ConfigError naming them."""
    out = dict(overrides)
    unknown = sorted(str(k) for k in out if k not in {*TrainConfig.model_fields, *CONFIG_ALIASES})
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
    for old, new in CONFIG_ALIASES.items():
        if old in out:
            if new in out:
                raise ConfigError(f"{old} and {new} both given: {old} is the old name of {new}")
            out[new] = out.pop(old)
    return out


def apply_overrides(config: TrainConfig, overrides: Mapping[str, Any]) -> TrainConfig:
    """A copy of `config` with `overrides` applied and checked (see `TrainConfig`)."""
    return TrainConfig(**{**dict(config), **_known(overrides)})


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


def resolve_config(yaml_path: str | Path | None, cli: Mapping[str, Any]) -> TrainConfig:
    """Defaults, then the YAML file, then CLI options (None values are 'not given'); the file's
    values are checked one by one (naming the file), so the CLI's may complete them."""
    values: dict[str, Any] = {}
    if yaml_path is not None:
        data = load_yaml(yaml_path)  # its errors name the file (and the line and column)
        try:
            values = _known(data)
            for key, value in values.items():
                TrainConfig(**{key: value})
        except ConfigError as exc:
            raise ConfigError(f"{yaml_path}: {exc}") from exc
    return TrainConfig(**values | _known({k: v for k, v in cli.items() if v is not None}))


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """As YAML and JSON hold it, in field order: enums and weights as their text."""
    return config.model_dump(mode="json")


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
