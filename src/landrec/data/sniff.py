"""What a file holds, by its first bytes: an image Pillow opens, a video PyAV decodes, or neither.

`landrec predict` walks folders with this instead of a list of extensions, so a photo without an
extension, or in any format Pillow reads, is classified, and every other file gets a reason.
"""

from __future__ import annotations

import codecs
import os
import stat
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from PIL import Image

from landrec.data.decode import is_jxl
from landrec.data.formats import NOT_FOUND, Detected, Format, MediaKind
from landrec.data.jpeg import read_header
from landrec.data.raw import raw_format
from landrec.data.telemetry.detect import HEAD_BYTES as TELEMETRY_HEAD_BYTES
from landrec.data.telemetry.detect import telemetry_format

# enough for every signature below, MPEG-TS's three sync bytes and a KLV key after garbage included
HEAD_BYTES = max(1024, TELEMETRY_HEAD_BYTES)

# ISO base media files ("....ftyp<brand>") that are still images (HEIC, HEIF, AVIF) or audio.
IMAGE_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
IMAGE_BRANDS |= {b"avif", b"avis"}
AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})
# QuickTime files that start with another atom than ftyp.
QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
VIDEO_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1a\x45\xdf\xa3", "Matroska/WebM video", "video/x-matroska"),
    (b"\x00\x00\x01\xba", "MPEG program stream video", "video/mpeg"),
    (b"\x00\x00\x01\xb3", "MPEG video", "video/mpeg"),  # before Pillow: its MPEG plugin takes it
    (b"FLV\x01", "FLV video", "video/x-flv"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "ASF/WMV video", "video/x-ms-wmv"),
)
# Images whose header Pillow refused: damaged, yet the decoder's reason says more than ours.
IMAGE_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "JPEG image", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "PNG image", "image/png"),
    (b"GIF8", "GIF image", "image/gif"),
    (b"II*\x00", "TIFF image", "image/tiff"),
    (b"MM\x00*", "TIFF image", "image/tiff"),
)
JPEG = Format(MediaKind.IMAGE, "JPEG image", "image/jpeg")
# Pillow formats whose own media type no browser shows, though their bytes are of one it does.
BROWSER_MIME = {"MPO": "image/jpeg"}  # a multi-picture JPEG starts as a plain JPEG
OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!", "RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Microsoft Office document"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"\x7fELF", "ELF executable"),
    (b"ID3", "MP3 audio"),
    (b"fLaC", "FLAC audio"),
    (b"OggS", "Ogg media"),
)


def _ftyp(head: bytes) -> Format | None:
    if head[4:8] != b"ftyp":
        if head[4:8] not in QUICKTIME_ATOMS:
            return None
        return Format(MediaKind.VIDEO, "QuickTime video", "video/quicktime")
    brand = head[8:12]
    if brand in IMAGE_BRANDS:
        mime = "image/avif" if brand in (b"avif", b"avis") else "image/heif"
        return Format(MediaKind.IMAGE, "HEIF/AVIF image", mime)
    if brand in AUDIO_BRANDS:
        return Format(MediaKind.UNSUPPORTED, "MPEG-4 audio", "audio/mp4")
    return Format(MediaKind.VIDEO, "MP4/QuickTime video", "video/mp4")


def _riff(head: bytes) -> Format | None:
    if head[:4] != b"RIFF":
        return None
    form = head[8:12]
    if form == b"AVI ":
        return Format(MediaKind.VIDEO, "AVI video", "video/x-msvideo")
    if form == b"WAVE":
        return Format(MediaKind.UNSUPPORTED, "WAV audio", "audio/wav")
    return None  # WEBP and the rest: Pillow decides


def _still(path: Path, head: bytes) -> Format | None:
    """Camera RAW (before Pillow, which takes a TIFF-based one for its small first image),
    JPEG XL (whose plugin is registered only when one is decoded) and Photoshop files."""
    raw = raw_format(path, head)
    if raw is not None:
        return Format(MediaKind.IMAGE, raw.label, raw.mime)
    if is_jxl(head):
        return Format(MediaKind.IMAGE, "JPEG XL image", "image/jxl")
    return None


def _before_pillow(head: bytes) -> Format | None:
    """Containers recognised by their signature, checked before Pillow's looser plugins."""
    found = _ftyp(head) or _riff(head)
    if found is not None:
        return found
    for magic, name, mime in VIDEO_MAGIC:
        if head.startswith(magic):
            return Format(MediaKind.VIDEO, name, mime)
    if _transport_stream(head) or head.startswith(tuple(m for m, _, _ in IMAGE_MAGIC)):
        return None  # a KLV key in a video's or an image's head does not make it raw KLV
    return telemetry_format(head)  # raw KLV, GPX, drone SRT: no Pillow plugin gets to guess


