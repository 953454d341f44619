"""`landrec archive ...` given what a user can get wrong: one line `landrec: error: ...`, exit
code 2, no traceback, nothing created and nothing lost."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import write_image
from landrec.cli.main import main

from .test_crash import free_port


def fails(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> str:
    """Run `landrec argv`: exit code 2 and one error line, the last, holding every needle
    (`serve` may print a note before it)."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    errors = [line for line in lines if line.startswith("landrec: error: ")]
    assert errors == lines[-1:], captured.err
    assert "Traceback" not in captured.err + captured.out
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    return lines[-1]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    root = tmp_path / "storage"
    write_image(root / "a.jpg", (200, 30, 30), seed=0)
    return root


# --- 9. database URLs and paths that cannot be opened ---------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("notaurl", "not a database URL"),
        ("foo://", "no database driver"),
        ("mysql://x/db", "no database driver"),
    ],
)
@pytest.mark.parametrize("command", ["scan", "retag", "export-corrections"])
def test_bad_database_url_is_one_line(
    command: str, url: str, reason: str, tmp_path: Path, storage: Path, red_blue_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    model = ["--model", str(red_blue_checkpoint)]
    argv = {
        "scan": ["archive", "scan", "--storage", str(storage), "--db", url, *model],
        "retag": ["archive", "retag", "--db", url, *model],
        "export-corrections": ["archive", "export-corrections", "--db", url, "--out", "x"],
    }[command]
    before = listing(tmp_path)
    fails(capsys, argv, url, reason)
    assert listing(tmp_path) == before


@pytest.mark.parametrize("command", ["scan", "retag", "serve"])
def test_postgresql_on_a_closed_port_is_one_line_at_once(
    command: str, tmp_path: Path, storage: Path, red_blue_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    model = ["--model", str(red_blue_checkpoint)]
    storage_options = ["--storage", str(storage), "--db", url, *model]
    argv = {
        "scan": ["archive", "scan", *storage_options],
        "retag": ["archive", "retag", "--db", url, *model],
        "serve": ["archive", "serve", *storage_options, "--port", str(free_port())],
    }[command]
    start = time.monotonic()
    fails(capsys, argv, url.split("@")[1], "cannot connect", "refused")
    assert time.monotonic() - start < 20


def test_sqlite_path_that_is_a_folder_or_not_a_database(
    tmp_path: Path, storage: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ["--model", str(red_blue_checkpoint)]
    folder = tmp_path / "a-folder"
    folder.mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("field notes\n" * 100)
    before = digest(text)
    for path, reason in [(folder, "a folder"), (text, "not a database")]:
        argv = ["archive", "scan", "--storage", str(storage), "--db", f"sqlite:///{path}", *model]
        fails(capsys, argv, str(path), reason)
    assert digest(text) == before
    assert listing(folder) == []


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """`chattr +i`: read-only even for root (skips the test where the file system refuses)."""
    done = []
    try:
        for path in paths:
            run = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
            if run.returncode != 0:
                pytest.skip(f"chattr +i not permitted here: {run.stderr.decode().strip()}")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_sqlite_database_is_one_line(
    tmp_path: Path, storage: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ["--model", str(red_blue_checkpoint)]
    folder = tmp_path / "db"
    folder.mkdir()
    db = folder / "archive.sqlite3"
    sqlite3.connect(db).close()  # an empty database: it would need its tables made
    before = digest(db)
    if os.geteuid() != 0:
        db.chmod(0o444)
        folder.chmod(0o555)
        guard: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    else:  # root writes through permissions: an immutable file and folder stop it too
        guard = immutable(db, folder)
    try:
        with guard:
            argv = ["archive", "scan", "--storage", str(storage), "--db", f"sqlite:///{db}"]
            fails(capsys, [*argv, *model], str(db), "read-only")
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
    assert digest(db) == before
    assert listing(folder) == ["archive.sqlite3"]


def test_state_folder_that_cannot_be_made_is_one_line(
    tmp_path: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = tmp_path / "file"
    parent.write_text("a regular file\n")
    storage = parent.parent / "storage"
    write_image(storage / "a.jpg", (200, 30, 30), seed=0)
    state = parent.parent / ".landrec-archive-storage"
    state.write_text("a file where the state folder would go\n")
    argv = ["archive", "scan", "--storage", str(storage), "--model", str(red_blue_checkpoint)]
    fails(capsys, argv, str(state), "cannot make the state folder")
    db = parent / "archive.sqlite3"
    argv = [*argv, "--db", f"sqlite:///{db}"]
    state.unlink()
    fails(capsys, argv, str(db), "cannot make its folder")
    assert parent.read_text() == "a regular file\n"


# --- 11. retag / export-corrections open an existing archive, never make one ----------------


def not_archives(tmp_path: Path) -> list[Path]:
    """A text file, an empty SQLite database and another program's SQLite database."""
    text = tmp_path / "notes.txt"
    text.write_text("field notes\n" * 100)
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    other = tmp_path / "other.sqlite3"
    with contextlib.closing(sqlite3.connect(other)) as connection:
        connection.execute("CREATE TABLE birds (name TEXT)")
        connection.execute("INSERT INTO birds VALUES ('wren')")
        connection.commit()
    return [text, empty, other]


@pytest.mark.parametrize("command", ["retag", "export-corrections"])
def test_a_file_that_is_not_an_archive_is_left_as_it_was(
    command: str, tmp_path: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    for path in not_archives(files):
        before, names = digest(path), listing(files)
        url = f"sqlite:///{path}"
        argv = {
            "retag": ["archive", "retag", "--db", url, "--model", str(red_blue_checkpoint)],
            "export-corrections": [
                "archive", "export-corrections", "--db", url, "--out", str(tmp_path / "out"),
            ],
        }[command]  # fmt: skip
        fails(capsys, argv, str(path), "not an archive database")
        assert digest(path) == before, path
        assert listing(files) == names
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["retag", "export-corrections"])
def test_a_mistyped_database_path_makes_no_file(
    command: str, tmp_path: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "archve.sqlite3"
    url = f"sqlite:///{typo}"
    argv = {
        "retag": ["archive", "retag", "--db", url, "--model", str(red_blue_checkpoint)],
        "export-corrections": ["archive", "export-corrections", "--db", url, "--out", "out"],
    }[command]
    fails(capsys, argv, str(typo), "no such file")
    assert listing(tmp_path) == []


# --- 12. serve: the port checked first -----------------------------------------------------


@pytest.mark.parametrize("port", ["70000", "0", "-1", "http"])
def test_serve_port_out_of_range_is_a_usage_error(
    port: str, storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["archive", "serve", "--storage", str(storage), "--port", port])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--port" in err and "65535" in err and port in err
    assert "Traceback" not in err


def test_serve_on_a_port_in_use_indexes_nothing(
    tmp_path: Path, storage: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = ["archive", "serve", "--storage", str(storage), "--port", str(port)]
        fails(capsys, [*argv, "--model", str(red_blue_checkpoint)], f"port {port} is in use")
    assert listing(tmp_path) == ["storage", "storage/a.jpg"]  # no state folder, no database


# --- 10. a storage that cannot be read: an error, and no row marked missing ----------------


def statuses(tmp_path: Path) -> dict[str, str]:
    db = tmp_path / ".landrec-archive-storage" / "archive.sqlite3"
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return dict(connection.execute("SELECT path, status FROM files").fetchall())


def scanned(tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    storage = tmp_path / "storage"
    write_image(storage / "a.jpg", (200, 30, 30), seed=0)
    write_image(storage / "sub" / "b.jpg", (30, 30, 200), seed=1)
    argv = ["archive", "scan", "--storage", str(storage), "--model", str(checkpoint)]
    assert main(argv) == 0
    capsys.readouterr()
    assert statuses(tmp_path) == {"a.jpg": "indexed", "sub/b.jpg": "indexed"}
    return argv


def failing_scandir(monkeypatch: pytest.MonkeyPatch, unreadable: Path) -> None:
    """`os.scandir` of `unreadable` fails as on a folder without read permission (which root,
    who runs these tests, reads anyway)."""
    real = os.scandir

    def scandir(path: str | Path) -> object:
        if Path(path) == unreadable:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr("landrec.archive.scanner.os.scandir", scandir)


@pytest.mark.parametrize("how", ["removed", "a file now"])
def test_storage_root_gone_is_an_error_and_rows_stay(
    how: str, tmp_path: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from landrec.archive.db.session import open_database
    from landrec.archive.scanner import register_storage
    from landrec.archive.settings import ArchiveError

    scanned(tmp_path, red_blue_checkpoint, capsys)
    root = tmp_path / "storage"
    for path in sorted(root.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    root.rmdir()
    if how == "a file now":
        root.write_text("not a folder\n")
    url = f"sqlite:///{tmp_path / '.landrec-archive-storage' / 'archive.sqlite3'}"
    sessions = open_database(url)
    with pytest.raises(ArchiveError, match="storage"):  # a rescan of the running service
        register_storage(sessions, root)
    sessions.kw["bind"].dispose()
    assert statuses(tmp_path) == {"a.jpg": "indexed", "sub/b.jpg": "indexed"}


def test_storage_root_unreadable_is_exit_2_and_rows_stay(
    tmp_path: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    argv = scanned(tmp_path, red_blue_checkpoint, capsys)
    failing_scandir(monkeypatch, tmp_path / "storage")
    fails(capsys, argv, str(tmp_path / "storage"), "cannot read")
    assert statuses(tmp_path) == {"a.jpg": "indexed", "sub/b.jpg": "indexed"}


def test_unreadable_subfolder_keeps_its_rows_with_a_warning(
    tmp_path: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    argv = scanned(tmp_path, red_blue_checkpoint, capsys)
    (tmp_path / "storage" / "a.jpg").unlink()  # really gone: still marked missing
    failing_scandir(monkeypatch, tmp_path / "storage" / "sub")
    assert main(argv) == 0
    assert statuses(tmp_path) == {"a.jpg": "missing", "sub/b.jpg": "indexed"}
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(str(tmp_path / "storage" / "sub") in m and "cannot read" in m for m in warned)


# --- 13. the database is never inside the storage it indexes --------------------------------


@pytest.mark.parametrize("where", ["archive.sqlite3", "sub/archive.sqlite3", "link/archive.db"])
def test_sqlite_database_inside_the_storage_is_refused(
    where: str, tmp_path: Path, storage: Path, red_blue_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    (storage / "sub").mkdir()
    (tmp_path / "link").symlink_to(storage)  # the same folder under another name
    db = tmp_path / where if where.startswith("link") else storage / where
    argv = ["archive", "scan", "--storage", str(storage), "--db", f"sqlite:///{db}"]
    before = listing(tmp_path)
    fails(capsys, [*argv, "--model", str(red_blue_checkpoint)], str(db), "inside the storage")
    assert listing(tmp_path) == before
