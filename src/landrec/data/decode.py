"""Decode any image file landrec accepts into a fully loaded 8-bit RGB PIL image."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import stat
import struct
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from landrec.data.errors import UserError
from landrec.data.jpeg import JpegHeader, read_header
from landrec.data.psd import PsdError, read_psd
from landrec.data.raw import HEAD_BYTES, RawError, decode_raw, raw_format, raw_size

DEFAULT_MAX_PIXELS = 120_000_000
# Bump when decoding changes the pixels it returns: cached features keyed on it are rebuilt.
DECODE_VERSION = 5  # 3: camera RAW, JPEG XL and 16-bit PSD decode; 4: JPEG XL by libjxl; 5: TIFFs
# that Pillow refuses, by tifffile
# Modes whose pixels are wider than 8 bits, and the value that maps to white.
WIDE_MODES: dict[str, float] = {
    "I;16": 65535.0,
    "I;16L": 65535.0,
    "I;16B": 65535.0,
    "I;16N": 65535.0,
    "I": 65535.0,  # 32-bit ints; in practice 16-bit data from PNG/TIFF
    "F": 1.0,  # floats; by convention in [0, 1]
}
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
WHITE = (255, 255, 255, 255)
JPEG_HEADER_BYTES = 65_536  # a JPEG header longer than this takes Pillow's path


class ImageDecodeError(UserError):
    """A file that cannot be read as an image; the message names the file and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@functools.cache
def enable_heif() -> bool:
    """Register pillow-heif's HEIC/HEIF opener once; False when it is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def jxl_available() -> bool:
    """Whether pylibjxl (libjxl's bindings, BSD-3-Clause) is installed to decode JPEG XL."""
    return importlib.util.find_spec("pylibjxl") is not None


def is_jxl(head: bytes) -> bool:
    """A JPEG XL codestream, or the ISO BMFF container holding one."""
    return head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n"))


@dataclass(frozen=True)
class JxlHeader:
    """What a JPEG XL header says, without decoding pixels."""

    size: tuple[int, int]  # (width, height) as stored: before the codestream's orientation
    mode: str  # the PIL mode its channels map to: L, LA, RGB or RGBA
    bits: int  # bits per sample: 8, 16, 32 (float), ...
    animated: bool


def _jxl_mode(channels: int) -> str:
    return {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels} channels")


def jxl_header(path: Path) -> JxlHeader:
    """The header of the JPEG XL file at `path` (ImageDecodeError when unreadable)."""
    if not jxl_available():
        raise ImageDecodeError(path, "JPEG XL needs pylibjxl (not installed)")
    import pylibjxl

    try:
        info = pylibjxl.probe_file(path)
    except FileNotFoundError as exc:
        raise ImageDecodeError(path, "file not found") from exc
    except OSError as exc:
        raise ImageDecodeError(path, f"cannot read file: {exc.strerror or exc}") from exc
    except Exception as exc:  # libjxl reports a bad header as RuntimeError
        raise ImageDecodeError(path, f"JPEG XL: corrupt or truncated header ({exc})") from exc
    return JxlHeader(
        size=(int(info["width"]), int(info["height"])),
        mode=_jxl_mode(int(info["channels"])),
        bits=int(info["bits_per_sample"]),
        animated=bool(info["have_animation"]),
    )


def _open_jxl(path: Path, max_pixels: int) -> Image.Image:
    """Decode a JPEG XL file with pylibjxl (its first frame, 8 bits per sample, upright by the
    codestream's orientation) into a loaded PIL image, the pixel limit checked on its header."""
    header = jxl_header(path)
    reason = pixel_limit_reason(header.size, max_pixels)
    if reason is not None:
        raise ImageDecodeError(path, reason)
    import pylibjxl

    try:
        pixels = np.asarray(pylibjxl.read(path))
    except OSError as exc:
        raise ImageDecodeError(path, f"cannot read file: {exc.strerror or exc}") from exc
    except Exception as exc:  # libjxl reports bad or truncated data as RuntimeError
        raise ImageDecodeError(path, f"JPEG XL: corrupt or truncated image ({exc})") from exc
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if pixels.ndim not in (2, 3) or channels not in (1, 2, 3, 4):
        raise ImageDecodeError(path, f"JPEG XL: unsupported pixel layout {pixels.shape}")
    if pixels.dtype != np.uint8:  # 16-bit or float samples: scale to 8 bits
        white = 1.0 if pixels.dtype.kind == "f" else float(np.iinfo(pixels.dtype).max)
        pixels = np.clip(np.rint(pixels * (255.0 / white)), 0, 255).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(pixels))  # L, LA, RGB or RGBA
    image.format = "JXL"  # what Image.open would have said; fromarray leaves it None
    return image


def pixel_limit_reason(size: tuple[int, int], max_pixels: int) -> str | None:
    """Why an image of `size` is refused as too large, or None when it is within `max_pixels`."""
    width, height = size
    if width * height <= max_pixels:
        return None
    return (
        f"image too large: {width}x{height} = {width * height:,} pixels "
        f"(limit {max_pixels:,} pixels; possible decompression bomb)"
    )


