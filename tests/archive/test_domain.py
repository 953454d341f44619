"""StoragePath: made from an absolute path in one place, back with `absolute`, never outside
the storage; and `kind_of`, the row's kind of a detected file."""

from __future__ import annotations

from pathlib import Path

import pytest

from landrec.api import MediaKind
from landrec.archive.db.models import Kind
from landrec.archive.domain import StoragePath, kind_of


def test_of_and_absolute_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b c" / "photo.jpg"
    where = StoragePath.of(tmp_path, path)
    assert where == StoragePath("a/b c/photo.jpg") and str(where) == "a/b c/photo.jpg"
    assert where.name == "photo.jpg" and where.absolute(tmp_path) == path


@pytest.mark.parametrize("bad", ["", "/etc/passwd", "../x.jpg", "a/../../x", "a//b", "./a", "."])
def test_a_path_that_is_not_inside_the_storage_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a path inside the storage"):
        StoragePath(bad)


def test_of_refuses_a_path_outside_the_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        StoragePath.of(tmp_path / "storage", tmp_path / "elsewhere.jpg")
    with pytest.raises(ValueError):
        StoragePath.of(tmp_path, tmp_path)  # the root itself is no file of it


def test_kind_of_a_detected_file() -> None:
    assert kind_of(MediaKind.IMAGE) is Kind.IMAGE and kind_of(MediaKind.VIDEO) is Kind.VIDEO
    assert {kind_of(k) for k in (MediaKind.UNSUPPORTED, MediaKind.UNREADABLE)} == {Kind.OTHER}
