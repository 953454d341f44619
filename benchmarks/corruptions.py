"""Common photo corruptions in a few lines of NumPy/Pillow, each at fixed severities.

Every function maps an RGB uint8 array (H, W, 3) and a seeded generator to a new RGB uint8
array of the same shape; sizes are relative to the image, so 150 px and 320 px photos are
degraded alike. `apply` looks a corruption up by name; `CORRUPTIONS` lists the settings the
benchmark measures (in the spirit of Hendrycks & Dietterich's ImageNet-C, not its code).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

Array = np.ndarray  # (H, W, 3) uint8


def _to_uint8(x: np.ndarray) -> Array:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def gaussian_blur(img: Array, level: float, rng: np.random.Generator) -> Array:
    """Gaussian blur, sigma = `level` x the shorter side (0.01 = 1.5 px at 150 px)."""
    radius = level * min(img.shape[:2])
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius)))


def gaussian_noise(img: Array, level: float, rng: np.random.Generator) -> Array:
    """Additive Gaussian noise, standard deviation `level` of the full range."""
    return _to_uint8(img + rng.normal(0.0, 255.0 * level, img.shape))


def jpeg(img: Array, level: float, rng: np.random.Generator) -> Array:
    """A JPEG round trip at quality `level`."""
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="JPEG", quality=int(level))
    return np.asarray(Image.open(buffer).convert("RGB"))


def low_light(img: Array, level: float, rng: np.random.Generator) -> Array:
    """Underexposure: scale by `level`, then a gamma of 1 / sqrt(level) darkens the shadows."""
    x = (img / 255.0 * level) ** (1.0 / np.sqrt(level))
    return _to_uint8(255.0 * x)


def _smooth_map(shape: tuple[int, int], rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """A smooth random field in [0, 1]: a `cells` x `cells` grid upsampled bicubically."""
    coarse = rng.random((cells, cells)).astype(np.float32)
    field = Image.fromarray(coarse, mode="F").resize(shape[::-1], Image.Resampling.BICUBIC)
    m = np.asarray(field)
    return (m - m.min()) / max(float(m.max() - m.min()), 1e-6)


def fog(img: Array, level: float, rng: np.random.Generator) -> Array:
    """Blend towards a bright haze; opacity `level` x (0.6 .. 1.0) of a smooth random map."""
    alpha = level * (0.6 + 0.4 * _smooth_map(img.shape[:2], rng))[..., None]
    haze = np.array([215.0, 220.0, 225.0])  # a slightly blue-white
    return _to_uint8(img * (1.0 - alpha) + haze * alpha)


def grayscale(img: Array, level: float, rng: np.random.Generator) -> Array:
    """Luma only (ITU-R 601, Pillow's "L"), repeated in three channels."""
    gray = np.asarray(Image.fromarray(img).convert("L"))
    return np.repeat(gray[..., None], 3, axis=2)


def contrast(img: Array, level: float, rng: np.random.Generator) -> Array:
    """Contrast loss: pull every pixel towards the image mean, keeping a `level` fraction."""
    mean = img.mean(axis=(0, 1), keepdims=True)
    return _to_uint8(mean + (img - mean) * level)


def motion_blur(img: Array, level: float, rng: np.random.Generator) -> Array:
    """Linear motion blur over `level` x the width, in a random direction."""
    length = max(2, round(level * img.shape[1]))
    angle = rng.uniform(0.0, np.pi)
    pad = length
    padded = np.pad(img.astype(np.float32), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    h, w = img.shape[:2]
    out = np.zeros(img.shape, np.float32)
    for t in np.linspace(-length / 2, length / 2, length):
        dy, dx = round(t * np.sin(angle)), round(t * np.cos(angle))
        out += padded[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
    return _to_uint8(out / length)


@dataclass(frozen=True)
class Corruption:
    name: str
    fn: Callable[[Array, float, np.random.Generator], Array]
    levels: tuple[float, ...]  # severity 1, 2, ...


CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption("gaussian_blur", gaussian_blur, (0.01, 0.02)),
        Corruption("gaussian_noise", gaussian_noise, (0.06, 0.12)),
        Corruption("jpeg", jpeg, (20, 10)),
        Corruption("low_light", low_light, (0.6, 0.4)),
        Corruption("fog", fog, (0.4, 0.6)),
        Corruption("grayscale", grayscale, (1.0,)),
        Corruption("contrast", contrast, (0.5, 0.3)),
        Corruption("motion_blur", motion_blur, (0.04, 0.08)),
    )
}


def apply(img: Array, name: str, severity: int, rng: np.random.Generator) -> Array:
    """`img` under corruption `name` at `severity` (1-based)."""
    corruption = CORRUPTIONS[name]
    return corruption.fn(img, corruption.levels[severity - 1], rng)
