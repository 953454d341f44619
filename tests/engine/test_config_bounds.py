"""Every training option has its bounds (pydantic `Field` constraints on TrainConfig), checked
wherever a config is made (YAML, CLI, Python); a bad value, a malformed YAML file or a bad
command-line number is one line naming it; `--help` and the saved config.yaml follow the model."""

from __future__ import annotations

import argparse
from pathlib import Path

import pydantic
import pytest
import yaml

from landrec.cli.main import main
from landrec.cli.options import add_config_options
from landrec.engine.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    bounds,
    config_to_dict,
    load_yaml,
    resolve_config,
    save_config,
)

# (field, a value just outside its bounds, the allowed range the message must state)
BAD_VALUES = [
    ("hidden", 0, "integer >= 1"),
    ("dropout", -0.1, "number in [0, 1)"),
    ("dropout", 1, "number in [0, 1)"),
    ("image_size", 31, "none or integer >= 32"),
    ("aug_views", 0, "integer >= 1"),
    ("batch_size", 0, "integer >= 1"),
    ("batch_size", -8, "integer >= 1"),
    ("head_lr", 0, "number > 0"),
    ("head_lr", -1, "number > 0"),
    ("momentum", -0.5, "number in [0, 1)"),
    ("momentum", 1, "number in [0, 1)"),
    ("weight_decay", -1e-4, "number >= 0"),
    ("plateau_patience", -1, "integer >= 0"),
    ("plateau_factor", 0, "number in (0, 1)"),
    ("plateau_factor", 1, "number in (0, 1)"),
    ("label_smoothing", -0.1, "number in [0, 1)"),
    ("label_smoothing", 1, "number in [0, 1)"),
    ("head_epochs", -1, "integer >= 0"),
    ("finetune_epochs", -1, "integer >= 0"),
    ("finetune_groups", 0, "none or integer >= 1"),
    ("backbone_lr", 0, "number > 0"),
    ("finetune_head_lr", -0.01, "none or number > 0"),
    ("early_stopping", -1, "integer >= 0"),
    ("seed", -1, "integer >= 0"),
    ("val_fraction", 0, "number in (0, 1)"),
    ("val_fraction", 1, "number in (0, 1)"),
    ("workers", -1, "none or integer >= 0"),
    ("distill_alpha", -0.1, "number in [0, 1]"),
    ("distill_alpha", 1.5, "number in [0, 1]"),
    ("distill_temperature", 0, "number > 0"),
    ("target_accuracy", 0, "number in (0, 1]"),
    ("average_epochs", -1, "integer >= 0"),
    ("target_accuracy", 1.5, "number in (0, 1]"),
]


@pytest.mark.parametrize(("name", "value", "allowed"), BAD_VALUES)
@pytest.mark.parametrize("as_text", [False, True], ids=["yaml-or-python", "cli-text"])
def test_each_value_out_of_bounds_is_named(
    name: str, value: float, allowed: str, as_text: bool
) -> None:
    given = str(value) if as_text else value
    with pytest.raises(ConfigError) as info:
        apply_overrides(TrainConfig(), {name: given})
    shown = float(value) if "number" in allowed else int(value)
    assert str(info.value) == f"{name}: {shown!r} is out of range (allowed: {allowed})"


BREAKS = {  # a value breaks a bound of this kind when...
    "ge": lambda value, end: value < end,
    "gt": lambda value, end: value <= end,
    "le": lambda value, end: value > end,
    "lt": lambda value, end: value >= end,
}


