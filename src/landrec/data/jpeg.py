"""A JPEG's header read from its bytes, for the fast paths: sniffing without Pillow's plugin
and decoding with libjpeg-turbo directly (simplejpeg) instead of through Pillow.

`read_header` answers only for plain JPEGs whose header Pillow is sure to accept and decode the
same way; anything unusual (a marker it does not know, an MPO or ICC segment, 12-bit samples,
a header longer than the bytes given) gives None, and the caller takes Pillow's path, so the
answers and errors stay Pillow's."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from PIL import Image

SOI = b"\xff\xd8\xff"
# Start-of-frame markers: baseline, extended, progressive, lossless, hierarchical, arithmetic.
SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
SOS, DQT, DHT, DRI, COM = 0xDA, 0xDB, 0xC4, 0xDD, 0xFE  # scan, tables, restart, comment
APP0, APP1, APP2, APP14 = 0xE0, 0xE1, 0xE2, 0xEE  # JFIF; EXIF or XMP; ICC or MPO; Adobe
ORIENTATION_TAG = 0x0112
X_RESOLUTION_TAG = 0x011A  # Pillow reads it on open, and fails on some malformed ones
RATIONALS = (5, 10)  # EXIF types RATIONAL and SRATIONAL


@dataclass(frozen=True)
class JpegHeader:
    width: int
    height: int
    components: int  # 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK/YCCK)
    orientation: int  # EXIF orientation, 1 when there is none
    adobe: bool  # an Adobe APP14 segment (colour transform flags)


def read_header(data: bytes) -> JpegHeader | None:
    """The header of a plain JPEG whose segments up to its first scan lie in `data`; None for
    anything else."""
    if not data.startswith(SOI):
        return None
    pos, frame, orientation, adobe, exif = 2, None, 1, False, False
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        length = struct.unpack_from(">H", data, pos + 2)[0]
        body = data[pos + 4 : pos + 2 + length]
        if length < 2 or pos + 2 + length > len(data):
            return None
        if marker == SOS:
            return None if frame is None else JpegHeader(*frame, orientation, adobe)
        if marker in SOF:
            frame = _frame(body)
            if frame is None:
                return None
        elif marker == DQT:
            if not _quantisation_ok(body):
                return None
        elif marker == APP0:
            if body.startswith(b"JFIF") and len(body) < 12:
                return None  # Pillow reads the version and density from these bytes
        elif marker == APP1 and body.startswith(b"Exif\0\0"):
            found = None if exif else exif_orientation(body[6:])
            if found is None:
                return None  # unreadable, or a second block (Pillow joins them)
            exif, orientation = True, found
        elif marker == APP1 and b"Orientation" in body:
            return None  # XMP's tiff:Orientation, which Pillow reads when EXIF has none
        elif marker == APP14:
            if body.startswith(b"Adobe"):
                if len(body) < 12:
                    return None
                adobe = True
        elif marker == APP2 or not (0xE1 <= marker <= 0xEF or marker in (DHT, DRI, COM)):
            return None  # ICC profiles, MPO indexes, restart/fill bytes, rarer markers: Pillow's
        pos += 2 + length
    return None


def _frame(body: bytes) -> tuple[int, int, int] | None:
    """(width, height, components) of an SOF segment Pillow accepts, else None."""
    if len(body) < 6:
        return None
    bits, height, width, components = struct.unpack_from(">BHHB", body)
    if bits != 8 or components not in (1, 3, 4) or width == 0 or height == 0:
        return None
    if width * height > 2 * (Image.MAX_IMAGE_PIXELS or 2**62):
        return None  # Pillow's decompression-bomb error decides
    return width, height, components


def _quantisation_ok(body: bytes) -> bool:
    """Whether a DQT segment holds whole tables (Pillow refuses a short one)."""
    pos = 0
    while pos < len(body):
        precision = 1 if body[pos] >> 4 == 0 else 2
        pos += 1 + 64 * precision
    return pos == len(body)


def exif_orientation(tiff: bytes) -> int | None:
    """The orientation tag of an EXIF block's first image directory (1 when absent), or None
    when the block cannot be read simply (or holds an X resolution that is not one rational
    number: Pillow's open can fail on it)."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    ifd = struct.unpack_from(order + "I", tiff, 4)[0]
    if ifd + 2 > len(tiff):
        return None
    count = struct.unpack_from(order + "H", tiff, ifd)[0]
    orientation = 1
    for n in range(count):
        entry = ifd + 2 + 12 * n
        if entry + 12 > len(tiff):
            return None
        tag, kind, values, value = struct.unpack_from(order + "HHIH", tiff, entry)
        if tag == ORIENTATION_TAG:
            if kind != 3 or not 1 <= value <= 8:
                return None
            orientation = value
        elif tag == X_RESOLUTION_TAG and (kind not in RATIONALS or values != 1):
            return None
    return orientation
