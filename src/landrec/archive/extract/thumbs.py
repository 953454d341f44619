"""Thumbnails: one small upright RGB JPEG per content hash, for images and video posters.
Archives made before keep their WebP thumbnails: a row stores its thumbnail's name."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from landrec.api import MediaKind, UserError, detect
from landrec.api.stills import beyond_pillow, decoded_still, raw_format_of
from landrec.archive.extract.images import enable_heif, read_exif, reading_image
from landrec.archive.extract.metadata import ExtractError, Metadata, to_int
from landrec.archive.extract.registry import Source
from landrec.archive.extract.videos import poster_frame

THUMB_SIZE = 256  # a thumbnail's longest side at most
# At 256 px encoding dominates a thumbnail's cost: JPEG at quality 85 takes ~0.14 ms for a
# 150 px photo where WebP (quality 80, its fastest method 0) took ~1.3 ms, for ~18% more bytes
# (7.8 against 6.6 KiB; benchmarks.md, issue 28); ingest speed wins.
JPEG_QUALITY = 85
SUFFIX = ".jpg"
MEDIA_TYPES = {".jpg": "image/jpeg", ".webp": "image/webp"}  # WebP: archives made before
# An image's pixels decoded for its thumbnail at most (landrec's decoder's limit): refused from
# its header, before any decoding (a 20 KB PNG can hold 144 Mpx: 6 s and 1.5 GB to decode).
MAX_PIXELS = 120_000_000
POSTER_AT = 0.1  # the video poster comes from about 10% into the video
# Modes wider than 8 bits, and the value that maps to white (as landrec's decoder does).
_WIDE = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0, "I": 65535.0}
_WIDE_FLOAT = {"F": 1.0}  # floats: by convention in [0, 1]
_ALPHA = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_HASH = re.compile(r"[0-9a-f]{64}")
# EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def thumbnail_name(sha256: str) -> str:
    """The thumbnail's name relative to the thumbs folder: `<sha[:2]>/<sha>.jpg`."""
    if not _HASH.fullmatch(sha256):
        raise ValueError(f"not a lower-case hex SHA-256: {sha256!r}")
    return f"{sha256[:2]}/{sha256}{SUFFIX}"


def thumbnail_media_type(name: str) -> str:
    """The media type of a stored thumbnail, by its name (JPEG, or WebP in older archives)."""
    return MEDIA_TYPES.get(Path(name).suffix, "image/jpeg")


def make_thumbnail(
    path: Path,
    kind: MediaKind,
    sha256: str,
    thumbs_dir: Path,
    size: int = THUMB_SIZE,
    mime: str | None = None,
) -> str:
    """Write an image's or video's thumbnail once per content hash; return its name. `mime`:
    the detected media type (detected here when not given)."""
    # JPEG, longest side `size`, upright, RGB; the name is relative to `thumbs_dir`.
    name = thumbnail_name(sha256)
    target = thumbs_dir / name
    if target.exists():
        return name
    if kind is MediaKind.IMAGE:
        mime = detect(path).mime if mime is None else mime
        picture = _image_thumbnail(Path(path), size, raw_format_of(mime) is not None)
    elif kind is MediaKind.VIDEO:
        picture = _shrink(poster_frame(Path(path), POSTER_AT), size)
    else:
        raise ExtractError(f"no thumbnail for a file of kind {kind.value!r}")
    _write_atomically(picture, target)
    return name


class Thumbnail:
    """The extractor of an image's or video's thumbnail, named by its content hash."""

    name = "thumbnail"
    kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})

    def extract(self, source: Source) -> Metadata:
        kind, thumbs_dir = source.format.kind, source.thumbs_dir
        if source.still is not None and _whole_enough(source, THUMB_SIZE):
            return Metadata(thumbnail=save_thumbnail(source.still, source.sha256, thumbs_dir))
        name = make_thumbnail(source.path, kind, source.sha256, thumbs_dir, mime=source.format.mime)
        return Metadata(thumbnail=name)


def _whole_enough(source: Source, size: int) -> bool:
    """Whether the source's decoded still makes the thumbnail that decoding the file for it
    would: its long side reaches `size`, or it is the picture at its stored size (a short side
    below `still_floor` was never reduced; else the file's header says)."""
    still = source.still
    assert still is not None
    if max(still.size) >= size or min(still.size) < source.still_floor:
        return True
    try:
        with Image.open(source.path) as header:
            return sorted(header.size) == sorted(still.size)
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def save_thumbnail(
    image: Image.Image, sha256: str, thumbs_dir: Path, size: int = THUMB_SIZE
) -> str:
    """`make_thumbnail` of an image already decoded and upright (any mode), e.g. to classify."""
    name = thumbnail_name(sha256)
    target = thumbs_dir / name
    if not target.exists():
        _write_atomically(_shrink(image, size), target)
    return name


def _image_thumbnail(path: Path, size: int, raw: bool) -> Image.Image:
    enable_heif()
    with reading_image(path):
        if raw:  # Pillow would show a TIFF-based RAW's small first image
            return _decoded_elsewhere(path, size)
        try:
            image = Image.open(path)
        except UnidentifiedImageError:  # JPEG XL, 16-bit PSD: landrec's decoder reads them
            if not beyond_pillow(path):
                raise
            return _decoded_elsewhere(path, size)
    with reading_image(path), image:
        image.draft("RGB", (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale, far faster
        width, height = image.size  # from the header (after the draft's reduction): no pixels yet
        if width * height > MAX_PIXELS:
            raise ExtractError(
                f"too large: {width}x{height} pixels (limit {MAX_PIXELS:,}; not decoded)"
            )
        orientation = to_int(read_exif(image).get(0x0112))  # Orientation
        picture = _shrink(image, size)
        turn = _UPRIGHT.get(orientation or 1)
        return picture.transpose(turn) if turn is not None else picture


def _decoded_elsewhere(path: Path, size: int) -> Image.Image:
    """A thumbnail through landrec's one decoder (api.load_image), for what Pillow cannot open."""
    try:
        return _shrink(decoded_still(path, size), size)
    except UserError as exc:
        raise ExtractError(str(getattr(exc, "reason", exc))) from exc


def _shrink(image: Image.Image, size: int) -> Image.Image:
    """A new RGB image of any-mode `image`, its longest side at most `size`."""
    if image.mode in _WIDE or image.mode in _WIDE_FLOAT:
        work = image.convert("I") if image.mode.startswith("I;16") else image.copy()
        work.thumbnail((size, size))
        return _wide_to_rgb(work, _WIDE.get(image.mode) or _WIDE_FLOAT[image.mode])
    rgb = _to_rgb(image)
    small = rgb.copy() if rgb is image else rgb
    small.thumbnail((size, size))
    return small


def _wide_to_rgb(image: Image.Image, white: float) -> Image.Image:
    values = np.asarray(image, dtype=np.float32)
    scaled = np.clip(np.rint(np.nan_to_num(values) * (255.0 / white)), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled).convert("RGB")


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB of any 8-bit mode; transparency composited on white, as landrec's decoder does."""
    if image.mode == "RGB" and "transparency" not in image.info:
        return image
    transparent = image.mode in _ALPHA or "transparency" in image.info
    try:
        if transparent:
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")
    except ValueError as exc:  # e.g. LAB: no direct conversion
        raise ExtractError(f"cannot convert mode {image.mode} to RGB: {exc}") from exc


def _write_atomically(picture: Image.Image, target: Path) -> None:
    """Write to a temporary file beside `target`, then rename: readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=SUFFIX + ".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            picture.save(stream, "JPEG", quality=JPEG_QUALITY)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