def test_every_number_field_has_bounds_each_tested_and_the_defaults_meet_them() -> None:
    numbers = {
        name
        for name, info in TrainConfig.model_fields.items()
        if info.annotation in (int, float, int | None, float | None)
    }
    assert numbers == {name for name in TrainConfig.model_fields if bounds(name)}
    assert all("ge" in bounds(n) or "gt" in bounds(n) for n in numbers)  # a lower end each
    for name in numbers:  # each end of each range is broken by a value of BAD_VALUES
        for kind, end in bounds(name).items():
            tried = [v for n, v, _ in BAD_VALUES if n == name]
            assert any(BREAKS[kind](v, end) for v in tried), (name, kind, end)
    defaults = TrainConfig()
    assert TrainConfig(**dict(defaults)) == defaults  # every default given, so every one checked


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("dropout", 0),
        ("momentum", 0),
        ("image_size", 32),
        ("image_size", "none"),
        ("workers", 0),
        ("plateau_patience", 0),
        ("finetune_head_lr", None),
        ("label_smoothing", 0.0),
        ("device", "cuda:1"),
        ("batch_size", 8.0),  # YAML may write a whole number as a float
    ],
)
def test_values_on_the_bounds_are_allowed(name: str, value: object) -> None:
    config = apply_overrides(TrainConfig(), {name: value})
    assert getattr(config, name) == (None if value in (None, "none") else value)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("batch_size", 1.5, "integer >= 1"),
        ("batch_size", "abc", "integer >= 1"),
        ("batch_size", True, "integer >= 1"),
        ("batch_size", None, "integer >= 1"),
        ("head_epochs", "2.5", "integer >= 0"),
        ("device", "gpu", "auto, cpu, cuda or cuda:N"),
        ("device", "cuda:", "auto, cpu, cuda or cuda:N"),
        ("optimizer", "adamax", "one of sgd, adam, adamw, rmsprop"),
        ("cache", "maybe", "true or false"),
    ],
)
def test_values_of_the_wrong_kind_are_named(name: str, value: object, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(TrainConfig(), {name: value})
    assert str(info.value) == f"{name}: {value!r} is not valid (allowed: {allowed})"


@pytest.mark.parametrize("value", ["nan", "inf", float("nan"), float("-inf")])
def test_non_finite_numbers_are_out_of_range(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^head_lr: .* is out of range"):
        apply_overrides(TrainConfig(), {"head_lr": value})


def test_a_run_of_no_epochs_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"head_epochs \+ finetune_epochs: 0 \+ 0 trains nothing"):
        apply_overrides(TrainConfig(), {"head_epochs": 0, "finetune_epochs": 0})
    assert apply_overrides(TrainConfig(), {"head_epochs": 0, "finetune_epochs": 1}).head_epochs == 0


def test_a_config_built_in_python_is_checked_when_made_and_cannot_change() -> None:
    with pytest.raises(
        ConfigError, match=r"^batch_size: 0 is out of range \(allowed: integer >= 1\)$"
    ):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match=r"^unknown config key\(s\): lr, nope$"):
        TrainConfig(nope=1, lr=0.1)  # an old name is for YAML and the CLI, not Python
    with pytest.raises(ConfigError, match="trains nothing"):
        TrainConfig(head_epochs=0, finetune_epochs=0)
    config = TrainConfig(head_lr="0.01", optimizer="SGD")  # text is parsed as from YAML
    assert (config.head_lr, config.optimizer.value) == (0.01, "sgd")
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        config.batch_size = 0  # type: ignore[misc]


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("batch_size: 8\nhead_lr: 0.1\n  bad: 3\n", "3:6", "mapping values are not allowed"),
        ("model: [a, b\n", "2:1", "expected ',' or ']'"),
        ("x: 1\n\tb: 2\n", "2:1", "found character '\\t'"),
    ],
)
def test_malformed_yaml_names_file_line_and_column(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    path = _yaml(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        resolve_config(path, {})
    assert str(info.value).startswith(f"{path}:{where}: invalid YAML: {problem}")
    assert "\n" not in str(info.value)


def test_yaml_that_is_missing_or_not_a_mapping_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read \(No such file"):
        load_yaml(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match=r"bad\.yaml: expected a mapping"):
        load_yaml(_yaml(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match=r"unknown config key\(s\): 1"):
        resolve_config(_yaml(tmp_path, "1: 2\n"), {})
    assert load_yaml(_yaml(tmp_path, "# only a comment\n")) == {}


def test_a_bad_yaml_value_names_the_file_and_the_cli_may_complete_the_yaml(
    tmp_path: Path,
) -> None:
    path = _yaml(tmp_path, "batch_size: 0\n")
    with pytest.raises(ConfigError, match=rf"^{path}: batch_size: 0 is out of range"):
        resolve_config(path, {})
    path = _yaml(tmp_path, "head_epochs: 0\nfinetune_epochs: 0\n")  # nothing, until the CLI
    assert resolve_config(path, {"head_epochs": "2"}).head_epochs == 2
    with pytest.raises(ConfigError, match="trains nothing"):
        resolve_config(path, {})


# config.yaml of the default recipe, as every earlier run wrote it: key order and value formats
DEFAULT_CONFIG_YAML = (
    "model: mobilenet_v2\nweights: auto\ninit_checkpoint: null\nhead: mlp\n"
    "hidden: 256\ndropout: 0.3\nimage_size: null\nnormalize: model\naugment: flip\n"
    "aug_views: 2\nbatch_size: 64\noptimizer: adamw\nhead_lr: 0.001\nmomentum: 0.9\n"
    "weight_decay: 0.0001\nscheduler: cosine\nplateau_patience: 2\n"
    "plateau_factor: 0.1\nlabel_smoothing: 0.1\nhead_epochs: 30\nfinetune_epochs: 8\n"
    "finetune_groups: null\nbackbone_lr: 0.0001\nfinetune_head_lr: null\n"
    "finetune_train_head: true\nfinetune_bn: false\naverage_epochs: 4\n"
    "select: accuracy\nearly_stopping: 0\n"
    "seed: 0\n"
    "val_fraction: 0.15\nexclude: null\nexclude_eval: false\nteacher: null\n"
    "distill_alpha: 0.5\ndistill_temperature: 1.0\ncalibrate: true\n"
    "target_accuracy: 0.97\nworkers: null\ncache: true\n"
    "cache_dir: null\ncache_fp16: true\ncache_point: auto\nfeature_backend: onnx\n"
    "bf16: true\ndevice: auto\n"
)


def test_the_default_recipe_and_its_config_yaml_are_unchanged(tmp_path: Path) -> None:
    save_config(TrainConfig(), tmp_path / "config.yaml")
    assert (tmp_path / "config.yaml").read_text() == DEFAULT_CONFIG_YAML
    assert list(config_to_dict(TrainConfig())) == list(TrainConfig.model_fields)
    custom = apply_overrides(TrainConfig(), {"weights": "w.pth", "image_size": "224", "lr": "0.5"})
    save_config(custom, tmp_path / "custom.yaml")
    written = yaml.safe_load((tmp_path / "custom.yaml").read_text())
    assert (written["weights"], written["image_size"], written["head_lr"]) == ("w.pth", 224, 0.5)
    assert resolve_config(tmp_path / "custom.yaml", {}) == custom  # a saved run loads back


def test_old_key_names_still_work_and_the_cli_overrides_the_yaml(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "lr: 0.02\nfinetune_lr: 0.003\nbatch_size: 8\n")
    config = resolve_config(path, {"batch_size": "16", "finetune_lr": None})
    assert (config.head_lr, config.backbone_lr, config.batch_size) == (0.02, 0.003, 16)
    assert resolve_config(path, {"head_lr": "0.5"}).head_lr == 0.5  # the CLI's new name wins
    with pytest.raises(ConfigError, match=r"^lr and head_lr both given"):
        apply_overrides(TrainConfig(), {"lr": 0.1, "head_lr": 0.2})
    bad = _yaml(tmp_path, "batch_size: 0\n")
    with pytest.raises(ConfigError, match=rf"^{bad}: batch_size: 0 is out of range"):
        resolve_config(bad, {"batch_size": "8"})  # a bad file is refused, even overridden


def test_every_option_is_one_flag_with_the_fields_description_and_choices() -> None:
    parser = argparse.ArgumentParser()
    add_config_options(parser)
    actions = {a.dest: a for a in parser._actions if a.dest in TrainConfig.model_fields}
    assert list(actions) == list(TrainConfig.model_fields)
    for name, info in TrainConfig.model_fields.items():
        action = actions[name]
        assert info.description and action.help.startswith(info.description), name
        assert action.option_strings[0] == "--" + name.replace("_", "-"), name
        assert action.help.endswith(f"[{getattr(info.default, 'value', info.default)}]"), name
    assert actions["optimizer"].metavar == "{sgd,adam,adamw,rmsprop}"
    assert actions["cache"].option_strings == ["--cache", "--no-cache"]
    assert actions["head_lr"].option_strings == ["--head-lr", "--lr"]
    assert actions["backbone_lr"].option_strings == ["--backbone-lr", "--finetune-lr"]
    assert actions["head_lr"].help == "head learning rate in stage 1 (old name: lr) [0.001]"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["predict", "RUN", "x.jpg", "--top-k", "0"], "--top-k"),
        (["predict", "RUN", "x.jpg", "--batch-size", "0"], "--batch-size"),
        (["predict", "RUN", "x.jpg", "--scene-change", "1.5"], "--scene-change"),
        (["predict", "RUN", "x.jpg", "--scene-change", "0"], "--scene-change"),
        (["predict", "RUN", "x.jpg", "--every", "0"], "--every"),
        (["predict", "RUN", "x.jpg", "--every", "nan"], "--every"),
        (["evaluate", "RUN", "DATA", "--batch-size", "-1"], "--batch-size"),
        (["export", "RUN", "--out", "m.onnx", "--calibration-images", "0"], "--calibration-images"),
        (["data", "stats", "DATA", "--size", "15"], "--size"),
        (["data", "stats", "DATA", "--size", "many"], "--size"),
    ],
)
def test_bad_command_line_numbers_exit_2_naming_the_option(
    args: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("landrec ") and f"error: argument {option}: must be" in error
