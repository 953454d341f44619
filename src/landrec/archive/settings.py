"""The archive service's settings: one typed object, made once from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from landrec.api import UserError

GIB = 1024**3
URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER@HOST[:PORT]/NAME"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")  # the Host header values always served


class ArchiveError(UserError):
    """A user error of the archive (bad storage folder, database URL, model): one line."""


@dataclass(frozen=True)
class ArchiveSettings:
    storage: Path  # the watched folder (absolute, resolved)
    state_dir: Path  # database (SQLite default), thumbnails; beside the storage, never inside
    db_url: str
    model: str | None = None  # run folder, checkpoint or .onnx; None: no classification
    max_upload_bytes: int = 2 * GIB
    max_parallel_uploads: int = 4  # uploads received at once; one more gets 503 (Retry-After)
    rescan_s: float = 60.0  # periodic full rescan (inotify misses network mounts, downtime)
    stable_s: float = 1.0  # a file's size and mtime must hold this long before it is read
    max_attempts: int = 3  # tries before a file that fails is marked `failed`
    batch_size: int = 32  # files classified per model call
    workers: int | None = None  # decoding threads (None: one per core, 4 at most)
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS  # Host header names served, else 400 ("*.a.org")
    cors_origins: tuple[str, ...] = ()  # origins a browser may call the API from; none: no CORS
    proxy_headers: bool = False  # trust X-Forwarded-Proto/For (from forwarded_allow_ips only)
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1",)  # the reverse proxy's addresses

    @property
    def thumbs_dir(self) -> Path:
        return self.state_dir / "thumbs"

    @property
    def previews_dir(self) -> Path:
        """Browser-ready renditions (video proxies, display-size stills), by content hash."""
        return self.state_dir / "previews"


def default_state_dir(storage: Path) -> Path:
    """`<parent>/.landrec-archive-<name>`: beside the storage folder, never inside it."""
    storage = storage.resolve()
    return storage.parent / f".landrec-archive-{storage.name}"


def parse_db_url(url: str) -> URL:
    """The parsed database URL, its driver importable; an `ArchiveError` when not."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ArchiveError(f"{url}: not a database URL ({URL_FORMS})") from None
    try:
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as exc:
        shown = parsed.render_as_string(hide_password=True)
        raise ArchiveError(f"{shown}: no database driver for it ({exc}); {URL_FORMS}") from None
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (None: another backend, memory or a `file:` URI)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def default_db_url(state_dir: Path) -> str:
    """The SQLite database in the state folder (`default_state_dir` of the storage)."""
    return sqlite_url(state_dir / "archive.sqlite3")


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
    database = None if db_url is None else sqlite_file(parse_db_url(db_url))  # checked first
    if database is not None and _inside(database.resolve(), root):  # its files would be rows
        raise ArchiveError(f"{database}: the database must not be inside the storage {root}")
    state = Path(state_dir).resolve() if state_dir else default_state_dir(root)
    if _inside(state, root):
        raise ArchiveError(f"{state}: the state folder must not be inside the storage {root}")
    try:
        state.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"{state}: cannot make the state folder ({exc.strerror})") from None
    url = db_url or default_db_url(state)
    return ArchiveSettings(
        root,
        state,
        url,
        None if model is None else str(model),
        **options,  # type: ignore[arg-type]
    )
