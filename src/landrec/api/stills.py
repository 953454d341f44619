"""What the archive needs of still images beyond Pillow's headers: a camera RAW file's format,
developed size and EXIF (landrec.data.raw reads them with LibRaw and Pillow)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from landrec.data.raw import RawFormat


@dataclass(frozen=True)
class RawStill:
    """A camera RAW file: its format's name, developed (upright) size and EXIF."""

    format: str  # "Canon CR2 raw image", ...
    size: tuple[int, int] | None  # (width, height); None when LibRaw cannot read the file
    exif: Image.Exif


JXL_MIME = "image/jxl"  # what detection names a JPEG XL file


def raw_format_of(mime: str | None) -> RawFormat | None:
    """The camera RAW format of a detected media type (`detect`'s), None for any other."""
    from landrec.data.raw import RawFormat

    return next((f for f in RawFormat if f.mime == mime), None)


def beyond_pillow(path: Path) -> bool:
    """Whether landrec's decoder reads `path` where Pillow does not (asked once Pillow has
    refused it): camera RAW, JPEG XL, a Photoshop file (Pillow refuses 16- and 32-bit ones) or
    a TIFF (float RGB, odd channel counts: tifffile)."""
    from landrec.data.decode import TIFF_MAGIC, is_jxl
    from landrec.data.raw import HEAD_BYTES, raw_format

    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    if is_jxl(head) or head.startswith((b"8BPS", *TIFF_MAGIC)):
        return True
    return raw_format(path, head) is not None


@dataclass(frozen=True)
class JxlStill:
    """A JPEG XL file's header: size as stored, the PIL mode of its channels, bits per sample
    and frames (None when animated: counting them decodes the file). Its EXIF is not read:
    pylibjxl hands EXIF out only with every pixel decoded."""

    size: tuple[int, int]  # (width, height)
    mode: str  # L, LA, RGB or RGBA
    bit_depth: int
    pages: int | None


def jxl_still(path: Path) -> JxlStill:
    """The JPEG XL header of `path` (pylibjxl); a UserError naming the reason when it cannot be
    read."""
    from landrec.data.decode import jxl_header

    header = jxl_header(path)
    return JxlStill(header.size, header.mode, header.bits, None if header.animated else 1)


def decoded_still(path: Path, draft_size: int | None = None) -> Image.Image:
    """A still Pillow cannot open alone (camera RAW, JPEG XL, 16-bit PSD) through landrec's one
    decoder, upright 8-bit RGB; its short side shrunk towards `draft_size` where cheap."""
    from landrec.data.decode import load_image

    return load_image(path, draft_size=draft_size)


def raw_still(path: Path, found: RawFormat) -> RawStill:
    """The RAW facts of `path`, a camera RAW file of format `found`."""
    from landrec.data.raw import RawError, raw_exif, raw_size

    try:
        size: tuple[int, int] | None = raw_size(path)
    except RawError:
        size = None
    return RawStill(found.label, size, raw_exif(path, found))
