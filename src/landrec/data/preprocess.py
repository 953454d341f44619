"""Preprocessing that travels with a model, and its NumPy form: what prediction runs without
torch. `to_array` gives what `transforms.eval_transform` gives (a parity test holds them to it):
the short side resized (PIL bilinear, antialiased), a centre crop, /255, normalised, CHW."""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from landrec.data.decode import ImageDecodeError, load_image


@dataclass(frozen=True)
class Preprocessing:
    """Evaluation preprocessing: resize the short side, centre-crop, normalise."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize_size: int | None = None  # short side before the crop; None = input_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessing:
        return cls(
            input_size=int(d["input_size"]),
            mean=tuple(d["mean"]),
            std=tuple(d["std"]),
            resize_size=d.get("resize_size"),
        )

    @property
    def short_side(self) -> int:
        return self.resize_size or self.input_size


def resized_size(width: int, height: int, short: int) -> tuple[int, int]:
    """(width, height) with the short side at `short`, the long one truncated (as torchvision)."""
    if width <= height:
        return short, int(short * height / width)
    return int(short * width / height), short


def centre_crop(pixels: np.ndarray, size: int) -> np.ndarray:
    """The central size x size of an (H, W, 3) array, zero-padded first when it is smaller."""
    height, width = pixels.shape[:2]
    if height < size or width < size:
        pad_h, pad_w = max(size - height, 0), max(size - width, 0)
        pads = ((pad_h // 2, (pad_h + 1) // 2), (pad_w // 2, (pad_w + 1) // 2), (0, 0))
        pixels = np.pad(pixels, pads)
        height, width = pixels.shape[:2]
    top = round((height - size) / 2.0)
    left = round((width - size) / 2.0)
    return pixels[top : top + size, left : left + size]


def to_array(image: Image.Image, pre: Preprocessing, out: np.ndarray | None = None) -> np.ndarray:
    """One decoded RGB image -> normalised (3, H, W) float32 array (written into `out`, e.g. a
    row of a batch, when given)."""
    size = resized_size(image.width, image.height, pre.short_side)
    if size != image.size:
        box, kept = crop_box(image.size, size, pre.input_size)
        image = image.resize(kept, resample=Image.Resampling.BILINEAR, box=box)
    return normalise(centre_crop(np.asarray(image), pre.input_size), pre, out)


@functools.lru_cache(maxsize=4096)
def crop_box(
    size: tuple[int, int], resized: tuple[int, int], crop: int
) -> tuple[tuple[float, float, float, float], tuple[int, int]]:
    """The `box` and output size for `Image.resize` that compute only the pixels the centre crop
    keeps of resizing `size` to `resized`, when that gives the very pixels of the whole resize
    (a 150 px photo to 256 then 224: 0.28 ms instead of 0.43); else the whole resize's."""
    whole = (0.0, 0.0, float(size[0]), float(size[1])), resized
    axes = [_crop_axis(n, m, crop) for n, m in zip(size, resized, strict=True)]
    if any(axis is None for axis in axes):
        return whole
    (x0, x1, width), (y0, y1, height) = axes  # type: ignore[misc]
    kept = (width, height)
    if _horizontal_first(size, kept) != _horizontal_first(size, resized):
        return whole  # the passes would round in another order
    box = (x0, y0, x1, y1)
    return (box, kept) if _same_pixels(size, resized, box, crop) else whole


def _crop_axis(length: int, resized: int, crop: int) -> tuple[float, float, int] | None:
    """(start, end, output length) of the crop on one resized axis, or None. Pillow places output
    pixel i of a resize of the input span [start, end) at start + (i + 0.5) * scale, scale =
    (end - start) / output length, and weighs the input pixels around it. The crop's span gives
    the whole resize's centres and scale when all of them are exact in binary floating point
    (an output length of 256: scale = 150/256), so the weights are the same bit for bit."""
    if resized == length or resized <= crop:
        return None
    left = round((resized - crop) / 2.0)  # as centre_crop cuts it
    scale = Fraction(length, resized)
    start, end = left * scale, (left + crop) * scale
    centres = [start + (i + Fraction(1, 2)) * scale for i in range(crop)]
    exact = all(Fraction(float(v)) == v for v in [scale, *centres])
    if not exact or any(Fraction(float(np.float32(v))) != v for v in (start, end)):
        return None  # Pillow takes the box as single-precision floats
    return float(start), float(end), crop


def _horizontal_first(size: tuple[int, int], out: tuple[int, int]) -> bool:
    """Pillow's (>= 10) order of the two passes: vertical first when the height shrinks more than
    twice as much as the width."""
    shrink_y, shrink_x = size[1] - out[1], size[0] - out[0]
    return not (shrink_y > 0 and shrink_y > 2 * shrink_x)


def _same_pixels(
    size: tuple[int, int],
    resized: tuple[int, int],
    box: tuple[float, float, float, float],
    crop: int,
) -> bool:
    """The centre crop of the whole resize and the boxed resize agree on seeded noise: a check,
    once per geometry, that this Pillow resamples as the reasoning above says."""
    noise = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(noise, "RGB")
    whole = image.resize(resized, resample=Image.Resampling.BILINEAR)
    part = image.resize((crop, crop), resample=Image.Resampling.BILINEAR, box=box)
    return np.array_equal(centre_crop(np.asarray(whole), crop), np.asarray(part))


def normalise(pixels: np.ndarray, pre: Preprocessing, out: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) float32 as torchvision computes it (/255, minus mean, over
    std), each step in float32 on a contiguous channel-first copy: 0.21 ms a 224 x 224 crop,
    against 0.50 for a per-channel lookup table of the same values (docs/benchmarks.md). With
    `out` (float32, (3, H, W)) the result is written there and returned."""
    chw = np.ascontiguousarray(pixels.transpose(2, 0, 1))
    out = np.multiply(chw, np.float32(1 / 255), out=out, dtype=np.float32)
    np.subtract(out, np.asarray(pre.mean, dtype=np.float32)[:, None, None], out=out)
    np.divide(out, np.asarray(pre.std, dtype=np.float32)[:, None, None], out=out)
    return out


@dataclass
class Loaded:
    """One image file read for a model: its array, or why not; and the seconds each step took."""

    array: np.ndarray | None
    error: str | None
    decode_s: float
    preprocess_s: float


def load_array(
    path: Path, pre: Preprocessing, page: int = 0, out: np.ndarray | None = None
) -> Loaded:
    """Decode (JPEG draft mode at the short side, as evaluation does) and preprocess one file,
    into `out` when given (its array is then `out`)."""
    start = time.perf_counter()
    try:
        image = load_image(path, draft_size=pre.short_side, page=page)
    except ImageDecodeError as exc:
        return Loaded(None, exc.reason, time.perf_counter() - start, 0.0)
    decoded = time.perf_counter()
    array = to_array(image, pre, out)
    return Loaded(array, None, decoded - start, time.perf_counter() - decoded)
