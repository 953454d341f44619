"""Telling images, videos and other files apart by content (`landrec.data.sniff`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from landrec.data.formats import NOT_FOUND, MediaKind
from landrec.data.sniff import detect, detect_all

PIXELS = np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8)
# Formats Pillow writes (and reads) that landrec's old extension list left out.
PILLOW_FORMATS = ["TGA", "PCX", "ICO", "SGI", "PPM", "JPEG", "PNG", "WEBP", "TIFF", "BMP"]
if features.check("jpg_2000"):
    PILLOW_FORMATS.append("JPEG2000")


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt", PILLOW_FORMATS)
def test_images_are_found_by_content_without_an_extension(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "no_extension"
    Image.fromarray(PIXELS).save(path, format=fmt)
    found = detect(path)
    assert (found.kind, found.what, found.error) == (MediaKind.IMAGE, f"{fmt} image", None)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF document"),
        ("plain notes\nsecond line\n", "text"),
        ("<!DOCTYPE html><html><body>hi</body></html>", "HTML document"),
        ('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG vector image"),
        (b"PK\x03\x04\x14\x00\x00\x00", "ZIP archive"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "WAV audio"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "MPEG-4 audio"),
        (bytes(range(256)) * 4, "unknown"),
    ],
)
def test_other_files_say_what_they_look_like(tmp_path: Path, data: bytes | str, what: str) -> None:
    found = detect(write(tmp_path / "photo.jpg", data))  # the extension does not decide
    assert (found.kind, found.what) == (MediaKind.UNSUPPORTED, what)
    assert found.error == f"unsupported format ({what})"


def test_long_utf8_text_cut_mid_character_is_still_text(tmp_path: Path) -> None:
    for text in ("é" * 2000, "a" + "é" * 2000):  # the first 1024 bytes end after or inside é
        assert detect(write(tmp_path / "notes", text)).what == "text"
    assert detect(write(tmp_path / "latin1", "é".encode("latin-1") * 2000)).what == "unknown"


def test_damaged_and_empty_files(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jpg"
    Image.fromarray(PIXELS).save(whole)
    truncated = detect(write(tmp_path / "cut", whole.read_bytes()[:200]))
    assert truncated.kind is MediaKind.IMAGE and truncated.what == "JPEG image (damaged header)"
    empty = detect(write(tmp_path / "empty.png", b""))
    assert (empty.kind, empty.error) == (MediaKind.UNREADABLE, "empty file (0 bytes)")
    missing = detect(tmp_path / "nowhere.jpg")
    assert (missing.kind, missing.error) == (MediaKind.MISSING, NOT_FOUND)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    found = detect(fifo)  # opening it for reading would block forever
    assert (found.kind, found.error) == (MediaKind.UNREADABLE, "not a regular file")


def write_clip(path: Path, fmt: str, codec: str) -> Path:
    av = pytest.importorskip("av")
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize(
    ("fmt", "codec", "what"),
    [
        ("mp4", "libx264", "MP4/QuickTime video"),
        ("mov", "mpeg4", "MP4/QuickTime video"),
        ("matroska", "libx264", "Matroska/WebM video"),
        ("avi", "mpeg4", "AVI video"),
        ("mpegts", "libx264", "MPEG transport stream video"),
        ("flv", "flv", "FLV video"),
    ],
)
def test_videos_are_found_by_content(tmp_path: Path, fmt: str, codec: str, what: str) -> None:
    found = detect(write_clip(tmp_path / "clip", fmt, codec))
    assert (found.kind, found.what, found.error) == (MediaKind.VIDEO, what, None)


def test_folders_give_every_visible_file_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    Image.fromarray(PIXELS).save(write(folder / "b" / "photo", b""), format="JPEG")
    write(folder / "a.txt", "notes")
    write(folder / ".hidden.jpg", "x")
    write(folder / ".cache" / "c.jpg", "x")
    named_hidden = write(tmp_path / ".named", "x")
    found = detect_all([tmp_path / "gone.png", folder, named_hidden])
    assert [(d.path.relative_to(tmp_path).as_posix(), d.kind) for d in found] == [
        ("gone.png", MediaKind.MISSING),
        ("in/a.txt", MediaKind.UNSUPPORTED),
        ("in/b/photo", MediaKind.IMAGE),
        (".named", MediaKind.UNSUPPORTED),  # named files are always looked at
    ]
