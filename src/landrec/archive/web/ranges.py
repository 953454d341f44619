"""HTTP Range requests (RFC 9110 §14) of one byte range: `bytes=a-b`, `bytes=a-`, `bytes=-n`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

CHUNK = 256 * 1024  # bytes read per step when streaming a file
SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(Exception):
    """A well-formed range that lies wholly beyond the end of the file: 416."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a single range, clipped to the file; None: send it
    whole (no header, a malformed one or several ranges, which a server may ignore)."""
    if not header:
        return None
    match = SINGLE.match(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last n bytes
        if not last:
            return None
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable
        return max(size - n, 0), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        raise Unsatisfiable
    return start, min(int(last) if last else size - 1, size - 1)


def read_span(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    """`length` bytes of an open file from `start`, in chunks; the file closed at the end."""
    with handle:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:  # the file shrank meanwhile
                return
            length -= len(chunk)
            yield chunk
