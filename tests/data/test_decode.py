"""load_image: every format and mode comes back as upright 8-bit RGB, or as a clear error."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landrec.data.decode import (
    ImageDecodeError,
    count_frames,
    enable_heif,
    load_image,
    to_rgb,
)

ORIENTATION = 0x0112


def _save(img: Image.Image, path: Path, **kwargs: object) -> Path:
    img.save(path, **kwargs)
    return path


def _noise_jpeg(path: Path, size: tuple[int, int]) -> Path:
    return _save(Image.effect_noise(size, 40).convert("RGB"), path, quality=90)


@pytest.mark.parametrize(
    ("name", "img", "expected"),
    [
        ("rgb.jpg", Image.new("RGB", (8, 6), (200, 30, 40)), (200, 30, 40)),
        ("gray.png", Image.new("L", (8, 6), 77), (77, 77, 77)),
        ("rgba.png", Image.new("RGBA", (8, 6), (10, 20, 30, 255)), (10, 20, 30)),
        ("clear.png", Image.new("RGBA", (8, 6), (10, 20, 30, 0)), (255, 255, 255)),
        ("la.png", Image.new("LA", (8, 6), (50, 255)), (50, 50, 50)),
        ("pal.png", Image.new("RGB", (8, 6), (0, 153, 255)).convert("P"), (0, 153, 255)),
        ("cmyk.jpg", Image.new("CMYK", (8, 6), (0, 0, 0, 0)), (255, 255, 255)),
        ("lossless.webp", Image.new("RGB", (8, 6), (1, 2, 3)), (1, 2, 3)),
        ("plain.bmp", Image.new("RGB", (8, 6), (9, 99, 199)), (9, 99, 199)),
    ],
)
def test_formats_and_modes_become_rgb(
    tmp_path: Path, name: str, img: Image.Image, expected: tuple[int, int, int]
) -> None:
    kwargs = {"lossless": True} if name.endswith(".webp") else {}
    out = load_image(_save(img, tmp_path / name, **kwargs))
    assert out.mode == "RGB"
    assert out.size == (8, 6)
    assert np.allclose(np.asarray(out)[3, 4], expected, atol=2)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16_bit_grayscale_is_scaled_to_8_bit(tmp_path: Path, ext: str) -> None:
    values = np.array([[0, 65535, 257 * 100, 300]], dtype=np.uint16)
    img = Image.fromarray(values)
    assert img.mode == "I;16"
    out = load_image(_save(img, tmp_path / f"deep{ext}"))
    assert out.mode == "RGB"
    assert np.asarray(out)[0, :, 0].tolist() == [0, 255, 100, 1]


@pytest.mark.parametrize(
    ("img", "expected"),
    [
        (Image.fromarray(np.array([[65535, 514]], dtype=">u2")), [255, 2]),  # I;16B
        (Image.fromarray(np.array([[65535, 70000, -5]], dtype=np.int32)), [255, 255, 0]),  # I
        (Image.fromarray(np.array([[1.0, 0.5, 2.0]], dtype=np.float32)), [255, 128, 255]),  # F
    ],
)
def test_wide_modes_scale_by_their_range(img: Image.Image, expected: list[int]) -> None:
    assert np.asarray(to_rgb(img))[0, :, 1].tolist() == expected


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (20, 0, 40, 20))  # left half red, right half blue
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # display rotated 90° clockwise
    out = load_image(_save(img, tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95))
    assert out.size == (20, 40)
    pixels = np.asarray(out).astype(int)
    assert pixels[5, 10, 0] > 200 and pixels[5, 10, 2] < 60  # top is the old left: red
    assert pixels[35, 10, 2] > 200 and pixels[35, 10, 0] < 60  # bottom is the old right: blue


def test_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (10, 10), c).convert("P") for c in [(255, 0, 0), (0, 255, 0)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    out = load_image(path)
    assert out.mode == "RGB"
    assert tuple(np.asarray(out)[5, 5]) == (255, 0, 0)


def test_multipage_tiff_first_page(tmp_path: Path) -> None:
    pages = [Image.new("RGB", (6, 4), (5, 6, 7)), Image.new("RGB", (6, 4), (200, 200, 200))]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert tuple(np.asarray(load_image(path))[1, 1]) == (5, 6, 7)


def _heic(path: Path) -> Path:
    pytest.importorskip("pillow_heif")
    assert enable_heif()
    try:
        Image.new("RGB", (64, 48), (10, 200, 30)).save(path, format="HEIF")
    except Exception as exc:  # libheif built without an encoder
        pytest.skip(f"pillow-heif cannot write HEIC here: {exc}")
    return path


def test_heic(tmp_path: Path) -> None:
    out = load_image(_heic(tmp_path / "phone.heic"))
    assert out.mode == "RGB" and out.size == (64, 48)
    assert np.allclose(np.asarray(out)[20, 20], (10, 200, 30), atol=6)


def test_heic_opener_registered_on_first_need(tmp_path: Path) -> None:
    # A fresh interpreter, so nothing has registered the opener yet; a misleading suffix too.
    path = _heic(tmp_path / "phone.jpg")
    code = "import sys, landrec.data.decode as d; print(d.load_image(sys.argv[1]).size)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, env=env)
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.decode().strip() == "(64, 48)"


def test_draft_downscales_large_jpeg(tmp_path: Path) -> None:
    path = _noise_jpeg(tmp_path / "big.jpg", (2000, 1500))
    out = load_image(path, draft_size=224)
    assert out.mode == "RGB"
    assert min(out.size) >= 224
    assert out.size[0] < 2000 and out.size[1] < 1500
    assert load_image(path).size == (2000, 1500)


def test_draft_leaves_small_jpeg_alone(tmp_path: Path) -> None:
    path = _noise_jpeg(tmp_path / "small.jpg", (400, 300))  # short side < 2 * 224
    assert load_image(path, draft_size=224).size == (400, 300)


def _reason(path: Path, **kwargs: object) -> str:
    with pytest.raises(ImageDecodeError) as info:
        load_image(path, **kwargs)  # type: ignore[arg-type]
    assert info.value.path == path
    assert str(info.value) == f"{path}: {info.value.reason}"
    return info.value.reason


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    assert "empty" in _reason(path)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not an image\n")
    assert "not an image" in _reason(path)


def test_missing_file(tmp_path: Path) -> None:
    assert "not found" in _reason(tmp_path / "nope.jpg")


def test_truncated_jpeg(tmp_path: Path) -> None:
    full = _noise_jpeg(tmp_path / "full.jpg", (300, 200)).read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(full[: len(full) // 2])
    assert "truncated" in _reason(path)


def test_too_many_pixels_refused(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (100, 100)), tmp_path / "bomb.png")
    reason = _reason(path, max_pixels=5000)
    assert "pixels" in reason and "10,000" in reason
    assert load_image(path, max_pixels=10_000).size == (100, 100)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims a huge image: a bomb is refused before any decoding."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(("width", "height"), [(15_000, 10_000), (20_000, 20_000)])
def test_decompression_bomb_header(tmp_path: Path, width: int, height: int) -> None:
    path = _png_header_only(tmp_path / "bomb.png", width, height)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL's own bomb warning must not leak out
        reason = _reason(path)
    assert "too large" in reason and "pixels" in reason


PAGE_COLOURS = [(200, 20, 20), (20, 20, 200), (60, 60, 60)]


def three_page_tiff(path: Path) -> Path:
    """Red, blue, then a 16-bit grayscale page (257 * 60 -> 60 in 8 bits), each its own size."""
    grey16 = Image.fromarray(np.full((7, 9), 257 * 60, dtype=np.uint16))
    assert grey16.mode == "I;16"
    red, blue = (Image.new("RGB", (8, 6), c) for c in PAGE_COLOURS[:2])
    red.save(path, save_all=True, append_images=[blue, grey16])
    return path


def test_multipage_tiff_pages(tmp_path: Path) -> None:
    path = three_page_tiff(tmp_path / "scan.tif")
    assert count_frames(path) == 3
    for page, colour in enumerate(PAGE_COLOURS):
        out = load_image(path, page=page)
        assert out.mode == "RGB"
        assert tuple(np.asarray(out)[2, 3]) == colour
    assert load_image(path, page=2).size == (9, 7)
    assert load_image(path).size == (8, 6)  # page 0 by default


@pytest.mark.parametrize("page", [3, 5, -1])
def test_page_out_of_range(tmp_path: Path, page: int) -> None:
    path = three_page_tiff(tmp_path / "scan.tif")
    reason = _reason(path, page=page)
    assert f"no page {page}" in reason and "3" in reason


def test_single_image_has_one_page(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (4, 4)), tmp_path / "one.png")
    assert count_frames(path) == 1
    assert "no page 1" in _reason(path, page=1)


def test_count_frames_of_gif_and_unreadable_files(tmp_path: Path) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)]
    frames = [Image.new("RGB", (4, 4), c).convert("P") for c in colours]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    assert count_frames(gif) == 4
    text = tmp_path / "notes.tif"
    text.write_text("not a tiff")
    for path in (text, tmp_path / "missing.tif"):
        with pytest.raises(ImageDecodeError) as info:
            count_frames(path)
        assert info.value.path == path and str(path) in str(info.value)


def test_draft_reduces_large_png(tmp_path: Path) -> None:
    img = Image.new("RGB", (3000, 2000), (30, 90, 150))
    img.paste((250, 250, 250), (0, 0, 1500, 2000))  # left half white: the layout must survive
    path = _save(img, tmp_path / "big.png", compress_level=1)
    out = load_image(path, draft_size=224)
    assert 224 <= min(out.size) < 2 * 224
    assert out.size == (375, 250)  # 2000 // 224 = 8, an integer box reduction
    pixels = np.asarray(out)
    assert tuple(pixels[100, 50]) == (250, 250, 250) and tuple(pixels[100, 300]) == (30, 90, 150)
    assert load_image(path).size == (3000, 2000)


def test_draft_leaves_medium_png_alone(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (600, 447)), tmp_path / "medium.png")  # short side < 2 * 224
    assert load_image(path, draft_size=224).size == (600, 447)
