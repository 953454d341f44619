"""`landrec archive` on the command line: scan --json, clear errors, retag, export."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conftest import write_image
from landrec.archive.db import writes
from landrec.archive.db.models import File
from landrec.archive.db.session import open_database
from landrec.cli.main import main


def test_scan_json_then_retag_and_export(tmp_path: Path, red_blue_checkpoint: Path, capsys):
    storage = tmp_path / "storage"
    for i in range(3):
        write_image(storage / f"{i}.jpg", (200, 30, 30), seed=i)
    (storage / "notes.txt").write_text("field notes\n")
    args = ["archive", "scan", "--storage", str(storage), "--model", str(red_blue_checkpoint)]
    assert main([*args, "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    # the previews after the tagging: three small JPEGs, browser-ready as they are
    assert counts == {"seen": 4, "indexed": 3, "unsupported": 1, "previews": {"original": 3}}
    db = f"sqlite:///{tmp_path / '.landrec-archive-storage' / 'archive.sqlite3'}"
    assert (
        main(["archive", "retag", "--db", db, "--model", str(red_blue_checkpoint), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["retagged"] == 3
    out = tmp_path / "export"
    assert main(["archive", "export-corrections", "--db", db, "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == 0  # nothing corrected yet


def test_clear_errors(tmp_path: Path, red_blue_checkpoint: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/mobilenet_v2 here
    (tmp_path / "storage").mkdir()
    assert main(["archive", "scan", "--storage", "storage"]) == 2
    err = capsys.readouterr().err
    assert "runs/mobilenet_v2: no trained model" in err and "landrec train" in err
    model = str(red_blue_checkpoint)
    assert main(["archive", "scan", "--storage", "absent", "--model", model]) == 2
    assert "absent: the storage folder does not exist" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    db = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    assert main(["archive", "scan", "--storage", "storage", "--db", db, "--model", model]) == 0
    capsys.readouterr()
    assert main(["archive", "scan", "--storage", "other", "--db", db, "--model", model]) == 2
    assert "this database indexes" in capsys.readouterr().err
    assert (
        main(["archive", "retag", "--db", f"sqlite:///{tmp_path / 'new.db'}", "--model", model])
        == 2
    )
    assert "not an archive database" in capsys.readouterr().err


def test_serve_takes_the_upload_limits(tmp_path: Path, monkeypatch) -> None:
    from landrec.archive import commands, service

    served: list[Any] = []
    monkeypatch.setattr(commands, "open_indexer", lambda settings: SimpleNamespace(sessions=None))
    monkeypatch.setattr(service, "serve", lambda settings, *_: served.append(settings))
    (tmp_path / "storage").mkdir()
    (tmp_path / "model.onnx").write_bytes(b"")  # not loaded: the indexer is a stand-in
    args = ["archive", "serve", "--storage", str(tmp_path / "storage"), "--port", "8765"]
    args += ["--model", str(tmp_path / "model.onnx")]
    assert main([*args, "--max-upload-bytes", "1000", "--max-parallel-uploads", "2"]) == 0
    assert main(args) == 0
    limits = [(s.max_upload_bytes, s.max_parallel_uploads) for s in served]
    assert limits == [(1000, 2), (2 * 1024**3, 4)]
    with pytest.raises(SystemExit, match="2"):
        main([*args, "--max-upload-bytes", "0"])


def test_retag_and_export_never_read_a_link_out_of_the_storage(
    tmp_path: Path, red_blue_checkpoint: Path, capsys
) -> None:
    """An indexed, corrected photo replaced by a link to a file outside the storage: retag
    counts it failed and export-corrections leaves it out; neither reads the outside file."""
    storage, outside = tmp_path / "storage", tmp_path / "secret.jpg"
    for i in range(2):
        write_image(storage / f"{i}.jpg", (200, 30, 30), seed=i)
    write_image(outside, (30, 30, 200), seed=9)
    scan = ["archive", "scan", "--storage", str(storage), "--model", str(red_blue_checkpoint)]
    assert main(scan) == 0
    db = f"sqlite:///{tmp_path / '.landrec-archive-storage' / 'archive.sqlite3'}"
    labels = {}  # each file's correction: not its model's label (that clears a correction)
    with open_database(db)() as session:
        for file_id in (1, 2):
            row = session.get(File, file_id)
            labels[file_id] = "red" if row is not None and row.model_context == "blue" else "blue"
            writes.correct_context(session, file_id, labels[file_id])
    (storage / "0.jpg").unlink()
    (storage / "0.jpg").symlink_to(outside)
    capsys.readouterr()
    assert (
        main(["archive", "retag", "--db", db, "--model", str(red_blue_checkpoint), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out) | {"model_version": None} == {
        "model_version": None,
        "retagged": 1,
        "failed": 1,
    }
    out = tmp_path / "export"
    assert main(["archive", "export-corrections", "--db", db, "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == 1
    exported = [p.resolve() for p in (out / "train" / labels[2]).iterdir()]
    assert exported == [(storage / "1.jpg").resolve()]