def _plain_jpeg(head: bytes) -> Format | None:
    """A JPEG whose whole header is in `head` and one Pillow opens (`jpeg.read_header`), named
    as Pillow names it, without opening the file again (0.1 ms a photo)."""
    return JPEG if read_header(head) is not None else None


def _pillow_format(path: Path) -> Format | None:
    """The format Pillow reads from the header of `path` (nothing is decoded), or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning: size is checked on decode
        try:
            with Image.open(path) as img:
                name = str(img.format or "unknown")
                mime = BROWSER_MIME.get(name) or img.get_format_mimetype()
        except Image.DecompressionBombError:
            return Format(MediaKind.IMAGE, "oversized image")
        except Exception:  # plugins raise OSError, ValueError, SyntaxError on foreign bytes
            return None
    return Format(MediaKind.IMAGE, f"{name} image", mime or None)


def _transport_stream(head: bytes) -> bool:
    """MPEG-TS (sync byte every 188 bytes) or M2TS (.mts: 4-byte prefix, every 192)."""
    ts = len(head) > 376 and head[0] == head[188] == head[376] == 0x47
    m2ts = len(head) > 388 and head[4] == head[196] == head[388] == 0x47
    return ts or m2ts


def _text(head: bytes) -> Format | None:
    """Text (or an SVG/HTML/XML flavour) when the bytes read as UTF-8 text, else None."""
    if b"\x00" in head:
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:  # a full head may end inside a character: not final, so that is no error
        text = decoder.decode(head, final=len(head) < HEAD_BYTES)
    except UnicodeDecodeError:
        return None
    lower = text.lstrip().lower()
    if "<svg" in lower:
        return Format(MediaKind.UNSUPPORTED, "SVG vector image", "image/svg+xml")
    if lower.startswith(("<!doctype html", "<html")):
        return Format(MediaKind.UNSUPPORTED, "HTML document", "text/html")
    if lower.startswith("<?xml"):
        return Format(MediaKind.UNSUPPORTED, "XML document", "application/xml")
    return Format(MediaKind.UNSUPPORTED, "text", "text/plain")


def _after_pillow(head: bytes) -> Format:
    if _transport_stream(head):
        return Format(MediaKind.VIDEO, "MPEG transport stream video", "video/mp2t")
    if head.startswith(b"8BPS"):  # 16/32-bit: Pillow refuses it, landrec's decoder reads it
        return Format(MediaKind.IMAGE, "Photoshop image", "image/vnd.adobe.photoshop")
    for magic, name, mime in IMAGE_MAGIC:
        if head.startswith(magic):
            return Format(MediaKind.IMAGE, f"{name} (damaged header)", mime)
    for magic, name in OTHER_MAGIC:
        if head.startswith(magic):
            return Format(MediaKind.UNSUPPORTED, name)
    if head.startswith(b"MZ"):
        return Format(MediaKind.UNSUPPORTED, "Windows executable")
    return _text(head) or Format(MediaKind.UNSUPPORTED, "unknown")


def _unreadable(path: Path, why: str) -> Detected:
    return Detected(path, Format(MediaKind.UNREADABLE, why))


def detect(path: str | Path) -> Detected:
    """Whether `path` is an image, a video, or neither (its format: kind, name, media type),
    from its first bytes and Pillow's header check."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read below
            return _unreadable(path, "not a regular file")
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
    except FileNotFoundError:
        return Detected(path, Format(MediaKind.MISSING, NOT_FOUND))
    except OSError as exc:
        return _unreadable(path, f"cannot read file: {exc.strerror or exc}")
    if not head:
        return _unreadable(path, "empty file (0 bytes)")
    found = _still(path, head) or _before_pillow(head) or _plain_jpeg(head) or _pillow_format(path)
    return Detected(path, found or _after_pillow(head))


def walk_files(folder: Path) -> Iterator[Path]:
    """Every regular file under `folder`, recursively, hidden files and folders left out."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = Path(root) / name
            if not name.startswith(".") and path.is_file():
                yield path


def detect_all(paths: Iterable[str | Path]) -> list[Detected]:
    """Named files as given (a missing one: kind MISSING), then every file of named folders in
    sorted order, each with what it holds."""
    out: list[Detected] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(detect(f) for f in sorted(walk_files(p)))
        else:
            out.append(detect(p))
    return out
