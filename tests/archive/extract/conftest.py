"""Fixtures of the extractor tests: files written in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from .samples import WriteVideo, camera_exif, gradient, write_video


@pytest.fixture
def jpeg_with_exif(tmp_path: Path) -> Path:
    path = tmp_path / "camera.jpg"
    gradient(64, 48).save(path, exif=camera_exif())
    return path


@pytest.fixture
def make_video(tmp_path: Path) -> WriteVideo:
    """Factory: `make_video(name, **options of write_video)` -> the MP4's path."""
    return lambda name="clip.mp4", **options: write_video(tmp_path / name, **options)
