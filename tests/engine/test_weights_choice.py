"""The weights choice in a run's configuration and checkpoint: config.yaml text, the random-init
flag of checkpoints old and new, and init_checkpoint together with `weights`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_file

from landrec.data.transforms import Preprocessing
from landrec.engine import checkpoint as ckpt
from landrec.engine.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    config_to_dict,
    load_yaml,
    save_config,
)
from landrec.engine.experiments.study import load_study
from landrec.engine.runs import RunFolder
from landrec.engine.training.train import build_trainer, train
from landrec.models import factory
from landrec.models.factory import ModelConfig, create_model
from landrec.models.weights import WeightsChoice, WeightsMode

PRE = Preprocessing(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
CLASSES = ["coast", "desert", "forest"]  # the classes of conftest's write_dataset


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("auto", WeightsMode.AUTO),
        ("none", WeightsMode.NONE),
        ("auto-or-none", WeightsMode.AUTO_OR_NONE),
        ("/data/weights/mine.pth", WeightsMode.FILE),
        ("mine.safetensors", WeightsMode.FILE),
    ],
)
def test_config_yaml_holds_the_weights_text(tmp_path: Path, text: str, mode: WeightsMode) -> None:
    config = apply_overrides(TrainConfig(), {"weights": text})
    assert config.weights.mode is mode and str(config.weights) == text
    path = RunFolder(tmp_path).config
    save_config(config, path)
    saved = path.read_text()
    assert f"\nweights: {text}\n" in saved
    assert yaml.safe_load(saved)["weights"] == config_to_dict(config)["weights"] == text
    assert apply_overrides(TrainConfig(), load_yaml(path)) == config


def test_default_weights_and_bad_text() -> None:
    assert TrainConfig().weights == WeightsChoice(WeightsMode.AUTO)
    assert config_to_dict(TrainConfig())["weights"] == "auto"
    assert apply_overrides(TrainConfig(), {"weights": "Auto-Or-None"}).weights == WeightsChoice(
        WeightsMode.AUTO_OR_NONE
    )
    with pytest.raises(ConfigError, match="weights"):
        apply_overrides(TrainConfig(), {"weights": ""})


def _meta(source: str, random_init: bool) -> ckpt.CheckpointMeta:
    return ckpt.CheckpointMeta(CLASSES, ModelConfig("mobilenet_v2", 3), PRE, source, random_init)


@pytest.mark.parametrize(("source", "random_init"), [("random init", True), ("download", False)])
def test_checkpoint_meta_random_init_round_trips(source: str, random_init: bool) -> None:
    meta = _meta(source, random_init)
    saved = json.loads(meta.to_json())
    assert saved["random_init"] is random_init and saved["weights_source"] == source
    assert ckpt.CheckpointMeta.from_json(meta.to_json()) == meta
    # A human text that merely mentions random init does not decide the flag.
    flagged = _meta(f"init_checkpoint x (backbone: {source})", random_init)
    assert ckpt.CheckpointMeta.from_json(flagged.to_json()).random_init is random_init


@pytest.mark.parametrize(("source", "random_init"), [("random init", True), ("download", False)])
def test_old_checkpoints_without_the_key_derive_it(
    tmp_path: Path, source: str, random_init: bool
) -> None:
    torch.manual_seed(0)
    model, _ = create_model(ModelConfig("mobilenet_v2", 3), "none")
    old = json.loads(_meta(source, random_init).to_json())
    del old["random_init"]  # as written before the key existed
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(RunFolder(tmp_path).best), metadata={"landrec": json.dumps(old)})
    loaded, meta = ckpt.load_checkpoint(tmp_path)
    assert meta.random_init is random_init and meta.weights_source == source
    assert torch.equal(loaded.state_dict()["head.0.weight"], model.state_dict()["head.0.weight"])


def test_load_weights_into_checks_classes_and_fit(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source, _ = create_model(ModelConfig("mobilenet_v2", 3), "none")
    path = tmp_path / "source.safetensors"
    ckpt.save_checkpoint(path, source, _meta("random init", True))
    target, _ = create_model(ModelConfig("mobilenet_v2", 3), "none")
    meta = ckpt.load_weights_into(target, path, CLASSES)
    assert meta.random_init and meta.classes == CLASSES
    for key, tensor in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], tensor), key
    with pytest.raises(ckpt.CheckpointError, match=r"source\.safetensors: classes"):
        ckpt.load_weights_into(target, path, ["a", "b", "c"])
    other, _ = create_model(ModelConfig("mobilenet_v2", 2), "none")
    with pytest.raises(ckpt.CheckpointError, match=r"source\.safetensors: does not fit"):
        ckpt.load_weights_into(other, path)


@pytest.mark.parametrize("weights", ["none", "NONE", "mine.pth"])
def test_init_checkpoint_with_weights_none_or_a_file_is_refused_before_any_write(
    make_data, tiny: dict, tmp_path: Path, red_blue_checkpoint: Path, weights: str
) -> None:
    root = make_data(per_class=1)
    config = apply_overrides(
        TrainConfig(), {**tiny, "weights": weights, "init_checkpoint": str(red_blue_checkpoint)}
    )
    run = tmp_path / "run"
    with pytest.raises(ConfigError) as info:
        train(root, run, config)
    message = str(info.value)
    assert f"weights: {config.weights}" in message
    assert f"init_checkpoint: {red_blue_checkpoint}" in message
    assert "\n" not in message and "would replace" in message
    assert not run.exists() and not Path(tiny["cache_dir"]).exists()


@pytest.mark.parametrize(("weights", "random_init"), [("auto", False), ("auto-or-none", True)])
def test_init_checkpoint_with_auto_names_the_checkpoint(
    make_data,
    tiny: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    weights: str,
    random_init: bool,
) -> None:
    """auto and auto-or-none defer to the init checkpoint: no pretrained lookup, its weights,
    its random-init flag, and a weights_source that says where they came from."""
    torch.manual_seed(1)
    source, _ = create_model(ModelConfig("mobilenet_v2", 3), "none")
    init = RunFolder(tmp_path / "init").best
    init.parent.mkdir()
    backbone = "random init" if random_init else "hand-made"
    ckpt.save_checkpoint(init, source, _meta(backbone, random_init))
    looked_up: list[WeightsChoice | str] = []
    original = factory.resolve_weights

    def recording(spec: object, choice: WeightsChoice | str) -> object:
        looked_up.append(choice)
        return original(spec, choice)  # type: ignore[arg-type]

    monkeypatch.setattr(factory, "resolve_weights", recording)
    overrides = {**tiny, "weights": weights, "init_checkpoint": str(init.parent)}
    trainer = build_trainer(apply_overrides(TrainConfig(), overrides), make_data(), tmp_path / "r")
    assert looked_up == [WeightsChoice(WeightsMode.NONE)]
    assert trainer.meta.weights_source == f"init_checkpoint {init} (backbone: {backbone})"
    assert trainer.meta.random_init is random_init
    assert trainer.meta.train_config["weights"] == weights
    for key, tensor in source.state_dict().items():
        assert torch.equal(trainer.model.state_dict()[key].cpu(), tensor), key
    assert not (tmp_path / "r").exists()


def test_study_refuses_init_from_with_weights_none_when_loaded(tmp_path: Path) -> None:
    experiments = [{"name": "head"}, {"name": "tuned", "init_from": "head"}]
    path = tmp_path / "study.yaml"
    content = {"base": {"weights": "none"}, "experiments": experiments}
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError, match=r"experiment 'tuned': weights: none and init_from: head"):
        load_study(path)
    experiments[1]["weights"] = "auto"
    path.write_text(yaml.safe_dump(content))
    assert load_study(path).experiments[1].config.weights.mode is WeightsMode.AUTO
