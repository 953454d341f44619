"""make_thumbnail: JPEG, longest side `size`, upright, RGB from any mode, written once."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from landrec.api import MediaKind, detect
from landrec.archive.extract import (
    ExtractError,
    Source,
    make_thumbnail,
    save_thumbnail,
    thumbnail_name,
)
from landrec.archive.extract.thumbs import Thumbnail

from .samples import WriteVideo, camera_exif, gradient, rgb16_png

SHA = hashlib.sha256(b"content").hexdigest()


def thumb(
    tmp_path: Path, source: Path, kind: MediaKind = MediaKind.IMAGE, size: int = 64
) -> Image.Image:
    name = make_thumbnail(source, kind, SHA, tmp_path / "thumbs", size)
    assert name == f"{SHA[:2]}/{SHA}.jpg" == thumbnail_name(SHA)
    with Image.open(tmp_path / "thumbs" / name) as image:
        assert image.format == "JPEG"
        image.load()
        return image


def test_landscape_jpeg(tmp_path: Path) -> None:
    source = tmp_path / "wide.jpg"
    gradient(300, 200).save(source, quality=95)
    image = thumb(tmp_path, source)
    assert (image.size, image.mode) == ((64, 43), "RGB")


def test_exif_orientation_6_is_turned_upright(tmp_path: Path) -> None:
    source = tmp_path / "turned.jpg"
    gradient(300, 200).save(source, exif=camera_exif(orientation=6), quality=95)
    image = thumb(tmp_path, source)
    assert image.size == (43, 64)  # dimensions swapped
    top, bottom = image.getpixel((21, 3)), image.getpixel((21, 60))
    # Orientation 6: the stored left (red) half is shown on top.
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]


def _save(tmp_path: Path, mode: str) -> Path:
    if mode == "RGB;16":
        path = tmp_path / "rgb16.png"
        path.write_bytes(rgb16_png(90, 30))
        return path
    suffix = {"CMYK": "jpg", "F": "tif", "I": "tif"}.get(mode, "png")
    path = tmp_path / f"source.{suffix}"
    image = Image.new(mode, (90, 30))
    if mode == "I;16":
        image = Image.fromarray(np.full((30, 90), 65535, np.uint16))
    elif mode == "P":
        image.info["transparency"] = 0
    image.save(path)
    return path


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGBA", "LA", "CMYK", "I;16", "I", "F", "RGB;16"])
def test_any_mode_becomes_rgb(tmp_path: Path, mode: str) -> None:
    image = thumb(tmp_path, _save(tmp_path, mode))
    assert (image.size, image.mode) == ((64, 21), "RGB")


def test_white_16_bit_and_transparent_stay_white(tmp_path: Path) -> None:
    for mode in ("I;16", "RGBA"):  # 65535 is white; transparent pixels go on white
        folder = tmp_path / mode.replace(";", "")
        folder.mkdir()
        pixels = np.asarray(thumb(folder, _save(folder, mode)))
        assert pixels.min() >= 250, mode


def test_written_once_per_hash(tmp_path: Path) -> None:
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (10, 10), "red").save(first)
    Image.new("RGB", (10, 10), "blue").save(second)
    name = make_thumbnail(first, MediaKind.IMAGE, SHA, tmp_path / "thumbs")
    written = (tmp_path / "thumbs" / name).read_bytes()
    assert make_thumbnail(second, MediaKind.IMAGE, SHA, tmp_path / "thumbs") == name
    assert (tmp_path / "thumbs" / name).read_bytes() == written
    assert sorted(p.name for p in (tmp_path / "thumbs" / SHA[:2]).iterdir()) == [f"{SHA}.jpg"]


def test_save_thumbnail_from_decoded_image(tmp_path: Path) -> None:
    name = save_thumbnail(Image.new("RGBA", (300, 100)), SHA, tmp_path)
    with Image.open(tmp_path / name) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (256, 85), "RGB")
        assert image.getpixel((5, 5)) == (255, 255, 255)  # transparent -> white


def test_video_poster(tmp_path: Path, make_video: WriteVideo) -> None:
    image = thumb(tmp_path, make_video(size=(96, 64)), kind=MediaKind.VIDEO)
    assert (image.size, image.mode) == ((64, 43), "RGB")


def test_rotated_video_poster_is_upright(tmp_path: Path, make_video: WriteVideo) -> None:
    image = thumb(tmp_path, make_video(size=(96, 64), rotation=-90), kind=MediaKind.VIDEO)
    assert image.size == (43, 64)
    top = image.getpixel((21, 2))
    assert isinstance(top, tuple) and top[0] > 200  # the red left half turned 90° clockwise


def test_bad_kind_and_hash(tmp_path: Path) -> None:
    source = tmp_path / "a.png"
    Image.new("RGB", (4, 4)).save(source)
    with pytest.raises(ExtractError, match="kind 'unsupported'"):
        make_thumbnail(source, MediaKind.UNSUPPORTED, SHA, tmp_path)
    with pytest.raises(ValueError, match="SHA-256"):
        make_thumbnail(source, MediaKind.IMAGE, "../../etc/passwd", tmp_path)


def test_failed_thumbnail_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "bad.jpg"
    source.write_bytes(b"not a picture")
    with pytest.raises(ExtractError):
        make_thumbnail(source, MediaKind.IMAGE, SHA, tmp_path / "thumbs")
    assert not (tmp_path / "thumbs").exists() or not any((tmp_path / "thumbs").rglob("*"))


def huge_png(path: Path, side: int) -> Path:
    """A black 1-bit PNG of `side` x `side` pixels, written row by row: a few KB on disk."""
    pack = zlib.compressobj(9)
    data = b"".join(pack.compress(b"\0" * (1 + (side + 7) // 8)) for _ in range(side))
    data += pack.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])  # 1 bit, grey
    body = chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_an_image_over_the_pixel_limit_is_refused_before_it_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = huge_png(tmp_path / "huge.png", 12_000)  # 144 Mpx in ~20 KB
    assert source.stat().st_size < 500_000
    with Image.open(source) as image:
        assert image.size == (12_000, 12_000)

    def decode(self: ImageFile.ImageFile) -> None:
        raise AssertionError(f"decoded {self.size}")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    with pytest.raises(ExtractError, match="too large: 12000x12000"):
        make_thumbnail(source, MediaKind.IMAGE, SHA, tmp_path / "thumbs")
    assert not (tmp_path / "thumbs" / thumbnail_name(SHA)).exists()


def _source(path: Path, tmp_path: Path, still: Image.Image) -> Source:
    return Source(path, SHA, detect(path).format, tmp_path / "thumbs", still)  # type: ignore[arg-type]


def test_a_still_decoded_at_the_files_size_makes_the_thumbnail(tmp_path: Path) -> None:
    source = tmp_path / "blue.jpg"
    Image.new("RGB", (90, 30), (0, 0, 255)).save(source)
    still = Image.new("RGB", (90, 30), (255, 0, 0))  # not what the file holds: seen if used
    name = Thumbnail().extract(_source(source, tmp_path, still)).thumbnail
    with Image.open(tmp_path / "thumbs" / str(name)) as image:
        pixel = image.getpixel((45, 15))
        assert image.size == (90, 30) and isinstance(pixel, tuple) and pixel[0] > 200


def test_a_still_reduced_below_the_thumbnail_size_is_not_used(tmp_path: Path) -> None:
    source = tmp_path / "blue.jpg"
    Image.new("RGB", (900, 300), (0, 0, 255)).save(source)
    still = Image.new("RGB", (225, 75), (255, 0, 0))  # the model's reduced read of the file
    name = Thumbnail().extract(_source(source, tmp_path, still)).thumbnail
    with Image.open(tmp_path / "thumbs" / str(name)) as image:
        pixel = image.getpixel((128, 40))
        assert image.size == (256, 85) and isinstance(pixel, tuple) and pixel[2] > 200
