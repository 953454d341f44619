"""Pretrained weights: offline packages, user files, clear errors when none can be found."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from landrec.models.factory import ModelConfig, create_model, load_pretrained
from landrec.models.registry import REGISTRY, get_spec
from landrec.models.weights import (
    WeightsChoice,
    WeightsMode,
    WeightsUnavailableError,
    offline_file,
    read_state_dict,
    resolve_weights,
)


def _offline_or_skip(name: str) -> Path:
    path = offline_file(get_spec(name))
    if path is None:
        pytest.skip(f"offline weights for {name} are not installed (pip extra 'weights')")
    return path


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def _mobilenet_state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return torchvision.models.mobilenet_v2().state_dict()


def test_none_is_random_init() -> None:
    resolved = resolve_weights(get_spec("resnet18"), "none")
    assert resolved.source == "random init"
    assert not resolved.pretrained
    _, resolved = create_model(ModelConfig("mobilenet_v2", 3), "NONE")
    assert resolved.source == "random init"


def test_mobilenet_v2_auto_uses_the_offline_package() -> None:
    path = _offline_or_skip("mobilenet_v2")
    model, resolved = create_model(ModelConfig("mobilenet_v2", 3), "auto")
    assert resolved.source == get_spec("mobilenet_v2").offline.pip_name  # type: ignore[union-attr]
    reference = torchvision.models.mobilenet_v2()
    reference.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    for i, block in enumerate(reference.features):
        assert _same_state(model.blocks.get_submodule(f"features_{i}"), block), f"features_{i}"


def test_efficientnet_lite0_offline_file_maps_by_position() -> None:
    path = _offline_or_skip("efficientnet_lite0")
    spec = get_spec("efficientnet_lite0")
    pretrained, resolved = create_model(ModelConfig(spec.name, 3), "auto")
    assert resolved.source == spec.offline.pip_name  # type: ignore[union-attr]
    # The ported file's keys differ from timm's: every backbone tensor lands by position.
    file_tensors = list(read_state_dict(path).values())
    original = spec.build()
    assert set(read_state_dict(path)) != set(original.state_dict())
    load_pretrained(spec, original, read_state_dict(path))
    model_tensors = [v for k, v in original.state_dict().items() if not k.startswith("classifier.")]
    assert len(model_tensors) == len(file_tensors) - 2  # the file's classifier weight and bias
    assert all(torch.equal(a, b) for a, b in zip(model_tensors, file_tensors, strict=False))
    random, _ = create_model(ModelConfig(spec.name, 3), "none")
    stem = "stem.0.weight"
    assert torch.equal(pretrained.blocks.state_dict()[stem], original.conv_stem.weight)
    assert not torch.equal(pretrained.blocks.state_dict()[stem], random.blocks.state_dict()[stem])


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_file(tmp_path: Path, suffix: str) -> None:
    state = _mobilenet_state(seed=7)
    path = tmp_path / f"mine{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    model, resolved = create_model(ModelConfig("mobilenet_v2", 3), str(path))
    assert resolved.source == str(path)
    assert torch.equal(model.blocks.features_0[0].weight, state["features.0.0.weight"])
    assert torch.equal(model.blocks.features_18[1].running_var, state["features.18.1.running_var"])


def test_wrapped_and_data_parallel_state_dicts_are_unwrapped(tmp_path: Path) -> None:
    state = _mobilenet_state(seed=3)
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 5}, path)
    loaded = read_state_dict(path)
    assert set(loaded) == set(state)
    assert torch.equal(loaded["features.0.0.weight"], state["features.0.0.weight"])


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mobilenet.pth"
    torch.save(_mobilenet_state(seed=1), path)
    with pytest.raises(WeightsUnavailableError, match="do not fit resnet18"):
        create_model(ModelConfig("resnet18", 3), str(path))


@pytest.mark.parametrize("name", ["broken.pth", "broken.safetensors"])
def test_corrupt_weights_file_is_named(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x00not weights at all\xff" * 50)
    with pytest.raises(WeightsUnavailableError, match=name) as info:
        create_model(ModelConfig("mobilenet_v2", 3), str(path))
    assert str(path) in str(info.value)


def test_missing_weights_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match="not found"):
        resolve_weights(get_spec("mobilenet_v2"), tmp_path / "nope.pth")


def test_offline_download_failure_says_how_to_supply_weights(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def offline() -> dict:
        raise URLError("no network")

    spec = dataclasses.replace(get_spec("resnet18"), download=offline)
    monkeypatch.setitem(REGISTRY, "resnet18", spec)
    with pytest.raises(WeightsUnavailableError) as info:
        create_model(ModelConfig("resnet18", 3), "auto")
    message = str(info.value)
    assert "--weights" in message
    assert "no network" in message
    assert "resnet18" in message


def test_auto_or_none_falls_back_to_random_init_only_when_nothing_is_found(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def offline() -> dict:
        raise URLError("no network")

    spec = dataclasses.replace(get_spec("resnet18"), download=offline)
    monkeypatch.setitem(REGISTRY, "resnet18", spec)
    _, resolved = create_model(ModelConfig("resnet18", 3), "auto-or-none")
    assert resolved.source == "random init" and not resolved.pretrained
    assert "resnet18: random init" in caplog.text and "no network" in caplog.text
    _offline_or_skip("mobilenet_v2")  # where real weights exist, they are used
    _, resolved = create_model(ModelConfig("mobilenet_v2", 3), "auto-or-none")
    assert resolved.pretrained and resolved.source == get_spec("mobilenet_v2").offline.pip_name  # type: ignore[union-attr]


def test_offline_file_with_wrong_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _offline_or_skip("mobilenet_v2")
    spec = get_spec("mobilenet_v2")
    bad = dataclasses.replace(spec.offline, sha256_prefix="00000000")  # type: ignore[arg-type]
    monkeypatch.setitem(REGISTRY, spec.name, dataclasses.replace(spec, offline=bad))
    with pytest.raises(WeightsUnavailableError, match="reinstall"):
        resolve_weights(get_spec("mobilenet_v2"), "auto")


@pytest.mark.parametrize(
    ("text", "mode", "path"),
    [
        ("auto", WeightsMode.AUTO, None),
        ("none", WeightsMode.NONE, None),
        ("auto-or-none", WeightsMode.AUTO_OR_NONE, None),
        ("weights/mine.pth", WeightsMode.FILE, Path("weights/mine.pth")),
        ("/abs/auto.safetensors", WeightsMode.FILE, Path("/abs/auto.safetensors")),
        ("file", WeightsMode.FILE, Path("file")),  # only the three keywords are keywords
    ],
)
def test_weights_choice_parses_and_prints_back(text: str, mode: WeightsMode, path: Path) -> None:
    choice = WeightsChoice.parse(text)
    assert (choice.mode, choice.path) == (mode, path)
    assert str(choice) == text
    assert WeightsChoice.parse(str(choice)) == choice
    assert WeightsChoice.parse(choice) is choice
    if mode is not WeightsMode.FILE:  # keywords in any case
        assert WeightsChoice.parse(text.upper()) == choice


def test_weights_choice_refuses_what_is_not_a_choice() -> None:
    assert WeightsChoice.parse(Path("none")) == WeightsChoice(WeightsMode.FILE, Path("none"))
    assert WeightsChoice() == WeightsChoice.parse("auto")
    with pytest.raises(ValueError, match="empty"):
        WeightsChoice.parse("")
    with pytest.raises(ValueError, match="path"):
        WeightsChoice(WeightsMode.FILE)
    with pytest.raises(ValueError, match="path"):
        WeightsChoice(WeightsMode.AUTO, Path("x.pth"))


def test_resolve_weights_takes_a_choice_or_its_text(tmp_path: Path) -> None:
    spec = get_spec("mobilenet_v2")
    assert resolve_weights(spec, WeightsChoice(WeightsMode.NONE)).source == "random init"
    path = tmp_path / "mine.pth"
    torch.save(_mobilenet_state(seed=2), path)
    by_choice = resolve_weights(spec, WeightsChoice.parse(str(path)))
    by_text = resolve_weights(spec, str(path))
    assert by_choice.source == by_text.source == str(path) and by_choice.pretrained
    assert all(torch.equal(by_choice.state_dict[k], v) for k, v in by_text.state_dict.items())  # type: ignore[index,union-attr]
