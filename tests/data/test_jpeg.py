"""The JPEG fast paths: the header read from bytes (sniffing without Pillow's plugin) and the
decode by libjpeg-turbo directly, each giving what Pillow's path gives, or leaving it to Pillow."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landrec.data import decode
from landrec.data.decode import ImageDecodeError, load_image
from landrec.data.jpeg import JpegHeader, read_header
from landrec.data.sniff import _pillow_format, detect


def _pixels(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    return np.clip(ramp + rng.normal(0, 20, ramp.shape), 0, 255).astype(np.uint8)


def _jpeg(path: Path, size=(150, 150), mode: str = "RGB", **save) -> Path:
    image = Image.fromarray(_pixels(size)).convert(mode)
    image.save(path, "JPEG", quality=90, **save)
    return path


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _pillow_decode(path: Path, draft: int | None) -> Image.Image:
    """The decode without the fast path (Pillow's, as landrec did before it)."""
    with decode._decoding(path), decode._open_checked(path, decode.DEFAULT_MAX_PIXELS) as img:
        return decode._decode(img, draft)


def test_a_plain_jpeg_header_is_read_from_its_bytes(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "a.jpg", (150, 120))
    assert read_header(path.read_bytes()) == JpegHeader(150, 120, 3, 1, False)
    grey = _jpeg(tmp_path / "g.jpg", (40, 30), mode="L", progressive=True)
    assert read_header(grey.read_bytes()) == JpegHeader(40, 30, 1, 1, False)
    turned = _jpeg(tmp_path / "t.jpg", exif=_exif(6))
    assert read_header(turned.read_bytes()).orientation == 6  # type: ignore[union-attr]
    cmyk = _jpeg(tmp_path / "c.jpg", mode="CMYK")
    header = read_header(cmyk.read_bytes())
    assert header is not None and header.components == 4 and header.adobe


@pytest.mark.parametrize(
    "bytes_of",
    [
        pytest.param(lambda b: b[:300], id="header cut short"),
        pytest.param(lambda b: b"\x89PNG" + b[4:], id="not a JPEG"),
        pytest.param(lambda b: b[:2] + b"\xff\xff" + b[2:], id="fill bytes"),
        pytest.param(lambda b: b[:2] + b"\xff\xe0\x00\x07JFIF\x00" + b[2:], id="short JFIF"),
        pytest.param(lambda b: b[:2] + b"\xff\xe2\x00\x08MPF\x00\x00\x00" + b[2:], id="MPO index"),
        pytest.param(lambda b: b[:2] + b"\xff\xdb\x00\x05\x00\x01\x02" + b[2:], id="short DQT"),
    ],
)
def test_anything_unusual_is_left_to_pillow(tmp_path: Path, bytes_of) -> None:
    data = bytes_of(_jpeg(tmp_path / "a.jpg").read_bytes())
    assert read_header(data) is None


def test_sniffing_names_a_plain_jpeg_as_pillow_does_without_opening_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _jpeg(tmp_path / "plain.jpg")
    with_icc = tmp_path / "icc.jpg"
    Image.fromarray(_pixels((60, 60))).save(with_icc, "JPEG", icc_profile=b"\0" * 200)
    expected = {p: _pillow_format(p) for p in (plain, with_icc)}
    opened: list[Path] = []
    real_open = Image.open

    def counting_open(fp, *args, **kwargs):
        opened.append(Path(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    assert {p: detect(p).format for p in (plain, with_icc)} == expected
    assert opened == [with_icc]  # the ICC profile's segment: Pillow decides


@pytest.mark.parametrize(
    ("name", "size", "mode", "save"),
    [
        ("baseline", (150, 150), "RGB", {}),
        ("progressive", (151, 97), "RGB", {"progressive": True}),
        ("grey", (120, 200), "L", {}),
        ("4:4:4", (64, 64), "RGB", {"subsampling": 0}),
        ("with EXIF, upright", (80, 60), "RGB", {"exif": _exif(1)}),
    ],
)
def test_libjpeg_turbo_decodes_plain_jpegs_to_pillows_pixels(
    tmp_path: Path, name: str, size: tuple[int, int], mode: str, save: dict
) -> None:
    path = _jpeg(tmp_path / f"{name}.jpg", size, mode, **save)
    fast = decode._plain_jpeg(path, 256, decode.DEFAULT_MAX_PIXELS)
    assert fast is not None, "the fast path was not taken"
    want = _pillow_decode(path, 256)
    got = load_image(path, draft_size=256)
    assert got.mode == want.mode == "RGB" and got.size == want.size
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize(
    ("name", "size", "mode", "save", "draft"),
    [
        ("turned", (80, 60), "RGB", {"exif": _exif(6)}, None),
        ("cmyk", (50, 40), "CMYK", {}, None),
        ("large enough for draft mode", (600, 520), "RGB", {}, 256),
    ],
)
def test_other_jpegs_take_pillows_path(
    tmp_path: Path, name: str, size: tuple[int, int], mode: str, save: dict, draft: int | None
) -> None:
    path = _jpeg(tmp_path / f"{name}.jpg", size, mode, **save)
    assert decode._plain_jpeg(path, draft, decode.DEFAULT_MAX_PIXELS) is None
    want = _pillow_decode(path, draft)
    got = load_image(path, draft_size=draft)
    assert got.size == want.size
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_a_jpeg_cut_after_its_header_fails_with_pillows_reason(tmp_path: Path) -> None:
    whole = _jpeg(tmp_path / "whole.jpg", (300, 300)).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    assert read_header(cut.read_bytes()) is not None
    with pytest.raises(ImageDecodeError) as caught:
        load_image(cut)
    assert caught.value.path == cut and "truncated" in caught.value.reason


def test_the_pixel_limit_holds_on_the_fast_path(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "a.jpg", (100, 100))
    with pytest.raises(ImageDecodeError, match="image too large"):
        load_image(path, max_pixels=5_000)


def test_without_simplejpeg_pillow_decodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _jpeg(tmp_path / "a.jpg")
    monkeypatch.setattr(decode, "_simplejpeg", lambda: None)
    assert decode._plain_jpeg(path, None, decode.DEFAULT_MAX_PIXELS) is None
    np.testing.assert_array_equal(
        np.asarray(load_image(path)), np.asarray(_pillow_decode(path, None))
    )


XMP_TURNED = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
    b'tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
)


def test_an_orientation_in_xmp_takes_pillows_path_which_turns_the_photo(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "xmp.jpg", (80, 60), xmp=XMP_TURNED)
    assert read_header(path.read_bytes()) is None
    assert load_image(path).size == _pillow_decode(path, None).size == (60, 80)


def test_an_exif_resolution_pillow_cannot_read_leaves_the_file_to_pillow(tmp_path: Path) -> None:
    # XResolution as one ASCII character (Pillow's open fails on it), ResolutionUnit inches
    entries = struct.pack("<HHI2sxx", 0x011A, 2, 2, b"7\0") + struct.pack("<HHIHxx", 0x128, 3, 1, 2)
    exif = b"Exif\0\0II*\0" + struct.pack("<IH", 8, 2) + entries + struct.pack("<I", 0)
    path = tmp_path / "odd.jpg"
    Image.fromarray(_pixels((40, 30))).save(path, "JPEG", exif=exif)
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(path)
    assert read_header(path.read_bytes()) is None
    fine = _jpeg(tmp_path / "fine.jpg", (40, 30), exif=_exif(1))  # a rational: read as before
    assert read_header(fine.read_bytes()) is not None


def test_a_fifo_named_jpg_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    raised: list[BaseException] = []

    def read() -> None:
        try:
            load_image(fifo)
        except ImageDecodeError as exc:
            raised.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "load_image blocked on a FIFO"
    assert len(raised) == 1 and raised[0].reason == "not a file"


def test_the_fast_path_is_off_where_simplejpeg_decodes_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _jpeg(tmp_path / "a.jpg")
    decode._simplejpeg.cache_clear()
    monkeypatch.setattr(decode, "_decodes_as_pillow", lambda module: False)
    try:
        assert decode._plain_jpeg(path, None, decode.DEFAULT_MAX_PIXELS) is None
    finally:
        monkeypatch.undo()
        decode._simplejpeg.cache_clear()
    assert decode._simplejpeg() is not None  # this machine's simplejpeg passes the check
