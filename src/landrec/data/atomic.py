"""Files written whole or not at all: a temp file of a unique name beside the target, then
os.replace, so a crash or a full disk leaves the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write` with a new temp path in `path`'s folder, then rename the temp to `path`; the
    temp is removed when `write` fails."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """`text` into `path` as it is: its line ends are not translated (csv writes its own)."""
    write_atomic(path, lambda tmp: tmp.write_text(text, newline=""))
