"""Camera RAW files (CR2, CR3, NEF, ARW, DNG, RAF, ORF, RW2, PEF, ...): found by their content,
decoded with LibRaw (rawpy) into 8-bit RGB, and their EXIF read with Pillow where it is a TIFF.

The embedded JPEG preview is used when its long side is at least `MIN_PREVIEW_SIDE`: it is the
camera's own rendering and decodes in milliseconds; otherwise the sensor data is demosaiced at
half size (one RGB pixel per 2x2 Bayer block), which is fast and still larger than any model
input or thumbnail.
"""

from __future__ import annotations

import io
import struct
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps

MIN_PREVIEW_SIDE = 1024  # px: a smaller embedded preview is not used; the RAW is demosaiced
HEAD_BYTES = 64
MAX_EXIF_BYTES = 4 << 20  # read of a TIFF-based RAW looking for its IFDs
MAX_IFD_TAGS = 512  # more entries in one IFD than any camera writes: the file is not a TIFF
# TIFF PhotometricInterpretation of sensor data: CFA (Bayer) and LinearRaw (DNG).
RAW_PHOTOMETRIC = frozenset({32803, 34892})
# TIFF Compression values only cameras use: Nikon NEF, Sony, Pentax, Samsung, Kodak, ...
RAW_COMPRESSION = frozenset({32767, 32769, 32770, 32773, 34713, 34316, 65000, 65535})
TAG_MAKE, TAG_SUBIFDS, TAG_PHOTOMETRIC, TAG_COMPRESSION, TAG_DNG_VERSION = (
    0x010F,
    0x014A,
    0x0106,
    0x0103,
    0xC612,
)


class RawFormat(Enum):
    """A camera RAW format: its name for people and its media type."""

    CR2 = ("Canon CR2 raw image", "image/x-canon-cr2")
    CR3 = ("Canon CR3 raw image", "image/x-canon-cr3")
    CRW = ("Canon CRW raw image", "image/x-canon-crw")
    NEF = ("Nikon NEF raw image", "image/x-nikon-nef")
    ARW = ("Sony ARW raw image", "image/x-sony-arw")
    DNG = ("Adobe DNG raw image", "image/x-adobe-dng")
    RAF = ("Fujifilm RAF raw image", "image/x-fuji-raf")
    ORF = ("Olympus ORF raw image", "image/x-olympus-orf")
    RW2 = ("Panasonic RW2 raw image", "image/x-panasonic-rw2")
    PEF = ("Pentax PEF raw image", "image/x-pentax-pef")
    SRW = ("Samsung SRW raw image", "image/x-samsung-srw")
    MRW = ("Minolta MRW raw image", "image/x-minolta-mrw")
    X3F = ("Sigma X3F raw image", "image/x-sigma-x3f")
    TIFF_RAW = ("camera raw image (TIFF-based)", "image/x-dcraw")

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def mime(self) -> str:
        return self.value[1]


# TIFF-based RAW files named by the camera maker (IFD0's Make tag, upper case, first word).
MAKER_FORMATS = {
    "NIKON": RawFormat.NEF,
    "SONY": RawFormat.ARW,
    "PENTAX": RawFormat.PEF,
    "RICOH": RawFormat.PEF,
    "SAMSUNG": RawFormat.SRW,
    "CANON": RawFormat.CR2,
}
# Formats with a signature of their own, at the file's start.
MAGIC_FORMATS: tuple[tuple[bytes, RawFormat], ...] = (
    (b"FUJIFILMCCD-RAW", RawFormat.RAF),
    (b"IIRO", RawFormat.ORF),
    (b"IIRS", RawFormat.ORF),
    (b"MMOR", RawFormat.ORF),
    (b"IIU\x00", RawFormat.RW2),
    (b"\x00MRM", RawFormat.MRW),
    (b"FOVb", RawFormat.X3F),
)
# Formats whose IFDs Pillow reads once the signature is made a plain TIFF one.
TIFF_LIKE = {b"IIRO": b"II*\x00", b"IIRS": b"II*\x00", b"MMOR": b"MM\x00*", b"IIU\x00": b"II*\x00"}


