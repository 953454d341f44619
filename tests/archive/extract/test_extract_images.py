"""image_metadata: size, mode, depth, pages, EXIF camera fields and GPS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from landrec.api import MediaKind
from landrec.archive.extract import FIELD_NAMES, Metadata, image_metadata, make_thumbnail
from landrec.archive.extract.images import enable_heif

from .samples import IFD, Base, camera_exif, gradient, rgb16_png


def test_camera_exif_becomes_fields(jpeg_with_exif: Path) -> None:
    fields = image_metadata(jpeg_with_exif).fields
    assert set(fields) == set(FIELD_NAMES)
    assert (fields["width"], fields["height"], fields["mode"]) == (64, 48, "RGB")
    assert (fields["bit_depth"], fields["pages"]) == (8, 1)
    assert (fields["camera_make"], fields["camera_model"]) == ("Canon", "EOS R5")
    assert fields["lens"] == "RF50mm F1.8 STM"
    zone = timezone(timedelta(hours=2))
    assert fields["taken_at"] == datetime(2021, 5, 6, 7, 8, 9, tzinfo=zone)
    assert fields["exposure_time"] == pytest.approx(1 / 250)
    assert fields["f_number"] == pytest.approx(2.8)
    assert (fields["iso"], fields["focal_length"], fields["orientation"]) == (400, 50.0, 1)
    assert fields["codec"] is None and fields["duration_s"] is None


def test_gps_south_west_below_sea_level(jpeg_with_exif: Path) -> None:
    fields = image_metadata(jpeg_with_exif).fields
    assert fields["latitude"] == pytest.approx(-(33 + 51 / 60 + 36 / 3600))
    assert fields["longitude"] == pytest.approx(-70.5)
    assert fields["altitude"] == pytest.approx(-12.5)


def test_time_without_offset_is_utc(tmp_path: Path) -> None:
    path = tmp_path / "local.jpg"
    gradient(8, 8).save(path, exif=camera_exif(offset=None, gps=False))
    metadata = image_metadata(path)
    assert metadata.fields["taken_at"] == datetime(2021, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert metadata.extra["taken_at_zone"] == "assumed UTC"
    assert metadata.fields["latitude"] is None


def test_weird_values_become_none(tmp_path: Path) -> None:
    exif = camera_exif(gps=False)
    sub = exif.get_ifd(IFD.Exif)
    sub[Base.DateTimeOriginal] = "0000:00:00 00:00:00"
    sub[Base.ExposureTime] = IFDRational(1, 0)
    sub[Base.FNumber] = "garbage"
    sub[Base.FocalLength] = IFDRational(0, 0)
    sub[Base.ISOSpeedRatings] = 0
    exif[Base.Orientation] = 42
    place = exif.get_ifd(IFD.GPSInfo)
    place[1], place[2] = "N", (IFDRational(95), IFDRational(0), IFDRational(0))  # > 90
    path = tmp_path / "weird.jpg"
    gradient(8, 8).save(path, exif=exif)
    fields = image_metadata(path).fields
    for name in ("taken_at", "exposure_time", "f_number", "focal_length", "iso", "orientation"):
        assert fields[name] is None, name
    assert fields["latitude"] is None and fields["longitude"] is None


def test_extra_is_json_safe_and_has_no_bytes(tmp_path: Path) -> None:
    exif = camera_exif()
    exif.get_ifd(IFD.Exif)[Base.MakerNote] = b"\x00\x01\xff binary"
    exif[Base.Artist] = "A. Person\x00"
    path = tmp_path / "extra.jpg"
    gradient(8, 8).save(path, exif=exif)
    extra = image_metadata(path).extra
    assert json.loads(json.dumps(extra)) == extra
    assert extra["exif"]["Artist"] == "A. Person"
    assert "MakerNote" not in extra["exif"]


@pytest.mark.parametrize(
    ("mode", "depth"),
    [("1", 1), ("L", 8), ("P", 8), ("RGBA", 8), ("I;16", 16), ("I", 32), ("F", 32)],
)
def test_bit_depth_by_mode(tmp_path: Path, mode: str, depth: int) -> None:
    path = tmp_path / f"image.{'png' if mode not in ('I', 'F') else 'tif'}"
    Image.new(mode, (5, 3)).save(path)
    fields = image_metadata(path).fields
    assert (fields["mode"], fields["bit_depth"], fields["width"]) == (mode, depth, 5)


def test_16_bit_pngs(tmp_path: Path) -> None:
    gray, rgb = tmp_path / "gray16.png", tmp_path / "rgb16.png"
    Image.fromarray(np.full((4, 6), 40000, np.uint16)).save(gray)
    rgb.write_bytes(rgb16_png(6, 4))
    assert image_metadata(gray).fields["bit_depth"] == 16
    fields = image_metadata(rgb).fields
    assert (fields["mode"], fields["bit_depth"], fields["width"]) == ("RGB", 16, 6)


def test_pages_of_multi_frame_tiff(tmp_path: Path) -> None:
    path = tmp_path / "three.tif"
    first, *rest = [Image.new("L", (4, 4), shade) for shade in (0, 100, 200)]
    first.save(path, save_all=True, append_images=rest)
    assert image_metadata(path).fields["pages"] == 3


def test_png_without_exif(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.new("RGB", (3, 2)).save(path)
    metadata = image_metadata(path)
    assert isinstance(metadata, Metadata)
    assert metadata.fields["camera_make"] is None and metadata.extra == {"format": "PNG"}


@pytest.mark.real_data
def test_real_photos(real_data: Path) -> None:
    for path in sorted((real_data / "train" / "coast").glob("*.jpg"))[:20]:
        fields = image_metadata(path).fields
        assert fields["mode"] == "RGB" and fields["width"] and fields["height"]


@pytest.mark.parametrize(("plugin", "suffix"), [("HEIF", "heic"), ("AVIF", "avif")])
def test_heif_and_avif(tmp_path: Path, plugin: str, suffix: str) -> None:
    enable_heif()
    Image.init()  # Pillow's own AVIF plugin registers when its plugins load, not at import
    if plugin not in Image.SAVE:
        pytest.skip(f"no {plugin} encoder here")
    path = tmp_path / f"phone.{suffix}"
    gradient(64, 48).save(path, plugin, exif=camera_exif(orientation=6).tobytes())
    fields = image_metadata(path).fields
    assert (fields["camera_model"], fields["latitude"]) == ("EOS R5", pytest.approx(-33.86))
    name = make_thumbnail(path, MediaKind.IMAGE, "ef" * 32, tmp_path / "thumbs")
    with Image.open(tmp_path / "thumbs" / name) as thumb:
        assert thumb.size == (48, 64)  # upright, whether the plugin or the thumbnail turned it
