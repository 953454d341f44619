"""Tiny images and videos written by the tests (never copied from the real photos)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from av.video.stream import VideoStream
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

Base, GPS, IFD = ExifTags.Base, ExifTags.GPS, ExifTags.IFD
WriteVideo = Callable[..., Path]


def camera_exif(
    orientation: int = 1, offset: str | None = "+02:00", gps: bool = True
) -> Image.Exif:
    """EXIF as a camera writes it: IFD0, the Exif IFD and (optionally) a GPS IFD south-west."""
    exif = Image.Exif()
    exif[Base.Make] = "Canon\x00"
    exif[Base.Model] = "EOS R5"
    exif[Base.Orientation] = orientation
    exif[Base.Software] = "Firmware 1.0"
    sub = exif.get_ifd(IFD.Exif)
    sub[Base.DateTimeOriginal] = "2021:05:06 07:08:09"
    if offset is not None:
        sub[Base.OffsetTimeOriginal] = offset
    sub[Base.ExposureTime] = IFDRational(1, 250)
    sub[Base.FNumber] = IFDRational(28, 10)
    sub[Base.ISOSpeedRatings] = 400
    sub[Base.FocalLength] = IFDRational(50, 1)
    sub[Base.LensModel] = "RF50mm F1.8 STM"
    if gps:
        place = exif.get_ifd(IFD.GPSInfo)
        place[GPS.GPSLatitudeRef] = "S"
        place[GPS.GPSLatitude] = (IFDRational(33), IFDRational(51), IFDRational(3600, 100))
        place[GPS.GPSLongitudeRef] = "W"
        place[GPS.GPSLongitude] = (IFDRational(70), IFDRational(30), IFDRational(0))
        place[GPS.GPSAltitudeRef] = b"\x01"
        place[GPS.GPSAltitude] = IFDRational(125, 10)
    return exif


def gradient(width: int, height: int) -> Image.Image:
    """An RGB picture whose left half is red and right half blue (to check orientation)."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2, 0] = 255
    pixels[:, width // 2 :, 2] = 255
    return Image.fromarray(pixels)


def write_video(
    path: Path,
    frames: int = 20,
    size: tuple[int, int] = (64, 48),
    rotation: int = 0,
    metadata: dict[str, str] | None = None,
    movflags: str | None = None,
) -> Path:
    """An H.264 MP4 (MPEG-4 part 2 where libx264 is missing) whose frames brighten over time."""
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    options = {"movflags": movflags} if movflags else {}
    with av.open(str(path), "w", options=options) as container:
        container.metadata.update(metadata or {})
        stream = container.add_stream(codec, rate=10)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for index in range(frames):
            pixels = np.full((size[1], size[0], 3), index * 10 % 256, np.uint8)
            pixels[:, : size[0] // 2, 0] = 255
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def png_bytes(width: int, height: int, depth: int, color: int, rows: bytes = b"") -> bytes:
    """A PNG with the IHDR that is asked for (`color` 2: RGB, 0: gray) and `rows` as IDAT
    (raw scanlines, each led by filter byte 0); empty `rows` leaves the IDAT out."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(rows)) if rows else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b"")


def rgb16_png(width: int, height: int) -> bytes:
    """A 16-bit RGB PNG (Pillow reads it, but cannot write one)."""
    line = b"\x00" + np.full((width, 3), 0x8000, ">u2").tobytes()
    return png_bytes(width, height, 16, 2, line * height)
