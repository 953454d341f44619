"""Every training option has its bounds, checked wherever a config is made (YAML, CLI, Python);
a bad value, a malformed YAML file or a bad command-line number is one line naming it."""

from __future__ import annotations

import typing
from dataclasses import fields
from pathlib import Path

import pytest

from landrec.cli.main import main
from landrec.engine.config import (
    BOUNDS,
    ConfigError,
    TrainConfig,
    apply_overrides,
    load_yaml,
    resolve_config,
    within,
)
from landrec.engine.training.train import train

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


def test_every_number_field_has_bounds_and_the_defaults_meet_them() -> None:
    hints = typing.get_type_hints(TrainConfig)
    numbers = {
        f.name
        for f in fields(TrainConfig)
        if hints[f.name] in (int, float, int | None, float | None)
    }
    assert numbers == set(BOUNDS)
    assert {name for name, _, _ in BAD_VALUES} == set(BOUNDS)  # each bound is tested above
    defaults = TrainConfig()
    assert all(
        within(getattr(defaults, n), BOUNDS[n]) for n in BOUNDS if getattr(defaults, n) is not None
    )


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


def test_a_config_built_in_python_is_checked_before_any_write(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^batch_size: 0 is out of range"):
        train(tmp_path / "no-data", tmp_path / "run", TrainConfig(batch_size=0))
    assert not (tmp_path / "run").exists()


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
