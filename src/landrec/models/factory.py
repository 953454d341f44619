"""Build a classifier from the registry: pretrained backbone blocks plus a new head."""

from __future__ import annotations

import torch

from landrec.models.choices import ModelConfig as ModelConfig
from landrec.models.net import BlockClassifier, build_head
from landrec.models.registry import ModelSpec, get_spec
from landrec.models.weights import (
    AUTO_WEIGHTS,
    RANDOM_WEIGHTS,
    ResolvedWeights,
    WeightsChoice,
    WeightsUnavailableError,
    resolve_weights,
)


def _remap_positional(sd: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict:
    """Map a ported file's keys onto the model's by order, when names differ but shapes agree."""
    if set(sd) == set(target) or len(sd) != len(target):
        return sd
    pairs = list(zip(sd.items(), target.items(), strict=True))
    if any(v.shape != t.shape for (_, v), (_, t) in pairs):
        return sd
    return {tk: v for (_, v), (tk, _) in pairs}


def load_pretrained(spec: ModelSpec, model: torch.nn.Module, sd: dict[str, torch.Tensor]) -> None:
    """Load a state dict of the original architecture; its classifier is ignored."""
    target = model.state_dict()
    if spec.positional_keys:
        sd = _remap_positional(sd, target)
    prefix = spec.classifier + "."
    sd = {k: v for k, v in sd.items() if not k.startswith(prefix)}
    result = model.load_state_dict(sd, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(prefix)]
    if missing or result.unexpected_keys:
        raise WeightsUnavailableError(
            f"weights do not fit {spec.name}: missing {missing[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}"
        )


def create_model(
    config: ModelConfig, weights: WeightsChoice | str = AUTO_WEIGHTS
) -> tuple[BlockClassifier, ResolvedWeights]:
    """The staged classifier with resolved weights (`weights`: auto, none, auto-or-none or a
    file; text is parsed as `WeightsChoice.parse` does)."""
    spec = get_spec(config.arch)
    original = spec.build()
    resolved = resolve_weights(spec, weights)
    if resolved.state_dict is not None:
        load_pretrained(spec, original, resolved.state_dict)
    head = build_head(config.head, spec.feature_dim, config.outputs, config.hidden, config.dropout)
    return BlockClassifier(spec.split(original), head, len(config.views)), resolved


def build_architecture(config: ModelConfig) -> BlockClassifier:
    """The architecture alone, random init (for loading a checkpoint)."""
    model, _ = create_model(config, RANDOM_WEIGHTS)
    return model


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
