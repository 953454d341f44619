"""Bad files: each gives an ExtractError with a clear reason or a correct Metadata, never
another exception."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from landrec.api import MediaKind
from landrec.archive.extract import (
    ExtractError,
    image_metadata,
    make_thumbnail,
    video_metadata,
)

from .samples import WriteVideo, gradient, png_bytes

SHA = "ab" * 32


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    gradient(200, 120).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png_file_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((200, 120), 64).save(buffer, "PNG")  # noise: IDAT does not compress away
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.jpg", b"", "empty file"),
        ("text.jpg", b"hello, this is not a picture\n" * 3, "not a readable image"),
        ("bomb.png", png_bytes(100_000, 100_000, 8, 2), "too large (decompression bomb)"),
    ],
)
def test_unreadable_images(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ExtractError, match=re.escape(reason)) as caught:
        image_metadata(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(ExtractError, match=re.escape(reason)):
        make_thumbnail(path, MediaKind.IMAGE, SHA, tmp_path / "thumbs")


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_truncated_image_header_read_pixels_refused(tmp_path: Path, kind: str) -> None:
    data = jpeg_bytes() if kind == "jpeg" else png_file_bytes()
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(data[: len(data) // 2])
    fields = image_metadata(path).fields  # the header is intact: its metadata is right
    assert (fields["width"], fields["height"]) == (200, 120)
    with pytest.raises(ExtractError, match="truncated"):
        make_thumbnail(path, MediaKind.IMAGE, SHA, tmp_path / "thumbs")


def test_cut_inside_header(tmp_path: Path) -> None:
    path = tmp_path / "stub.jpg"
    path.write_bytes(jpeg_bytes()[:40])
    with pytest.raises(ExtractError):
        image_metadata(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="cannot read file"):
        image_metadata(tmp_path / "gone.jpg")
    with pytest.raises(ExtractError, match="cannot read file"):
        video_metadata(tmp_path / "gone.mp4")


def test_corrupt_mp4_after_valid_header(tmp_path: Path, make_video: WriteVideo) -> None:
    data = make_video(frames=30).read_bytes()
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(data[:64] + os.urandom(len(data) - 64))
    with pytest.raises(ExtractError, match="video"):
        video_metadata(path)
    with pytest.raises(ExtractError, match="video"):
        make_thumbnail(path, MediaKind.VIDEO, SHA, tmp_path / "thumbs")


def test_truncated_mp4(tmp_path: Path, make_video: WriteVideo) -> None:
    data = make_video(frames=30).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ExtractError):
        video_metadata(path)


@pytest.mark.parametrize(("name", "data"), [("empty.mp4", b""), ("text.mp4", b"not a video")])
def test_unreadable_videos(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ExtractError, match=r"empty file|not a readable video"):
        video_metadata(path)


def test_image_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "still.png"
    Image.new("RGB", (8, 8)).save(path)
    try:
        video_metadata(path)  # FFmpeg reads PNG as a one-frame video: fine when it does
    except ExtractError as error:
        assert str(error)
