"""Image metadata (Pillow): size, mode, bit depth, pages, and the EXIF fields the archive
searches on (camera, lens, time taken, exposure, GPS). Only headers are read, never pixels
(JPEG XL: its header through pylibjxl; its EXIF is not read)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from PIL import ExifTags, Image, UnidentifiedImageError

from landrec.api import MediaKind, UserError, detect, enable_heif
from landrec.api.stills import (
    JXL_MIME,
    JxlStill,
    RawStill,
    beyond_pillow,
    decoded_still,
    jxl_still,
    raw_format_of,
    raw_still,
)
from landrec.archive.extract.metadata import (
    COLUMN_CHARS,
    ExtractError,
    Metadata,
    clean_text,
    empty_fields,
    json_value,
    parse_datetime,
    parse_offset,
    to_float,
    to_int,
    valid_position,
)
from landrec.archive.extract.registry import Source

Base, GPS = ExifTags.Base, ExifTags.GPS
# Bits per channel of the modes that are not 8 bits.
_DEPTH = {"1": 1, "I": 32, "F": 32, "I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16}
# Tags already in `fields`, IFD pointers and binary blobs: not repeated in extra["exif"].
_SKIP_TAGS = frozenset(
    {
        Base.Make,
        Base.Model,
        Base.LensModel,
        Base.Orientation,
        Base.DateTimeOriginal,
        Base.OffsetTimeOriginal,
        Base.SubsecTimeOriginal,
        Base.ExposureTime,
        Base.FNumber,
        Base.ISOSpeedRatings,
        Base.FocalLength,
        Base.ExifOffset,
        Base.GPSInfo,
        Base.ExifInteroperabilityOffset,
        Base.MakerNote,
        Base.PrintImageMatching,
        Base.XMLPacket,
        Base.StripOffsets,
        Base.StripByteCounts,
        Base.TileOffsets,
        Base.TileByteCounts,
        Base.JpegIFOffset,
        Base.JpegIFByteCount,
    }
)
MAX_EXTRA_TAGS = 48  # bounded: a file cannot blow up the row with thousands of tags


@contextlib.contextmanager
def reading_image(path: Path) -> Iterator[None]:
    """Turn whatever Pillow raises on a bad file into an ExtractError that says why."""
    try:
        if path.stat().st_size == 0:
            raise ExtractError("empty file (0 bytes)")
        yield
    except ExtractError:
        raise
    except Image.DecompressionBombError as exc:
        raise ExtractError(f"too large (decompression bomb): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ExtractError("not a readable image (unknown format or corrupt header)") from exc
    except OSError as exc:
        if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
            raise ExtractError(f"cannot read file: {exc.strerror or exc}") from exc
        raise ExtractError(f"corrupt or truncated image: {exc}") from exc
    except Exception as exc:  # Pillow plugins raise many types on hostile bytes
        raise ExtractError(f"corrupt image: {type(exc).__name__}: {exc}") from exc


def image_metadata(path: Path, mime: str | None = None) -> Metadata:
    """Size, mode, depth, pages and EXIF of the image at `path` (ExtractError when unreadable);
    `mime`: its media type as detection found it (detected here when not given)."""
    mime = detect(path).mime if mime is None else mime
    enable_heif()
    with reading_image(path):
        raw = raw_format_of(mime)
        if raw is not None:
            return _raw_metadata(raw_still(path, raw))
        if mime == JXL_MIME:
            try:
                return _jxl_metadata(jxl_still(path))
            except UserError as exc:
                raise ExtractError(str(getattr(exc, "reason", exc))) from exc
        try:
            image = Image.open(path)
        except UnidentifiedImageError:  # a 16-bit PSD: landrec's decoder reads its merged image
            if not beyond_pillow(path):
                raise
            return _decoded_metadata(path)
    with reading_image(path), image:
        fields = empty_fields()
        fields.update(
            width=image.width,
            height=image.height,
            mode=clean_text(image.mode, COLUMN_CHARS["mode"]),
            bit_depth=bit_depth(image),
            pages=_pages(image),
        )
        exif = read_exif(image)
        exif_ifd = _ifd(exif, ExifTags.IFD.Exif)
        fields.update(_camera_fields(exif, exif_ifd))
        position, null_island = _gps_fields(_ifd(exif, ExifTags.IFD.GPSInfo))
        fields.update(position)
        extra = _extra(image, exif, exif_ifd)
    if null_island:
        extra["gps_null_island"] = True
    return Metadata(fields, extra)


def _decoded_metadata(path: Path) -> Metadata:
    """The size of an image only landrec's decoder reads (Pillow cannot open it)."""
    try:
        decoded = decoded_still(path)
    except UserError as exc:
        raise ExtractError(str(getattr(exc, "reason", exc))) from exc
    fields = empty_fields()
    fields.update(width=decoded.width, height=decoded.height, mode="RGB", pages=1)
    return Metadata(fields, {"format": "decoded by landrec"})


