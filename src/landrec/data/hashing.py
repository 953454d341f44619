"""The one content hash of a file: checkpoints, weight files and the archive's files."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK_BYTES = 1 << 20  # 1 MiB: large enough to be fast, small enough to stream any file


def sha256_file(path: str | Path) -> str:
    """The hex SHA-256 of the file at `path`, read in 1 MiB chunks (OSError when unreadable)."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as stream:
        while count := stream.readinto(view):
            digest.update(view[:count])
    return digest.hexdigest()
