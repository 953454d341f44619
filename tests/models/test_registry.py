"""Every registered model builds, runs forward and backward, and freezes as documented."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from landrec.models.factory import ModelConfig, count_parameters, create_model
from landrec.models.freeze import block_groups, first_trainable_block, freeze
from landrec.models.net import BlockClassifier
from landrec.models.registry import REGISTRY, UnknownModelError, get_spec, list_models

NUM_CLASSES = 3
DOCUMENTED_GROUPS = {
    "resnet18": ["stem", "layer1", "layer2", "layer3", "layer4"],
    "mobilenet_v2": [f"features_{i}" for i in range(19)],
    "vgg16": ["block1", "block2", "block3", "block4", "block5", "fc6", "fc7"],
    "alexnet": ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"],
    **{
        f"efficientnet_lite{n}": ["stem", *(f"blocks_{i}" for i in range(7)), "head_conv"]
        for n in range(3)
    },
}


@pytest.fixture(scope="module", params=list(REGISTRY))
def model(request: pytest.FixtureRequest) -> BlockClassifier:
    """Each model built once per module (vgg16 alone is 138M parameters)."""
    torch.manual_seed(0)
    built, resolved = create_model(ModelConfig(request.param, NUM_CLASSES), "none")
    assert resolved.source == "random init"
    built.arch = request.param  # type: ignore[attr-defined]
    return built


def _n_params(module: nn.Module, trainable: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


def _batchnorms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def test_registry_covers_the_documented_models() -> None:
    assert sorted(list_models()) == sorted(DOCUMENTED_GROUPS)


def test_forward_and_backward(model: BlockClassifier) -> None:
    freeze(model, len(block_groups(model)))  # everything trainable
    model.train()
    logits = model(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    first = next(model.blocks[0].parameters())
    last_head = list(model.head.parameters())[-1]
    assert first.grad is not None and first.grad.abs().sum() > 0
    assert last_head.grad is not None and last_head.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)


def test_documented_groups(model: BlockClassifier) -> None:
    assert block_groups(model) == DOCUMENTED_GROUPS[model.arch]  # type: ignore[attr-defined]
    # The blocks end in pooled features of the registered width.
    assert model.block_names[-1] in ("pool", "fc7")


def test_the_registry_table_states_what_the_built_model_has(model: BlockClassifier) -> None:
    """`landrec models` reads these facts without building anything: they must not drift."""
    spec = get_spec(model.arch)  # type: ignore[attr-defined]
    assert list(spec.groups) == block_groups(model)
    assert spec.parameters == _n_params(model.blocks)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "vgg16", "alexnet"])
def test_cache_file_names_match_torchvision(name: str) -> None:
    import torchvision

    weights = {"resnet18": "ResNet18", "mobilenet_v2": "MobileNet_V2", "vgg16": "VGG16"}
    enum = getattr(torchvision.models, weights.get(name, "AlexNet") + "_Weights")
    assert get_spec(name).cache_file == enum.IMAGENET1K_V1.url.rsplit("/", 1)[-1]


def test_hub_dir_is_torch_hubs(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from landrec.models.catalog import hub_dir

    assert str(hub_dir()) == torch.hub.get_dir()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert str(hub_dir()) == torch.hub.get_dir() == str(tmp_path / "hub")


def test_freeze_head_only(model: BlockClassifier) -> None:
    trainable = freeze(model, 0)
    assert trainable == ["head"]
    assert count_parameters(model, trainable_only=True) == _n_params(model.head)
    assert first_trainable_block(model) == len(model.blocks)
    assert all(not p.requires_grad for p in model.blocks.parameters())


def test_freeze_deepest_groups(model: BlockClassifier) -> None:
    groups = block_groups(model)
    head = _n_params(model.head)
    for k in range(1, len(groups) + 1):
        trainable = freeze(model, k)
        assert trainable == [*groups[len(groups) - k :], "head"]
        deepest = sum(_n_params(model.blocks.get_submodule(g)) for g in groups[len(groups) - k :])
        assert count_parameters(model, trainable_only=True) == head + deepest
        assert first_trainable_block(model) == model.block_index(groups[len(groups) - k])
    assert count_parameters(model, trainable_only=True) == count_parameters(model)
    with pytest.raises(ValueError, match="unfreeze_groups"):
        freeze(model, len(groups) + 1)


def test_freeze_without_head(model: BlockClassifier) -> None:
    freeze(model, 1, train_head=False)
    assert all(not p.requires_grad for p in model.head.parameters())
    model.train()
    assert not model.head.training


def test_frozen_stages_stay_in_eval_mode(model: BlockClassifier) -> None:
    groups = block_groups(model)
    freeze(model, 1)
    model.train()
    frozen = [m for n, m in model.blocks.named_children() if n != groups[-1]]
    assert all(not m.training for f in frozen for m in f.modules())
    assert model.blocks.get_submodule(groups[-1]).training
    if model.arch == "vgg16":  # type: ignore[attr-defined]
        return  # no BatchNorm, and one forward of it (in test_forward_and_backward) is enough
    frozen_bn = [bn for f in frozen for bn in _batchnorms(f)]
    live_bn = _batchnorms(model.blocks.get_submodule(groups[-1]))
    frozen_before = [bn.running_mean.clone() for bn in frozen_bn]
    live_before = [bn.running_mean.clone() for bn in live_bn]
    with torch.no_grad():
        model(torch.randn(2, 3, 64, 64) * 3 + 1)
    for bn, before in zip(frozen_bn, frozen_before, strict=True):
        assert torch.equal(bn.running_mean, before)
    # The unfrozen group's statistics do move (so the check above could fail).
    for bn, before in zip(live_bn, live_before, strict=True):
        assert not torch.equal(bn.running_mean, before)


def test_freeze_bn_keeps_unfrozen_statistics(model: BlockClassifier) -> None:
    freeze(model, 1, freeze_bn=True)
    model.train()
    assert all(not bn.training for bn in _batchnorms(model))
    assert model.head.training


@pytest.mark.parametrize("alias", ["MobileNet-V2", " mobilenet_v2 ", "MOBILENET_V2"])
def test_get_spec_normalises_names(alias: str) -> None:
    assert get_spec(alias).name == "mobilenet_v2"


def test_unknown_model_lists_the_choices() -> None:
    with pytest.raises(UnknownModelError) as info:
        get_spec("resnet1000")
    message = str(info.value)
    assert "resnet1000" in message
    assert all(name in message for name in REGISTRY)