def _jxl_metadata(jxl: JxlStill) -> Metadata:
    """A JPEG XL file's size, mode, depth and pages from its header (pylibjxl); no EXIF."""
    fields = empty_fields()
    fields.update(
        width=jxl.size[0],
        height=jxl.size[1],
        mode=clean_text(jxl.mode, COLUMN_CHARS["mode"]),
        bit_depth=jxl.bit_depth,
        pages=jxl.pages,
    )
    return Metadata(
        fields,
        {"format": "JPEG XL", "exif_not_read": "pylibjxl gives EXIF only with all pixels decoded"},
    )


def _raw_metadata(raw: RawStill) -> Metadata:
    """A camera RAW file's developed size and its EXIF (camera, time, GPS)."""
    if raw.size is None:
        raise ExtractError(f"{raw.format}: LibRaw cannot read it")
    fields = empty_fields()
    fields.update(width=raw.size[0], height=raw.size[1], mode="RGB", pages=1)
    exif_ifd = _ifd(raw.exif, ExifTags.IFD.Exif)
    fields.update(_camera_fields(raw.exif, exif_ifd))
    fields["orientation"] = None  # the developed size and pixels are already upright
    position, null_island = _gps_fields(_ifd(raw.exif, ExifTags.IFD.GPSInfo))
    fields.update(position)
    extra: dict[str, object] = {"format": raw.format, "raw": True}
    if null_island:
        extra["gps_null_island"] = True
    return Metadata(fields, extra)


class ImageMetadata:
    """The extractor of an image's size, mode, pages and EXIF (`image_metadata`)."""

    name = "metadata"
    kinds = frozenset({MediaKind.IMAGE})

    def extract(self, source: Source) -> Metadata:
        return image_metadata(source.path, source.format.mime)


def bit_depth(image: Image.Image) -> int:
    """Bits per channel: 1, 8, 16 or 32 (16 too for RGB PNG/TIFF read from 16-bit samples)."""
    depth = _DEPTH.get(image.mode, 8)
    with contextlib.suppress(Exception):
        tile = getattr(image, "tile", None)  # ImageFile only: what the decoder will read
        args = tile[0].args if tile else None
        rawmode = args if isinstance(args, str) else args[0] if isinstance(args, tuple) else ""
        if depth == 8 and isinstance(rawmode, str) and ";16" in rawmode:
            depth = 16
    return depth


def _pages(image: Image.Image) -> int | None:
    try:
        return int(getattr(image, "n_frames", 1))
    except Exception:  # counting frames reads the file: a damaged frame table raises
        return None


def read_exif(image: Image.Image) -> Image.Exif:
    """The EXIF of an open image; empty when absent or broken (never decodes PNG pixels)."""
    # A PNG without an early eXIf chunk would decode every pixel looking for a late one.
    if image.format == "PNG" and "exif" not in image.info:
        return Image.Exif()
    try:
        return image.getexif()
    except Exception:  # a broken EXIF block loses the EXIF, not the image
        return Image.Exif()


def _ifd(exif: Image.Exif, ifd: ExifTags.IFD) -> Mapping[int, object]:
    try:
        return dict(exif.get_ifd(ifd))
    except Exception:
        return {}


def _tag(exif: Mapping[int, object], exif_ifd: Mapping[int, object], tag: int) -> object:
    """A tag from the Exif IFD, or from IFD0 where some writers put it."""
    value = exif_ifd.get(tag)
    return exif.get(tag) if value is None else value


def _positive(value: object) -> float | None:
    number = to_float(value)
    return number if number is not None and number > 0 else None


def _camera_fields(exif: Image.Exif, exif_ifd: Mapping[int, object]) -> dict[str, object]:
    orientation = to_int(exif.get(Base.Orientation))
    iso = to_int(_tag(exif, exif_ifd, Base.ISOSpeedRatings))
    return {
        "camera_make": clean_text(exif.get(Base.Make), COLUMN_CHARS["camera_make"]),
        "camera_model": clean_text(exif.get(Base.Model), COLUMN_CHARS["camera_model"]),
        "lens": clean_text(_tag(exif, exif_ifd, Base.LensModel), COLUMN_CHARS["lens"]),
        "taken_at": _taken_at(exif, exif_ifd),
        "exposure_time": _positive(_tag(exif, exif_ifd, Base.ExposureTime)),
        "f_number": _positive(_tag(exif, exif_ifd, Base.FNumber)),
        "iso": iso if iso is not None and 0 < iso < 2**31 else None,
        "focal_length": _positive(_tag(exif, exif_ifd, Base.FocalLength)),
        "orientation": orientation if orientation in range(1, 9) else None,
    }


