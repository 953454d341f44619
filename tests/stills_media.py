"""Still images built at test time for the formats beyond Pillow's own: a DNG that LibRaw reads
(a small Bayer mosaic with the DNG tags), with or without a large embedded preview, and a
16-bit CMYK Photoshop file written byte by byte."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

# DNG tags (TIFF tag numbers): what LibRaw needs to develop a CFA image.
DNG_TAGS_CFA = [
    (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
    (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
    (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
    (50708, "s", 0, "Test Camera", True),  # UniqueCameraModel
    (50717, "H", 1, 4095, True),  # WhiteLevel
    (50721, "2i", 9, (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1), True),  # ColorMatrix1
    (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
]


def bayer(width: int, height: int, rgb: tuple[int, int, int], white: int = 4095) -> np.ndarray:
    """An RGGB mosaic of a flat colour, 12-bit values in uint16."""
    r, g, b = (round(c / 255 * white) for c in rgb)
    mosaic = np.empty((height, width), np.uint16)
    mosaic[0::2, 0::2], mosaic[0::2, 1::2] = r, g
    mosaic[1::2, 0::2], mosaic[1::2, 1::2] = g, b
    return mosaic


def write_dng(
    path: Path,
    size: tuple[int, int] = (64, 48),
    rgb: tuple[int, int, int] = (40, 160, 220),
    preview: np.ndarray | None = None,
) -> Path:
    """A DNG of a flat colour; with `preview` (an RGB uint8 array), IFD0 is that preview and
    the sensor data sits in a SubIFD, as cameras write them."""
    import tifffile

    width, height = size
    raw_tags = [(254, "I", 1, 0, True), *DNG_TAGS_CFA[:2]]
    dng_tags = [
        (271, "s", 0, "Test", True),  # Make
        (272, "s", 0, "Camera", True),  # Model
        *DNG_TAGS_CFA[2:],
    ]
    mosaic = bayer(width, height, rgb)
    with tifffile.TiffWriter(path) as tif:
        if preview is None:
            tif.write(mosaic, photometric=32803, extratags=raw_tags + dng_tags)
        else:
            tif.write(
                preview,
                photometric="rgb",
                subifds=1,
                extratags=[(254, "I", 1, 1, True), *dng_tags],
            )
            tif.write(mosaic, photometric=32803, extratags=raw_tags)
    return path


def write_psd_cmyk16(path: Path, size: tuple[int, int], cmyk: tuple[int, int, int, int]) -> Path:
    """A 16-bit CMYK PSD of one flat colour (ink percentages 0..100), merged image raw."""
    width, height = size
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 4, height, width, 16, 4)
    sections = struct.pack(">I", 0) * 3  # colour mode data, image resources, layer info: empty
    # PSD stores CMYK inverted: 65535 is no ink.
    planes = b"".join(
        struct.pack(">H", round(65535 * (1 - ink / 100))) * (width * height) for ink in cmyk
    )
    path.write_bytes(header + sections + struct.pack(">H", 0) + planes)
    return path
