"""The archive's content hash is landrec's one `sha256_file`: the same digest as hashlib, for
files larger and smaller than its 1 MiB chunk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from landrec.api import sha256_file

CHUNK_BYTES = 1 << 20


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES, 2 * CHUNK_BYTES + 7])
def test_digest_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_missing_file_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        sha256_file(tmp_path / "gone")
