"""Preprocessing that travels with a model, and the augmentation presets."""

from __future__ import annotations

import torch
from PIL import Image
from torchvision.transforms import v2 as T

from landrec.data.choices import AugPreset
from landrec.data.preprocess import Preprocessing as Preprocessing


def _to_tensor(pre: Preprocessing) -> list[T.Transform]:
    return [T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize(pre.mean, pre.std)]


def eval_transform(pre: Preprocessing) -> T.Compose:
    """The one preprocessing used by evaluate, predict, export and feature caching."""
    return T.Compose(
        [
            T.Resize(pre.short_side, antialias=True),
            T.CenterCrop(pre.input_size),
            *_to_tensor(pre),
        ]
    )


def mirrored_eval_transform(pre: Preprocessing) -> T.Compose:
    """`eval_transform`, then a horizontal flip: the second view of flip test-time augmentation."""
    return T.Compose([*eval_transform(pre).transforms, T.RandomHorizontalFlip(p=1.0)])


def train_transform(pre: Preprocessing, preset: AugPreset) -> T.Compose:
    """Training-time augmentation ending in the same tensor layout as `eval_transform`."""
    size = pre.input_size
    if preset is AugPreset.NONE:
        return eval_transform(pre)
    if preset is AugPreset.REPORT:
        ops: list[T.Transform] = [
            T.Resize(round(size * 256 / 224), antialias=True),
            T.RandomCrop(size),
            T.RandomHorizontalFlip(),
            T.RandomRotation(15),
            T.ColorJitter(0.2, 0.2, 0.2, 0.05),
        ]
    elif preset is AugPreset.FLIP:
        ops = [
            T.RandomResizedCrop(size, scale=(0.6, 1.0), antialias=True),
            T.RandomHorizontalFlip(),
        ]
    else:
        ops = [
            T.RandomResizedCrop(size, scale=(0.5, 1.0), antialias=True),
            T.RandomHorizontalFlip(),
            T.TrivialAugmentWide(),
        ]
    return T.Compose([*ops, *_to_tensor(pre)])


def preprocess_image(image: Image.Image, pre: Preprocessing) -> torch.Tensor:
    """One decoded RGB image -> normalised (3, H, W) tensor."""
    return eval_transform(pre)(image)