def _taken_at(exif: Image.Exif, exif_ifd: Mapping[int, object]) -> object:
    """DateTimeOriginal (else DateTimeDigitized) with its sub-seconds and offset."""
    pairs = (
        (Base.DateTimeOriginal, Base.SubsecTimeOriginal, Base.OffsetTimeOriginal),
        (Base.DateTimeDigitized, Base.SubsecTimeDigitized, Base.OffsetTimeDigitized),
    )
    for date_tag, subsec_tag, offset_tag in pairs:
        text = clean_text(_tag(exif, exif_ifd, date_tag))
        if not text:
            continue
        subsec = clean_text(_tag(exif, exif_ifd, subsec_tag)) or ""
        if subsec.isdigit() and len(text) == 19:
            text = f"{text}.{subsec[:6]}"
        # EXIF times are the camera's local clock; without an OffsetTime tag the zone is
        # unknown, so the wall-clock reading is stored as if it were UTC.
        taken = parse_datetime(text, parse_offset(_tag(exif, exif_ifd, offset_tag)))
        if taken is not None:
            return taken
    return None


def _degrees(value: object, ref: object, negative: str) -> float | None:
    """Decimal degrees from EXIF (degrees, minutes, seconds) rationals and an N/S/E/W ref."""
    parts = list(value) if isinstance(value, tuple | list) else [value]
    numbers = [to_float(part) for part in parts[:3]]
    known = [number for number in numbers if number is not None and number >= 0]
    if not known or len(known) < len(numbers):
        return None
    scales = (1.0, 60.0, 3600.0)[: len(known)]
    degrees = sum(number / scale for number, scale in zip(known, scales, strict=True))
    ref_text = (clean_text(ref) or "").upper()
    return -degrees if ref_text.startswith(negative) else degrees


def _gps_fields(gps: Mapping[int, object]) -> tuple[dict[str, float | None], bool]:
    """The position of a GPS IFD, and whether it said exactly 0, 0 ("null island": a receiver
    without a fix writes it; kept out of the position, flagged). No position without both
    references, or with GPSStatus V (void: no fix)."""
    nowhere = valid_position(None, None, None)
    lat_ref, lon_ref = gps.get(GPS.GPSLatitudeRef), gps.get(GPS.GPSLongitudeRef)
    if not _ref(lat_ref, "NS") or not _ref(lon_ref, "EW") or _ref(gps.get(GPS.GPSStatus), "V"):
        return nowhere, False
    latitude = _degrees(gps.get(GPS.GPSLatitude), lat_ref, "S")
    longitude = _degrees(gps.get(GPS.GPSLongitude), lon_ref, "W")
    if latitude == 0 and longitude == 0:
        return nowhere, True
    altitude = to_float(gps.get(GPS.GPSAltitude))
    ref = gps.get(GPS.GPSAltitudeRef)
    below = ref[:1] == b"\x01" if isinstance(ref, bytes) else to_int(ref) == 1
    if altitude is not None and below:
        altitude = -abs(altitude)  # altitude ref 1: below sea level
    return valid_position(latitude, longitude, altitude), False


def _ref(value: object, letters: str) -> bool:
    """Whether an EXIF GPS reference (text or bytes) is one of `letters`."""
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    text = (clean_text(value) or "").upper()[:1]
    return bool(text) and text in letters


def _extra(
    image: Image.Image, exif: Image.Exif, exif_ifd: Mapping[int, object]
) -> dict[str, object]:
    """Format, a few flags, and the other EXIF tags by name as text or numbers (bounded)."""
    extra: dict[str, object] = {"format": image.format}
    if getattr(image, "is_animated", False):
        extra["animated"] = True
    if image.info.get("icc_profile"):
        extra["icc_profile"] = True
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and all(to_float(value) is not None for value in dpi):
        extra["dpi"] = [round(to_float(value) or 0.0, 3) for value in dpi[:2]]
    if _tag(exif, exif_ifd, Base.DateTimeOriginal) is not None:
        offset = _tag(exif, exif_ifd, Base.OffsetTimeOriginal)
        extra["taken_at_zone"] = "exif offset" if parse_offset(offset) else "assumed UTC"
    tags: dict[str, object] = {}
    for tag, value in [*exif.items(), *exif_ifd.items()]:
        name = ExifTags.TAGS.get(tag)
        if name is None or tag in _SKIP_TAGS or len(tags) >= MAX_EXTRA_TAGS:
            continue
        kept = json_value(value)
        if kept is not None and kept != "":
            tags[name] = kept
    if tags:
        extra["exif"] = tags
    return extra