def _wide_to_l(img: Image.Image) -> Image.Image:
    """Scale a 16-bit, 32-bit or float single-channel image to 8-bit grayscale."""
    white = WIDE_MODES[img.mode]
    values = np.asarray(img, dtype=np.float64)
    scaled = np.clip(np.rint(values * (255.0 / white)), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled)


def _composite_on_white(img: Image.Image) -> Image.Image:
    """Flatten transparency onto a white background, so every transparent image looks alike."""
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, WHITE)
    return Image.alpha_composite(background, rgba).convert("RGB")


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert an image of any PIL mode to 8-bit RGB (transparency composited on white)."""
    if img.mode == "RGB":
        return img
    if img.mode in WIDE_MODES:
        return _wide_to_l(img).convert("RGB")
    if img.mode in ALPHA_MODES or (img.mode == "P" and "transparency" in img.info):
        return _composite_on_white(img)
    return img.convert("RGB")


def _pil_open(path: Path, max_pixels: int) -> Image.Image:
    """Image.open, and the formats Pillow cannot open alone: camera RAW (LibRaw, decoded here),
    JPEG XL (pylibjxl, decoded here), HEIC/HEIF (its plugin registered the first time one turns
    up), the Photoshop files Pillow refuses (16/32-bit: their merged image, read here) and the
    TIFFs it refuses (float RGB, odd channels: tifffile)."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    found = raw_format(path, head)
    if found is not None:
        try:
            reason = pixel_limit_reason(raw_size(path), max_pixels)
            if reason is not None:
                raise ImageDecodeError(path, reason)
            return decode_raw(path)
        except RawError as exc:
            raise ImageDecodeError(path, f"{found.label}: {exc}") from exc
    if is_jxl(head):
        return _open_jxl(path, max_pixels)
    try:
        return Image.open(path)
    except Image.UnidentifiedImageError as exc:
        if head.startswith(b"8BPS"):
            try:
                return read_psd(path)
            except (PsdError, OSError, struct.error) as psd_exc:
                raise ImageDecodeError(path, f"Photoshop file: {psd_exc}") from psd_exc
        if head.startswith(TIFF_MAGIC):
            return _open_tiff(path, max_pixels)
        if head[4:8] != b"ftyp":  # ISO base media file (HEIC, HEIF, AVIF)
            raise
        if not enable_heif():
            raise ImageDecodeError(path, "HEIC/HEIF needs pillow-heif (not installed)") from exc
    return Image.open(path)


def _open_tiff(path: Path, max_pixels: int) -> Image.Image:
    """A TIFF Pillow refused (float RGB, > 4 channels, ...), read by tifffile (`data/tiff.py`)."""
    try:
        from landrec.data.tiff import TiffError, read_tiff
    except ImportError as exc:
        raise ImageDecodeError(
            path, "a TIFF Pillow cannot decode (tifffile not installed)"
        ) from exc
    try:
        return read_tiff(path, max_pixels)
    except TiffError as exc:
        raise ImageDecodeError(path, f"TIFF: {exc}") from exc


