"""The archive service's settings: one typed object, made once from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from landrec.api import UserError

GIB = 1024**3


class ArchiveError(UserError):
    """A user error of the archive (bad storage folder, database URL, model): one line."""


@dataclass(frozen=True)
class ArchiveSettings:
    storage: Path  # the watched folder (absolute, resolved)
    state_dir: Path  # database (SQLite default), thumbnails; beside the storage, never inside
    db_url: str
    model: str | None = None  # run folder, checkpoint or .onnx; None: no classification
    max_upload_bytes: int = 2 * GIB
    rescan_s: float = 60.0  # periodic full rescan (inotify misses network mounts, downtime)
    stable_s: float = 1.0  # a file's size and mtime must hold this long before it is read
    max_attempts: int = 3  # tries before a file that fails is marked `failed`
    batch_size: int = 32  # files classified per model call
    workers: int | None = None  # decoding threads (None: one per core, 4 at most)

    @property
    def thumbs_dir(self) -> Path:
        return self.state_dir / "thumbs"


def default_state_dir(storage: Path) -> Path:
    """`<parent>/.landrec-archive-<name>`: beside the storage folder, never inside it."""
    storage = storage.resolve()
    return storage.parent / f".landrec-archive-{storage.name}"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def make_settings(
    storage: str | Path,
    db_url: str | None = None,
    model: str | Path | None = None,
    state_dir: str | Path | None = None,
    **options: object,
) -> ArchiveSettings:
    """Settings with the defaults filled in; the storage folder must exist."""
    root = Path(storage).expanduser()
    if not root.is_dir():
        raise ArchiveError(f"{root}: the storage folder does not exist (or is not a folder)")
    root = root.resolve()
    state = Path(state_dir).resolve() if state_dir else default_state_dir(root)
    if state == root or root in state.parents:
        raise ArchiveError(f"{state}: the state folder must not be inside the storage {root}")
    state.mkdir(parents=True, exist_ok=True)
    url = db_url or sqlite_url(state / "archive.sqlite3")
    return ArchiveSettings(
        root,
        state,
        url,
        None if model is None else str(model),
        **options,  # type: ignore[arg-type]
    )
