"""Uploads: the multipart body streamed to a hidden temp file in the storage while its bytes are
counted (413 past the limit), the content checked (415 unless an image or a video), then linked
under its sanitised name, never over another file, so the watcher sees only whole files."""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import ClientDisconnect

from landrec.api import MediaKind, detect
from landrec.archive.db import auth_writes, queries
from landrec.archive.db.models import Action, Status
from landrec.archive.domain import UPLOAD_TEMP_PREFIX, StoragePath, inside_storage
from landrec.archive.web.deps import EditorDep
from landrec.archive.web.errors import invalid, responses
from landrec.archive.web.names import invisible_character, nfc, windows_problem
from landrec.archive.web.routes_files import item
from landrec.archive.web.schemas import FileItem, UploadAccepted

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

OVERHEAD = 64 * 1024  # room for multipart boundaries, part headers and the folder field
MAX_FIELD = 1024  # bytes of the `folder` field
MAX_NAME_BYTES = 200  # of a stored file name, UTF-8 (file systems allow 255)
PATH_MAX = 4096  # bytes of a whole path (Linux)
MAX_SUFFIX = 10_000  # name-1.jpg ... name-9999.jpg, then 409
TEMP_PREFIX = UPLOAD_TEMP_PREFIX  # a dot-file: the scanner and the watcher skip it
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CALLBACKS = [  # the parser's, all but on_end
    "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value",
    "on_header_end", "on_headers_finished",
]  # fmt: skip
ABSOLUTE = re.compile(r"^([\\/]|[A-Za-z]:)")  # POSIX root, Windows root or drive
MEDIA = (MediaKind.IMAGE, MediaKind.VIDEO)  # what an upload may be
BODY = {  # the OpenAPI of the body `upload` parses itself, as it streams in
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The image or video (one); its file name is sanitised",
                    },
                    "folder": {
                        "type": "string",
                        "maxLength": MAX_FIELD // 4,  # characters: MAX_FIELD bytes of UTF-8
                        "description": "A relative folder of the storage, made if missing",
                    },
                },
            }
        }
    },
}


CLOSE = {"Connection": "close"}  # refused before the body's end: read no more of it
RETRY_AFTER_S = 5  # all upload slots taken: the client tries again after this


class UploadSlots:
    """At most `size` uploads received and indexed at once; one more gets 503 at once.
    Taken and given back on the event loop only (the route is async): no lock."""

    def __init__(self, size: int) -> None:
        self.size, self.busy = size, 0

    @contextmanager
    def take(self) -> Iterator[None]:
        if self.busy >= self.size:
            headers = {"Retry-After": str(RETRY_AFTER_S), **CLOSE}
            raise HTTPException(503, f"busy: {self.size} uploads in progress, retry", headers)
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1


async def upload_slot(request: Request) -> AsyncIterator[None]:
    """A dependency: one of the app's upload slots for the request's duration."""
    slots: UploadSlots = request.app.state.upload_slots
    with slots.take():
        yield


