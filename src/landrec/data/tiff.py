"""The TIFFs Pillow cannot open (float RGB samples, more than 4 channels, odd bit depths, some
compressions), read with `tifffile` and brought to 8 bits: the first page, its first three
channels (CMYK kept as CMYK), floats in 0..1 scaled by 255, any other range stretched to 0..255.

Imported only when Pillow has refused a TIFF (tifffile is in the `media` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

SEPARATED = 5  # PhotometricInterpretation: CMYK
CONTIG = 1  # PlanarConfiguration: samples interleaved


class TiffError(ValueError):
    """A TIFF that tifffile cannot decode either; the message says why."""


def read_tiff(path: Path, max_pixels: int) -> Image.Image:
    """The first page of the TIFF at `path` as an 8-bit L, RGB or CMYK image; `TiffError`
    when it cannot be read or has more than `max_pixels` pixels."""
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            width, height = int(page.imagewidth), int(page.imagelength)
            if width * height > max_pixels:
                raise TiffError(f"image too large: {width}x{height} pixels")
            pixels = page.asarray()
            cmyk = page.photometric == SEPARATED
            planar = page.planarconfig != CONTIG and pixels.ndim == 3
    except TiffError:
        raise
    except Exception as exc:  # tifffile raises many types on what it cannot decode
        raise TiffError(f"cannot decode it ({type(exc).__name__}: {exc})") from exc
    if planar:  # (samples, height, width) -> (height, width, samples)
        pixels = np.moveaxis(pixels, 0, -1)
    if pixels.ndim == 2:
        return Image.fromarray(_to_8bit(pixels), "L")
    if pixels.ndim != 3:
        raise TiffError(f"a first page of shape {pixels.shape}")
    if cmyk and pixels.shape[-1] >= 4:
        return Image.fromarray(_to_8bit(pixels[..., :4]), "CMYK")
    if pixels.shape[-1] < 3:
        return Image.fromarray(_to_8bit(pixels[..., 0]), "L")
    return Image.fromarray(_to_8bit(pixels[..., :3]), "RGB")


def _to_8bit(pixels: np.ndarray) -> np.ndarray:
    """uint8 as it is, other unsigned integers by their top 8 bits, floats in 0..1 times 255,
    anything else stretched from its minimum to its maximum."""
    if pixels.dtype == np.uint8:
        return np.ascontiguousarray(pixels)
    if pixels.dtype.kind == "u":
        shift = 8 * pixels.dtype.itemsize - 8
        return np.ascontiguousarray((pixels >> shift).astype(np.uint8))
    values = np.nan_to_num(pixels.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if pixels.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        return np.rint(values * 255.0).astype(np.uint8)
    span = high - low or 1.0
    return np.rint((values - low) * (255.0 / span)).astype(np.uint8)