def _open_checked(path: Path, max_pixels: int) -> Image.Image:
    """Open the header of `path`, refusing empty files, non-images and oversized images."""
    try:
        n_bytes = path.stat().st_size
    except FileNotFoundError as exc:
        raise ImageDecodeError(path, "file not found") from exc
    except OSError as exc:
        raise ImageDecodeError(path, f"cannot access file: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise ImageDecodeError(path, "not a file")
    if n_bytes == 0:
        raise ImageDecodeError(path, "empty file (0 bytes)")
    try:
        img = _pil_open(path, max_pixels)
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(
            path, f"image too large (possible decompression bomb): {exc}"
        ) from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageDecodeError(path, "not an image file (format not recognised)") from exc
    except ImageDecodeError:
        raise
    except Exception as exc:  # PIL's plugins raise many types on malformed headers
        raise ImageDecodeError(path, f"cannot read image header: {exc}") from exc
    reason = pixel_limit_reason(img.size, max_pixels)
    if reason is not None:
        img.close()
        raise ImageDecodeError(path, reason)
    return img


def _decode(img: Image.Image, draft_size: int | None) -> Image.Image:
    """Decode the current frame of an opened image into RGB; with `draft_size`, a large image
    comes back shrunk by an integer factor, its short side still at least `draft_size`."""
    if draft_size is not None and img.format == "JPEG" and min(img.size) >= 2 * draft_size:
        img.draft("RGB", (draft_size, draft_size))  # keeps both sides >= draft_size
    img.load()
    try:
        oriented = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block should not cost the photo; keep it as stored
        oriented = img
    rgb = to_rgb(oriented)
    factor = min(rgb.size) // draft_size if draft_size else 1
    if factor >= 2:
        # What JPEG's draft does for formats that have none: a cheap integer box reduction,
        # the short side still >= draft_size, so the later resize works on a small image.
        rgb = rgb.reduce(factor)
    # Copy when nothing made a new image, so the result outlives the closed file.
    return rgb.copy() if rgb is img else rgb


def _seek_page(img: Image.Image, path: Path, page: int, max_pixels: int) -> None:
    """Move an opened file to `page` (0-based), refusing pages it lacks and oversized pages."""
    if page == 0:
        return
    n_pages = getattr(img, "n_frames", 1)
    if not 0 <= page < n_pages:
        raise ImageDecodeError(path, f"no page {page}: the file has {n_pages} (numbered from 0)")
    img.seek(page)
    reason = pixel_limit_reason(img.size, max_pixels)
    if reason is not None:
        raise ImageDecodeError(path, reason)


@contextlib.contextmanager
def _decoding(path: Path) -> Iterator[None]:
    """Turn anything PIL raises while decoding `path` into an ImageDecodeError."""
    with warnings.catch_warnings():
        # Our own `max_pixels` limit replaces PIL's warning; PIL's hard error is still caught.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            yield
        except ImageDecodeError:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageDecodeError(path, f"image too large: {exc}") from exc
        except Exception as exc:  # decoders raise OSError, ValueError, EOFError, ...
            message = str(exc) or type(exc).__name__
            if "truncat" in message.lower() or isinstance(exc, EOFError):
                raise ImageDecodeError(path, f"truncated image ({message})") from exc
            raise ImageDecodeError(path, f"cannot decode image: {message}") from exc


def count_frames(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """The pages of a TIFF or frames of an animated image (GIF, WebP, ...); 1 for other files."""
    path = Path(path)
    with _decoding(path), _open_checked(path, max_pixels) as img:
        return int(getattr(img, "n_frames", 1))


def load_image(
    path: str | Path,
    draft_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    page: int = 0,
) -> Image.Image:
    """Read an image file (page `page`, 0-based, of a multi-page one) into a fully loaded
    8-bit RGB image, upright per its EXIF orientation."""
    path = Path(path)
    fast = _plain_jpeg(path, draft_size, max_pixels) if page == 0 else None
    if fast is not None:
        return fast
    with _decoding(path), _open_checked(path, max_pixels) as img:
        _seek_page(img, path, page, max_pixels)
        return _decode(img, draft_size)


def _plain_jpeg(path: Path, draft_size: int | None, max_pixels: int) -> Image.Image | None:
    """A plain upright RGB or grey JPEG that needs no draft reduction, decoded by libjpeg-turbo
    through simplejpeg: the same pixels as Pillow's decode (same settings; checked on every
    shared photo by benchmarks/bench_decode.py) in 0.12 ms against 0.19 for a 150 px photo. None
    for any other file, or when simplejpeg is missing or refuses the data: Pillow's path then
    decodes it, or says why not."""
    simplejpeg = _simplejpeg()
    if simplejpeg is None:
        return None
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None  # a FIFO would block the open; Pillow's path says what it is
        with path.open("rb") as f:
            data = f.read(JPEG_HEADER_BYTES)
            header = read_header(data)
            if header is None or not _plain(header, draft_size, max_pixels):
                return None
            data += f.read()
    except OSError:
        return None
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB")
    except (ValueError, RuntimeError, MemoryError):  # corrupt, truncated: Pillow says why
        return None
    return Image.fromarray(pixels, "RGB")


def _plain(header: JpegHeader, draft_size: int | None, max_pixels: int) -> bool:
    size = (header.width, header.height)
    return (
        header.components in (1, 3)
        and not header.adobe
        and header.orientation == 1
        and (draft_size is None or min(size) < 2 * draft_size)  # else draft mode shrinks it
        and pixel_limit_reason(size, max_pixels) is None
    )


@functools.cache
def _simplejpeg() -> types.ModuleType | None:
    """simplejpeg, when it is installed and decodes as this Pillow does: both bundle their own
    libjpeg-turbo, so a version of either with another IDCT or upsampling is caught here, once
    per process, on small JPEGs of each common kind (the fast path is then off)."""
    try:
        import simplejpeg
    except ImportError:
        return None
    return simplejpeg if _decodes_as_pillow(simplejpeg) else None


def _decodes_as_pillow(simplejpeg: types.ModuleType) -> bool:
    noise = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    smooth = np.linspace(0, 255, 24 * 40 * 3).reshape(24, 40, 3).astype(np.uint8)
    kinds: list[tuple[str, dict]] = [
        ("RGB", {"subsampling": 2}),  # 4:2:0, baseline
        ("RGB", {"subsampling": 1}),  # 4:2:2
        ("RGB", {"subsampling": 0, "progressive": True}),  # 4:4:4, progressive
        ("L", {}),
    ]
    for pixels in (noise, smooth):
        for mode, options in kinds:
            buffer = io.BytesIO()
            Image.fromarray(pixels).convert(mode).save(buffer, "JPEG", quality=75, **options)
            with Image.open(buffer) as image:
                want = np.asarray(image.convert("RGB"))
            try:
                got = simplejpeg.decode_jpeg(buffer.getvalue(), colorspace="RGB")
            except (ValueError, RuntimeError):
                return False
            if not np.array_equal(got, want):
                return False
    return True
