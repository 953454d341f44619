"""`landrec archive token|user` and the binding rule of `serve`, through the CLI's main."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import write_image
from landrec.archive.accounts import check_binding
from landrec.archive.db.models import Audit, Token, User
from landrec.archive.db.session import open_database
from landrec.archive.settings import make_settings
from landrec.archive.web import create_app
from landrec.cli.main import main

from .test_crash import free_port


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archive.sqlite3'}"


def client_of(tmp_path: Path, db: str) -> TestClient:
    (tmp_path / "storage").mkdir(exist_ok=True)
    settings = make_settings(
        tmp_path / "storage", db, state_dir=tmp_path / "state", allowed_hosts=("testserver",)
    )
    return TestClient(create_app(settings, open_database(db)))


def test_token_create_prints_only_the_token_which_works_until_revoked(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["archive", "token", "create", "--db", db, "--name", "nightly", "--role", "viewer"])
        == 0
    )
    out = capsys.readouterr().out
    token = out.removesuffix("\n")
    assert out == token + "\n" and token.startswith("lra_") and len(token) > 40
    sessions = open_database(db)
    with sessions() as session:
        row = session.scalars(select(Token)).one()
    assert (row.name, row.role, row.last_used) == ("nightly", "viewer", None)
    assert token not in row.token_hash  # only its SHA-256 is kept
    with client_of(tmp_path, db) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/files").status_code == 401
        assert client.get("/api/files", headers=auth).status_code == 200
        assert (
            client.put("/api/files/1/context", json={"context": "x"}, headers=auth).status_code
            == 403
        )
        with sessions() as session:
            assert session.scalars(select(Token.last_used)).one() is not None
        assert main(["archive", "token", "revoke", "--db", db, "--name", "nightly"]) == 0
        assert capsys.readouterr().out == ""
        assert client.get("/api/files", headers=auth).status_code == 401
    with sessions() as session:
        actions = session.execute(select(Audit.actor, Audit.action, Audit.target)).all()
    assert [tuple(a) for a in actions] == [
        ("cli", "token-create", "nightly"), ("cli", "token-revoke", "nightly"),
    ]  # fmt: skip


def test_token_errors_are_one_line_with_exit_2(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    create = ["archive", "token", "create", "--db", db, "--name", "a", "--role", "admin"]
    assert main(create) == 0
    capsys.readouterr()
    assert main(create) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "exists already" in captured.err
    assert main(["archive", "token", "revoke", "--db", db, "--id", "99"]) == 2
    assert "no token #99" in capsys.readouterr().err
    assert main([*create[:5], "--name", "bad name", "--role", "admin"]) == 2
    assert "invalid name" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([*create[:7], "--role", "root"])
    assert exit_.value.code == 2


def test_user_add_reads_the_password_from_stdin_and_hashes_it_with_argon2(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main(["archive", "user", "add", "ada", "--db", db, "--role", "editor"]) == 0
    assert capsys.readouterr().out == ""
    with open_database(db)() as session:
        user = session.scalars(select(User)).one()
    assert (user.name, user.role) == ("ada", "editor")
    assert user.password_hash.startswith("$argon2")
    with client_of(tmp_path, db) as client:
        wrong = client.post("/api/login", json={"name": "ada", "password": "a long passwore"})
        assert wrong.status_code == 401
        right = client.post("/api/login", json={"name": "ada", "password": "a long password"})
        assert right.status_code == 200 and right.json()["role"] == "editor"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["archive", "user", "add", "bob", "--db", db, "--role", "viewer"]) == 2
    assert "too short" in capsys.readouterr().err


def test_user_add_asks_twice_on_a_terminal(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["first password", "other password"])
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["archive", "user", "add", "ada", "--db", db, "--role", "admin"]) == 2
    assert "the two passwords differ" in capsys.readouterr().err


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def test_serve_refuses_a_public_host_without_a_credential_before_anything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = tmp_path / "storage"
    write_image(storage / "a.jpg", (200, 30, 30), seed=1)
    port = free_port()
    command = ["archive", "serve", "--storage", str(storage), "--host", "0.0.0.0"]
    assert main([*command, "--port", str(port), "--model", str(tmp_path / "no-model")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing to serve on 0.0.0.0" in err
    assert "landrec archive token create --db" in err and "landrec archive user add" in err
    assert not (tmp_path / ".landrec-archive-storage").exists()  # nothing made, nothing indexed
    assert port_is_free(port)
    # with a credential, the same host passes the rule; loopback passes it open
    state = tmp_path / ".landrec-archive-storage"
    db = f"sqlite:///{state / 'archive.sqlite3'}"
    assert check_binding("127.0.0.1", None, storage) is False
    assert main(["archive", "token", "create", "--db", db, "--name", "ops", "--role", "admin"]) == 0
    assert check_binding("0.0.0.0", None, storage) is True


def test_retag_from_the_cli_is_audited(
    tmp_path: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = tmp_path / "storage"
    write_image(storage / "a.jpg", (200, 30, 30), seed=1)
    model = str(red_blue_checkpoint)
    assert main(["archive", "scan", "--storage", str(storage), "--model", model]) == 0
    db = f"sqlite:///{tmp_path / '.landrec-archive-storage' / 'archive.sqlite3'}"
    assert main(["archive", "retag", "--db", db, "--model", model]) == 0
    with open_database(db)() as session:
        row = session.scalars(select(Audit)).one()
    assert (row.actor, row.action, row.detail) == ("cli", "retag", "1 retagged, 0 failed")
