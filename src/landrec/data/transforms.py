"""Preprocessing that travels with a model, and the augmentation presets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from PIL import Image, ImageFilter
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


class _Blur:
    """Gaussian blur of a PIL image, its sigma (pixels) drawn from `sigma` (Pillow's filter:
    about 30 times faster than torchvision's convolution on a uint8 tensor)."""

    def __init__(self, sigma: tuple[float, float]) -> None:
        self.sigma = sigma

    def __call__(self, img: Image.Image) -> Image.Image:
        return img.filter(ImageFilter.GaussianBlur(_uniform(*self.sigma)))


class _Darken:
    """Underexposure on a [0, 1] float image: scale by a factor in `scale`, then a gamma in
    `gamma` (above 1 darkens the shadows more than the highlights)."""

    def __init__(self, scale: tuple[float, float], gamma: tuple[float, float]) -> None:
        self.scale, self.gamma = scale, gamma

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        s = _uniform(*self.scale)
        g = _uniform(*self.gamma)
        return (img * s).clamp(0.0, 1.0).pow(g)


class _Noise:
    """Additive Gaussian noise on a [0, 1] float image, its std drawn from `sigma`; clipped."""

    def __init__(self, sigma: tuple[float, float]) -> None:
        self.sigma = sigma

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return (img + torch.randn_like(img) * _uniform(*self.sigma)).clamp(0.0, 1.0)


class _Rot90:
    """A rotation by a random multiple of 90 degrees (a view from above has no up)."""

    def __call__(self, img: Image.Image) -> Image.Image:
        k = int(torch.randint(4, ()))
        return img if k == 0 else img.rotate(90 * k)


class _Sharpen:
    """An unsharp mask of random strength: imagery sharper than the training sensor's."""

    def __init__(self, percent: tuple[float, float]) -> None:
        self.percent = percent

    def __call__(self, img: Image.Image) -> Image.Image:
        return img.filter(ImageFilter.UnsharpMask(2, int(_uniform(*self.percent)), 2))


class _ChannelGains:
    """White balance: each channel of a [0, 1] float image scaled by its own factor."""

    def __init__(self, spread: float) -> None:
        self.spread = spread

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        gains = 1.0 + (torch.rand(3, 1, 1) * 2 - 1) * self.spread
        return (img * gains).clamp(0.0, 1.0)


def _uniform(low: float, high: float) -> float:
    """One draw from torch's global generator (seeded per item by the dataset)."""
    return low + (high - low) * float(torch.rand(()))


def _flip_geometry(size: int) -> list[T.Transform]:
    """`flip`'s geometry: a mild random-resized crop and a horizontal flip."""
    return [T.RandomResizedCrop(size, scale=(0.6, 1.0), antialias=True), T.RandomHorizontalFlip()]


def _robust_ops(size: int) -> list[Callable[..., Any]]:
    """`flip`'s geometry, then photometric corruptions, each with a modest probability (about
    a quarter of the views stay clean): Gaussian blur, JPEG re-encoding at quality 10-50,
    grayscale, contrast reduction, darkening with gamma, additive Gaussian noise. The ranges
    are for the model's input (224 px from mostly 150-px photos). Every random draw uses
    torch's global generator, which the dataset seeds per item, so views are reproducible."""
    return [
        *_flip_geometry(size),
        T.RandomApply([_Blur(sigma=(0.5, 4.0))], 0.2),  # on the PIL image: fast
        T.ToImage(),  # uint8 tensor: what JPEG takes
        T.RandomApply([T.JPEG(quality=(10, 50))], 0.2),
        T.RandomGrayscale(p=0.1),
        T.ToDtype(torch.float32, scale=True),
        T.RandomApply([T.ColorJitter(contrast=(0.3, 0.8))], 0.2),
        T.RandomApply([_Darken(scale=(0.4, 0.9), gamma=(1.0, 1.6))], 0.2),
        T.RandomApply([_Noise(sigma=(0.02, 0.12))], 0.2),
    ]


def _overhead_ops(size: int) -> list[Callable[..., Any]]:
    """For views from above (one sensor's 128-px scenes in training, other sensors' at use):
    zoom 0.35-1 of the scene, any 90-degree rotation and both flips (no up, no left), then
    a lower or a higher resolution (blur, or an unsharp mask), JPEG at quality 20-70,
    brightness, contrast, saturation and hue, a white balance off by up to 15% a channel,
    sensor noise, and now and then grayscale (panchromatic sensors)."""
    return [
        T.RandomResizedCrop(size, scale=(0.35, 1.0), ratio=(0.8, 1.25), antialias=True),
        T.RandomHorizontalFlip(),
        T.RandomVerticalFlip(),
        _Rot90(),
        T.RandomApply([_Blur(sigma=(0.3, 2.0))], 0.2),
        T.RandomApply([_Sharpen(percent=(50, 200))], 0.2),
        T.ToImage(),
        T.RandomApply([T.JPEG(quality=(20, 70))], 0.2),
        T.RandomGrayscale(p=0.05),
        T.ToDtype(torch.float32, scale=True),
        T.RandomApply([T.ColorJitter(0.3, 0.3, 0.5, 0.05)], 0.6),
        T.RandomApply([_ChannelGains(0.15)], 0.3),
        T.RandomApply([_Noise(sigma=(0.01, 0.06))], 0.2),
    ]


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
        ops = _flip_geometry(size)
    elif preset is AugPreset.ROBUST:  # ends in a float image already
        return T.Compose([*_robust_ops(size), T.Normalize(pre.mean, pre.std)])
    elif preset is AugPreset.OVERHEAD:  # ends in a float image already
        return T.Compose([*_overhead_ops(size), T.Normalize(pre.mean, pre.std)])
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
