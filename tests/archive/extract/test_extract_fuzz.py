"""Random bytes never raise anything but ExtractError."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landrec.api import MediaKind
from landrec.archive.extract import ExtractError, image_metadata, make_thumbnail, video_metadata

from .samples import camera_exif, gradient, write_video

HEADERS = [b"", b"\xff\xd8\xff\xe1", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"II*\x00", b"RIFF"]
VIDEO_HEADERS = [b"", b"\x00\x00\x00\x18ftypisom", b"\x1aE\xdf\xa3"]  # MP4, Matroska
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(extract: Callable[[Path], object], data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            extract(path)
        except ExtractError as error:
            assert str(error) and "\n" not in str(error)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns of corrupt EXIF, then goes on
@FUZZ
@given(st.sampled_from(HEADERS), st.binary(max_size=2048))
def test_random_bytes_image(header: bytes, body: bytes) -> None:
    _check(image_metadata, header + body, ".jpg")


@FUZZ
@given(
    st.sampled_from([b"", b"\x00\x00\x00\x18ftypisom", b"\x1aE\xdf\xa3"]), st.binary(max_size=2048)
)
def test_random_bytes_video(header: bytes, body: bytes) -> None:
    _check(video_metadata, header + body, ".mp4")


def _mutated(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buffer = bytearray(data)
    for position, value in edits:
        buffer[position % len(buffer)] = value
    return bytes(buffer)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=8)


@pytest.mark.filterwarnings("ignore::UserWarning")
@FUZZ
@given(EDITS)
def test_mutated_camera_jpeg(edits: list[tuple[int, int]]) -> None:
    buffer = io.BytesIO()
    gradient(32, 24).save(buffer, "JPEG", exif=camera_exif())
    data = _mutated(buffer.getvalue(), edits)
    _check(image_metadata, data, ".jpg")
    _check(
        lambda path: make_thumbnail(path, MediaKind.IMAGE, "cd" * 32, path.parent / "t"),
        data,
        ".jpg",
    )


@FUZZ
@given(EDITS)
def test_mutated_mp4(edits: list[tuple[int, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = write_video(Path(folder) / "v.mp4", frames=5, metadata={"location": "+1+2/"})
        original = data.read_bytes()
    _check(video_metadata, _mutated(original, edits), ".mp4")
