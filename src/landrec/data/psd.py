"""The merged (flattened) image of a Photoshop file that Pillow refuses: 16- and 32-bit
channels, and any depth of grayscale, RGB or CMYK. The merged image section is simple: one
compression word, then each plane raw or PackBits (RLE) compressed, after three skippable
sections (colour mode data, image resources, layers)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

GRAYSCALE, RGB, CMYK = 1, 3, 4
MODE_PLANES = {GRAYSCALE: 1, RGB: 3, CMYK: 4}
MODE_NAMES = {0: "bitmap", 2: "indexed", 7: "multichannel", 8: "duotone", 9: "Lab"}
RAW, RLE = 0, 1


class PsdError(ValueError):
    """A PSD this reader cannot flatten; the message says why."""


def _packbits(data: bytes, size: int) -> bytes:
    """Decode one PackBits-compressed row to `size` bytes."""
    out = bytearray()
    i = 0
    while i < len(data) and len(out) < size:
        n = data[i]
        i += 1
        if n < 128:
            out += data[i : i + n + 1]
            i += n + 1
        elif n > 128:
            out += data[i : i + 1] * (257 - n)
            i += 1
    if len(out) < size:
        raise PsdError("truncated RLE image data")
    return bytes(out[:size])


def _planes(f: BinaryIO, n: int, shape: tuple[int, int, int], depth: int, psb: bool) -> np.ndarray:
    """The first `n` planes of the merged image of `shape` (channels, height, width), as an
    (n, height, width) array."""
    channels, height, width = shape
    row_bytes = (width * depth + 7) // 8
    (compression,) = struct.unpack(">H", f.read(2))
    if compression == RAW:
        data = f.read(row_bytes * height * n)
    elif compression == RLE:
        counts_format = ">%dI" if psb else ">%dH"
        all_rows = struct.unpack(
            counts_format % (height * channels), f.read((4 if psb else 2) * height * channels)
        )  # one byte count per row of every channel, extra (alpha) channels included
        data = b"".join(_packbits(f.read(count), row_bytes) for count in all_rows[: height * n])
    else:
        raise PsdError(f"merged image compression {compression} (ZIP) is not supported")
    if len(data) < row_bytes * height * n:
        raise PsdError("truncated image data")
    dtype = {8: ">u1", 16: ">u2", 32: ">f4"}[depth]
    return np.frombuffer(data, dtype=dtype, count=width * height * n).reshape(n, height, width)


def _to_8bit(planes: np.ndarray, depth: int) -> np.ndarray:
    if depth == 8:
        return planes.astype(np.uint8)
    if depth == 16:
        return (planes >> 8).astype(np.uint8)
    return np.clip(np.rint(np.nan_to_num(planes) * 255.0), 0, 255).astype(np.uint8)


def read_psd(path: Path) -> Image.Image:
    """The merged image of a PSD/PSB as an 8-bit image (mode L, RGB or CMYK)."""
    with path.open("rb") as f:
        head = f.read(26)
        if len(head) < 26 or head[:4] != b"8BPS":
            raise PsdError("not a Photoshop file")
        version, channels, height, width, depth, mode = struct.unpack(">H6xHIIHH", head[4:])
        if mode not in MODE_PLANES:
            raise PsdError(f"{MODE_NAMES.get(mode, f'mode {mode}')} PSD is not supported")
        if depth not in (8, 16, 32) or channels < MODE_PLANES[mode]:
            raise PsdError(f"{depth}-bit PSD with {channels} channels is not supported")
        psb = version == 2
        for _ in range(2):  # colour mode data, image resources
            (length,) = struct.unpack(">I", f.read(4))
            f.seek(length, 1)
        (length,) = struct.unpack(">Q" if psb else ">I", f.read(8 if psb else 4))
        f.seek(length, 1)  # layer and mask information
        n = MODE_PLANES[mode]
        planes = _to_8bit(_planes(f, n, (channels, height, width), depth, psb), depth)
    if mode == CMYK:
        planes = 255 - planes  # PSD stores ink inverted: 255 is none
    pil_mode = {GRAYSCALE: "L", RGB: "RGB", CMYK: "CMYK"}[mode]
    pixels = planes[0] if n == 1 else np.ascontiguousarray(planes.transpose(1, 2, 0))
    return Image.fromarray(pixels, mode=pil_mode)