class RawError(Exception):
    """LibRaw could not read the file, or rawpy is not installed; the message says why."""


def raw_format(path: Path, head: bytes) -> RawFormat | None:
    """The RAW format of the file at `path` whose first bytes are `head`, or None."""
    for magic, found in MAGIC_FORMATS:
        if head.startswith(magic):
            return found
    if head[4:12] == b"ftypcrx ":
        return RawFormat.CR3
    if head[6:14] == b"HEAPCCDR":
        return RawFormat.CRW
    if head[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    if head[8:10] == b"CR":
        return RawFormat.CR2
    try:
        with path.open("rb") as f:
            return _tiff_raw(f, head)
    except (OSError, struct.error, ValueError):
        return None


def _tiff_raw(f: BinaryIO, head: bytes) -> RawFormat | None:
    """A TIFF holding sensor data (DNGVersion, or a CFA/raw-compressed image in IFD0 or its
    SubIFDs) named by its camera maker; None for an ordinary TIFF."""
    endian = "<" if head[:2] == b"II" else ">"
    ifd0 = _read_ifd(f, endian, struct.unpack(endian + "I", head[4:8])[0])
    if TAG_DNG_VERSION in ifd0:
        return RawFormat.DNG
    ifds = [ifd0] + [
        _read_ifd(f, endian, offset) for offset in _values(f, endian, ifd0, TAG_SUBIFDS)[:8]
    ]
    if not any(_is_sensor_data(f, endian, ifd) for ifd in ifds):
        return None
    make = _ascii(f, endian, ifd0, TAG_MAKE).upper().split(" ")[0]
    return MAKER_FORMATS.get(make, RawFormat.TIFF_RAW)


def _is_sensor_data(f: BinaryIO, endian: str, ifd: dict[int, tuple[int, int, bytes]]) -> bool:
    photometric = _values(f, endian, ifd, TAG_PHOTOMETRIC)[:1]
    compression = _values(f, endian, ifd, TAG_COMPRESSION)[:1]
    return bool(set(photometric) & RAW_PHOTOMETRIC or set(compression) & RAW_COMPRESSION)


_TYPE_SIZES = {1: (1, "B"), 2: (1, "B"), 3: (2, "H"), 4: (4, "I"), 7: (1, "B"), 13: (4, "I")}


def _read_ifd(f: BinaryIO, endian: str, offset: int) -> dict[int, tuple[int, int, bytes]]:
    """The entries of the IFD at `offset`: tag -> (type, count, 4 value-or-offset bytes)."""
    f.seek(offset)
    (count,) = struct.unpack(endian + "H", f.read(2))
    if count > MAX_IFD_TAGS:
        raise ValueError("not an IFD")
    data = f.read(12 * count)
    entries = {}
    for i in range(len(data) // 12):
        tag, kind, n = struct.unpack(endian + "HHI", data[12 * i : 12 * i + 8])
        entries[tag] = (kind, n, data[12 * i + 8 : 12 * i + 12])
    return entries


def _raw_bytes(f: BinaryIO, endian: str, entry: tuple[int, int, bytes]) -> tuple[bytes, str]:
    kind, count, inline = entry
    size, code = _TYPE_SIZES.get(kind, (0, ""))
    length = min(size * count, 4096)
    if length <= 4:
        return inline[:length], code
    f.seek(struct.unpack(endian + "I", inline)[0])
    return f.read(length), code


def _values(
    f: BinaryIO, endian: str, ifd: dict[int, tuple[int, int, bytes]], tag: int
) -> list[int]:
    if tag not in ifd:
        return []
    data, code = _raw_bytes(f, endian, ifd[tag])
    if not code or (code == "B" and ifd[tag][0] == 2):
        return []
    n = len(data) // struct.calcsize(code)
    return list(struct.unpack(f"{endian}{n}{code}", data[: n * struct.calcsize(code)]))


def _ascii(f: BinaryIO, endian: str, ifd: dict[int, tuple[int, int, bytes]], tag: int) -> str:
    if tag not in ifd or ifd[tag][0] != 2:
        return ""
    data, _ = _raw_bytes(f, endian, ifd[tag])
    return data.split(b"\x00")[0].decode("latin-1").strip()


def _import_rawpy() -> Any:
    try:
        import rawpy
    except ImportError as exc:
        raise RawError("camera RAW needs rawpy (LibRaw): pip install 'landrec[media]'") from exc
    return rawpy


def _upright(image: Image.Image, flip: int) -> Image.Image:
    """Turn an embedded preview as LibRaw's `flip` says (0 none, 3 180°, 5 90° CCW, 6 90° CW)."""
    turn = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90}
    turn[6] = Image.Transpose.ROTATE_270
    return image.transpose(turn[flip]) if flip in turn else image


def _preview(raw: Any, rawpy: Any) -> Image.Image | None:
    """The embedded preview when it is large enough, upright, 8-bit RGB; else None."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    except rawpy.LibRawError:
        return None
    image: Image.Image
    if thumb.format == rawpy.ThumbFormat.JPEG:
        image = Image.open(io.BytesIO(thumb.data))
        image.load()
        if image.getexif().get(0x0112, 1) != 1:  # a preview that states its own orientation
            image = ImageOps.exif_transpose(image)
        else:
            image = _upright(image, raw.sizes.flip)
    else:
        array = np.asarray(thumb.data)
        if array.ndim != 3 or array.shape[2] != 3:
            return None
        image = _upright(Image.fromarray(array.astype(np.uint8)), raw.sizes.flip)
    if max(image.size) < MIN_PREVIEW_SIDE:
        return None
    return image.convert("RGB")


def decode_raw(path: Path) -> Image.Image:
    """A camera RAW file as an upright 8-bit RGB image: its large embedded preview, else a
    demosaic with the camera's white balance (at half size when that is still large)."""
    rawpy = _import_rawpy()
    try:
        with rawpy.imread(str(path)) as raw:
            preview = _preview(raw, rawpy)
            if preview is not None:
                return preview
            half = max(raw.sizes.width, raw.sizes.height) // 2 >= MIN_PREVIEW_SIDE
            rgb = raw.postprocess(half_size=half, use_camera_wb=True, output_bps=8)
    except rawpy.LibRawError as exc:
        raise RawError(f"LibRaw cannot read it ({type(exc).__name__}: {exc})") from exc
    return Image.fromarray(np.ascontiguousarray(rgb))


def raw_size(path: Path) -> tuple[int, int]:
    """(width, height) of the developed, upright image, from the RAW's header."""
    rawpy = _import_rawpy()
    try:
        with rawpy.imread(str(path)) as raw:
            sizes = raw.sizes
    except rawpy.LibRawError as exc:
        raise RawError(f"LibRaw cannot read it ({type(exc).__name__}: {exc})") from exc
    width, height = int(sizes.width), int(sizes.height)
    return (height, width) if sizes.flip in (5, 6) else (width, height)


def raw_exif(path: Path, found: RawFormat) -> Image.Exif:
    """The EXIF of a RAW file (IFD0, Exif and GPS IFDs), read with Pillow; empty when the
    format hides it where Pillow cannot look (CR3's boxes, CRW, MRW, X3F)."""
    exif = Image.Exif()
    try:
        data = _tiff_bytes(path, found)
        if data is not None:
            exif.load(data)
    except Exception:  # a damaged IFD loses the EXIF, not the image
        return Image.Exif()
    return exif


def _tiff_bytes(path: Path, found: RawFormat) -> bytes | None:
    """The TIFF structure holding the EXIF: the file itself, with its signature made a TIFF
    one (ORF, RW2), or RAF's embedded JPEG's EXIF."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
        if found is RawFormat.RAF:
            offset, length = struct.unpack(">II", head[84:92])
            f.seek(offset)
            with Image.open(io.BytesIO(f.read(length))) as jpeg:
                exif_block = jpeg.info.get("exif")
            return bytes(exif_block)[6:] if exif_block else None
        if head[:4] in TIFF_LIKE or head[:4] in (b"II*\x00", b"MM\x00*"):
            # Their IFDs sit near the start, before the sensor data.
            return TIFF_LIKE.get(head[:4], head[:4]) + head[4:] + f.read(MAX_EXIF_BYTES)
    return None
