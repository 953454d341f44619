"""The formats beyond Pillow's own, built at test time: camera RAW (a DNG LibRaw develops, and
one with a large embedded preview), JPEG XL, a 16-bit CMYK Photoshop file; and RAW detection
from crafted headers of the formats that cannot be generated here."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landrec.data.decode import ImageDecodeError, load_image
from landrec.data.formats import MediaKind
from landrec.data.raw import MIN_PREVIEW_SIDE, RawFormat, raw_format
from landrec.data.sniff import detect
from stills_media import write_dng, write_psd_cmyk16

pytest.importorskip("rawpy")


def test_dng_is_developed_by_libraw(tmp_path: Path) -> None:
    path = write_dng(tmp_path / "shot.dng", size=(64, 48), rgb=(220, 120, 30))
    found = detect(path)
    assert (found.kind, found.what, found.mime) == (
        MediaKind.IMAGE,
        "Adobe DNG raw image",
        "image/x-adobe-dng",
    )
    image = load_image(path)
    assert (image.mode, image.size) == ("RGB", (64, 48))
    r, g, b = np.asarray(image)[8:40, 8:56].reshape(-1, 3).mean(axis=0)
    assert r > g > b  # an orange scene stays orange (auto-brightened, so not the exact values)


def test_large_embedded_preview_is_used(tmp_path: Path) -> None:
    preview = np.zeros((MIN_PREVIEW_SIDE, MIN_PREVIEW_SIDE + 200, 3), np.uint8)
    preview[...] = (250, 10, 10)  # a marker colour the sensor data (blue) cannot give
    path = write_dng(tmp_path / "p.dng", rgb=(20, 40, 230), preview=preview)
    image = load_image(path, draft_size=224)
    assert image.size == ((MIN_PREVIEW_SIDE + 200) // 4, MIN_PREVIEW_SIDE // 4)
    assert image.getpixel((5, 5)) == (250, 10, 10)


def test_small_preview_is_not_used(tmp_path: Path) -> None:
    preview = np.full((32, 40, 3), (250, 10, 10), np.uint8)
    path = write_dng(tmp_path / "s.dng", rgb=(20, 40, 230), preview=preview)
    image = load_image(path)
    assert image.size == (64, 48)  # demosaiced: the 40x32 preview is too small
    r, _, b = np.asarray(image).reshape(-1, 3).mean(axis=0)
    assert b > r


def test_plain_tiff_is_not_raw(tmp_path: Path) -> None:
    path = tmp_path / "plain.tif"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path)
    assert detect(path).what == "TIFF image"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"II*\x00\x10\x00\x00\x00CR\x02\x00", RawFormat.CR2),
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01", RawFormat.CR3),
        (b"FUJIFILMCCD-RAW 0201FF383501", RawFormat.RAF),
        (b"IIRO\x08\x00\x00\x00", RawFormat.ORF),
        (b"MMOR\x00\x00\x00\x08", RawFormat.ORF),
        (b"IIU\x00\x08\x00\x00\x00", RawFormat.RW2),
    ],
)
def test_raw_signatures(tmp_path: Path, head: bytes, expected: RawFormat) -> None:
    path = tmp_path / "shot"
    path.write_bytes(head + bytes(64))
    assert raw_format(path, head + bytes(64)) is expected
    found = detect(path)
    assert (found.kind, found.what, found.mime) == (MediaKind.IMAGE, expected.label, expected.mime)
    with pytest.raises(ImageDecodeError, match=expected.label):
        load_image(path)  # a header alone: LibRaw's reason, naming the format


def _tiff(make: bytes, photometric: int) -> bytes:
    """A little-endian TIFF whose IFD0 holds Make and PhotometricInterpretation."""
    entries = struct.pack("<HHI4s", 0x010F, 2, len(make), make.ljust(4, b"\x00")[:4])
    entries += struct.pack("<HHIHH", 0x0106, 3, 1, photometric, 0)
    return b"II*\x00" + struct.pack("<IH", 8, 2) + entries + b"\x00" * 4


@pytest.mark.parametrize(
    ("make", "expected"),
    [(b"NIK", RawFormat.TIFF_RAW), (b"SONY", RawFormat.ARW), (b"ABC", RawFormat.TIFF_RAW)],
)
def test_tiff_with_sensor_data_is_raw(tmp_path: Path, make: bytes, expected: RawFormat) -> None:
    path = tmp_path / "cfa.tif"
    path.write_bytes(_tiff(make, 32803))
    assert raw_format(path, path.read_bytes()[:64]) is expected
    path.write_bytes(_tiff(make, 2))  # RGB: an ordinary TIFF
    assert raw_format(path, path.read_bytes()[:64]) is None


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_jpeg_xl_round_trip(tmp_path: Path, channels: int) -> None:
    pylibjxl = pytest.importorskip("pylibjxl")
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 256, (30, 40, channels), dtype=np.uint8)
    if channels == 4:
        pixels[..., 3] = 255  # opaque: load_image composites alpha on white
    path = tmp_path / "a.jxl"
    path.write_bytes(pylibjxl.encode(pixels, lossless=True))
    assert detect(path).mime == "image/jxl"
    assert detect(path).kind is MediaKind.IMAGE
    decoded = np.asarray(load_image(path))
    assert decoded.shape == (30, 40, 3)
    expected = np.repeat(pixels, 3, axis=2) if channels == 1 else pixels[..., :3]
    np.testing.assert_array_equal(decoded, expected)  # lossless: every value exact


def test_jpeg_xl_transparency_on_white(tmp_path: Path) -> None:
    pylibjxl = pytest.importorskip("pylibjxl")
    pixels = np.zeros((8, 8, 4), dtype=np.uint8)  # black, fully transparent
    path = tmp_path / "clear.jxl"
    path.write_bytes(pylibjxl.encode(pixels, lossless=True))
    assert load_image(path).getpixel((4, 4)) == (255, 255, 255)


@pytest.mark.parametrize("cut", ["header", "pixels"])
def test_corrupt_jpeg_xl_gets_a_reason(tmp_path: Path, cut: str) -> None:
    pylibjxl = pytest.importorskip("pylibjxl")
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = pylibjxl.encode(pixels, lossless=True)
    path = tmp_path / "broken.jxl"
    path.write_bytes(data[:4] + b"\xff" * 8 if cut == "header" else data[: len(data) // 2])
    assert detect(path).mime == "image/jxl"
    with pytest.raises(ImageDecodeError, match=r"broken\.jxl: JPEG XL: corrupt or truncated"):
        load_image(path)


def test_jpeg_xl_pixel_limit_before_decoding(tmp_path: Path) -> None:
    pylibjxl = pytest.importorskip("pylibjxl")
    path = tmp_path / "big.jxl"
    path.write_bytes(pylibjxl.encode(np.zeros((40, 50, 3), dtype=np.uint8), lossless=True))
    with pytest.raises(ImageDecodeError, match=r"big\.jxl: image too large: 50x40"):
        load_image(path, max_pixels=1000)


def test_16_bit_cmyk_psd_merged_image(tmp_path: Path) -> None:
    path = write_psd_cmyk16(tmp_path / "print.psd", (12, 8), (0, 100, 100, 0))  # red ink mix
    assert detect(path).kind is MediaKind.IMAGE
    image = load_image(path)
    assert image.size == (12, 8)
    assert image.getpixel((4, 4)) == (255, 0, 0)


def test_psd_lab_gets_a_reason(tmp_path: Path) -> None:
    path = write_psd_cmyk16(tmp_path / "lab.psd", (4, 4), (0, 0, 0, 0))
    data = bytearray(path.read_bytes())
    data[24:26] = struct.pack(">H", 9)  # colour mode Lab
    path.write_bytes(bytes(data))
    with pytest.raises(ImageDecodeError, match=r"lab\.psd.*Lab PSD is not supported"):
        load_image(path)


def test_float_rgb_tiff_pillow_refuses_is_read_by_tifffile(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    pixels = np.zeros((20, 30, 3), np.float32)
    pixels[..., 0], pixels[:10, :, 2] = 1.0, 0.5  # red everywhere, half blue in the top half
    path = tmp_path / "float.tif"
    tifffile.imwrite(path, pixels, photometric="rgb")
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(path)  # what made this file unsupported before
    image = load_image(path)
    assert image.size == (30, 20) and image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 0, 128) and image.getpixel((0, 15)) == (255, 0, 0)


def test_float_tiff_outside_0_1_is_stretched_and_planar_samples_are_joined(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    planes = np.stack([np.full((8, 8), v, np.float64) for v in (-2.0, 0.0, 6.0)])  # (S, H, W)
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, planes, photometric="rgb", planarconfig="separate")
    assert load_image(path).getpixel((3, 3)) == (0, 64, 255)


def test_a_tiff_neither_reads_gets_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.tif"
    path.write_bytes(b"II*\x00" + b"\xff" * 60)
    with pytest.raises(ImageDecodeError, match=r"bad\.tif.*TIFF"):
        load_image(path)