class UploadError(Exception):
    """A refused upload: an HTTP status and the reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def target_folder(root: Path, folder: str | None, create: bool = True) -> Path:
    """The resolved folder under `root` that `folder` names, made if missing (`create` False:
    `root` if missing); 400 if it leads outside `root` (`..`, absolute, a symlink out) or into
    a hidden folder, or for a name that disguises itself or Windows cannot hold (`names.py`)."""
    folder = nfc(folder or "")
    parts = [p for p in re.split(r"[\\/]", folder) if p not in ("", ".")]
    if problem := invisible_character(folder):
        raise UploadError(400, f"invalid folder {folder!r}: {problem}")
    bad = ABSOLUTE.match(folder) or CONTROL.search(folder)
    if bad or any(p.startswith(".") for p in parts):  # "..", and hidden folders are not indexed
        raise UploadError(400, f"invalid folder {folder!r}: a relative folder of the storage")
    if problem := next(filter(None, map(windows_problem, parts)), None):
        raise UploadError(400, f"invalid folder {folder!r}: {problem}")
    if any(len(p.encode()) > MAX_NAME_BYTES for p in parts):  # the OS would refuse it (500)
        raise UploadError(400, f"invalid folder: a name is over {MAX_NAME_BYTES} bytes")
    stored = len(os.fsencode(root)) + len("/".join(parts).encode()) + MAX_NAME_BYTES + 8
    if stored >= PATH_MAX:  # the file's whole path, numbered (`-9999`): ENAMETOOLONG, a 500
        raise UploadError(400, f"invalid folder: the file's path would be over {PATH_MAX} bytes")
    path = root
    for part in parts:
        path = path / part
        if not path.exists() and not path.is_symlink():
            if not create:  # made once the upload is accepted, so a refused one leaves none
                return root
            path.mkdir(exist_ok=True)
        resolved = path.resolve()  # checked before each step down: nothing is made outside
        if not inside_storage(root, path) or not resolved.is_dir():
            raise UploadError(400, f"invalid folder {folder!r}: not a folder inside the storage")
        path = resolved
    return path


def safe_name(raw: str | None) -> str:
    """A file name to store: NFC, no folders or leading dots, length-limited; 400 for a name
    that tries to leave its folder, disguises itself or Windows cannot hold (`names.py`)."""
    raw = nfc(raw or "")
    parts = re.split(r"[\\/]", raw)
    if ABSOLUTE.match(raw) or ".." in parts:
        raise UploadError(400, f"invalid file name {raw!r}: give folders in the field 'folder'")
    name = parts[-1].lstrip(". ")  # a hidden name would never be indexed
    if problem := invisible_character(name) or (name and windows_problem(name)):
        raise UploadError(400, f"invalid file name {raw!r}: {problem}")
    stem, ext = os.path.splitext(name or "upload")
    if len(ext.encode()) > 16:
        stem, ext = stem + ext, ""
    while len((stem + ext).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    if not ext:  # cut short: no trailing dot or space either
        stem = stem.rstrip(". ")
    return (stem or "upload") + ext


def place(temp: Path, folder: Path, name: str) -> Path:
    """Give `temp` its final name in `folder`, numbered (`name-1.jpg`) when taken: a hard
    link fails rather than replace an existing file, and appears whole."""
    stem, ext = os.path.splitext(name)
    for n in range(MAX_SUFFIX):
        final = folder / (name if n == 0 else f"{stem}-{n}{ext}")
        try:
            os.link(temp, final)
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system: check, then rename atomically
            if final.exists() or final.is_symlink():
                continue
            os.replace(temp, final)
            return final
        temp.unlink()
        return final
    raise UploadError(409, f"too many files named like {name!r} in this folder")


class Receiver:
    """The multipart parser's callbacks: `folder` kept, `file` written to a temp file as it
    arrives (in the folder when `folder` came first, else in the storage root)."""

    def __init__(self, root: Path, limit: int) -> None:
        self.root, self.limit = root, limit
        self.folder: str | None = None
        self.filename: str | None = None
        self.temp: Path | None = None
        self.size = 0
        self.out: BinaryIO | None = None
        self.part: str | None = None  # "file", "folder", or None: ignored
        self.headers: dict[bytes, bytes] = {}
        self.field, self.value, self.data = b"", b"", bytearray()

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {name: getattr(self, name) for name in CALLBACKS}

    def on_part_begin(self) -> None:
        self.headers, self.part, self.data = {}, None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field = self.bounded(self.field + data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value = self.bounded(self.value + data[start:end])

    @staticmethod
    def bounded(header: bytes) -> bytes:
        if len(header) > MAX_FIELD * 8:
            raise UploadError(400, "malformed upload: a part's header is too long")
        return header

    def on_header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field, self.value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self.part = name if name in ("file", "folder") else None
        if self.part == "folder" and self.folder is not None:
            raise UploadError(400, "one folder per upload")
        if self.part != "file":
            return
        if self.temp is not None:
            raise UploadError(400, "one file per upload")
        self.filename = options.get(b"filename", b"").decode("utf-8", "replace")
        folder = target_folder(self.root, self.folder, create=False)
        self.temp = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        self.out = os.fdopen(fd, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part == "file" and self.out is not None:
            self.size += end - start
            if self.size > self.limit:
                raise UploadError(413, f"file too large: the limit is {self.limit} bytes")
            self.out.write(data[start:end])
        elif self.part == "folder":
            self.data += data[start:end]
            if len(self.data) > MAX_FIELD:
                raise UploadError(400, f"folder too long: {MAX_FIELD} bytes at most")

    def on_part_end(self) -> None:
        if self.part == "folder":
            self.folder = self.data.decode("utf-8", "replace")
        elif self.out is not None:
            self.out.close()

    def discard(self) -> None:
        """Remove the temp file (a refused or broken upload)."""
        if self.out is not None:
            self.out.close()
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)
            self.temp = None


async def receive(request: Request, receiver: Receiver, boundary: bytes, limit: int) -> None:
    """Feed the body to the parser chunk by chunk (file writes off the event loop)."""
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise UploadError(413, f"upload too large: the limit is {receiver.limit} bytes")
        await to_thread.run_sync(parser.write, chunk)
    parser.finalize()


def store(receiver: Receiver) -> StoragePath:
    """Check the received file and give it its final name; its place in the storage."""
    if receiver.temp is None or receiver.out is None or not receiver.out.closed:
        raise UploadError(422, "no file: send it in the multipart field 'file'")
    target_folder(receiver.root, receiver.folder, create=False)  # 400 before 415
    name = safe_name(receiver.filename)
    found = detect(receiver.temp)
    if found.kind not in MEDIA:
        raise UploadError(415, f"not an image or a video: {found.what}")
    final = place(receiver.temp, target_folder(receiver.root, receiver.folder), name)
    receiver.temp = None
    return StoragePath.of(receiver.root, final)


def stored_row(sessions: sessionmaker[Session], path: StoragePath) -> FileItem | None:
    with sessions() as session:
        row = queries.get_by_path(session, path)
        return None if row is None else item(row)


@router.post(
    "/upload",
    status_code=201,
    responses={
        202: {"model": UploadAccepted, "description": "Stored, not indexed yet"},
        **responses(409, 413, 415, 422),
    },
    openapi_extra={"requestBody": BODY},
    dependencies=[Depends(upload_slot)],
)
async def upload(request: Request, response: Response, who: EditorDep) -> FileItem | UploadAccepted:
    """Store one image or video (multipart field `file`, optional `folder`) in the storage;
    indexed at once when the service can (201 with the file), else by the watcher (202)."""
    state: Any = request.app.state
    root, limit = state.settings.storage.resolve(), state.settings.max_upload_bytes
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise HTTPException(400, "send the file as multipart/form-data, field 'file'")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + OVERHEAD:
        raise HTTPException(413, f"upload too large: the limit is {limit} bytes", CLOSE)
    receiver = Receiver(root, limit)
    try:
        await receive(request, receiver, params[b"boundary"], limit + OVERHEAD)
        path = await to_thread.run_sync(store, receiver)
    except UploadError as exc:
        if exc.status == 422:
            raise invalid("body", "file", exc.detail) from None
        raise HTTPException(exc.status, exc.detail, CLOSE) from None
    except (FormParserError, ClientDisconnect) as exc:
        raise HTTPException(400, f"malformed upload: {exc}") from None
    finally:
        await to_thread.run_sync(receiver.discard)
    await to_thread.run_sync(audit_upload, state.sessions, who.name, path)
    return await indexed(state, response, path)


def audit_upload(sessions: sessionmaker[Session], actor: str, path: StoragePath) -> None:
    with sessions() as session:
        auth_writes.audit(session, actor, Action.UPLOAD, path.posix)


async def indexed(state: Any, response: Response, path: StoragePath) -> FileItem | UploadAccepted:
    """The stored file's row once `state.index` has indexed it; 202 when it has not."""
    if state.index is not None:
        try:
            await to_thread.run_sync(state.index, [path])
            row = await to_thread.run_sync(stored_row, state.sessions, path)
            if row is not None and row.status != Status.PENDING:  # else a worker indexes it
                return row
        except Exception:  # the file is stored: the watcher retries; the client learns 202
            log.exception("indexing the upload %s", path)
    response.status_code = 202
    return UploadAccepted(path=path.posix)
