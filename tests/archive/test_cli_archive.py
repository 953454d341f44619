"""`landrec archive` on the command line: scan --json, clear errors, retag, export."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import write_image
from landrec.cli.main import main


def test_scan_json_then_retag_and_export(tmp_path: Path, red_blue_checkpoint: Path, capsys):
    storage = tmp_path / "storage"
    for i in range(3):
        write_image(storage / f"{i}.jpg", (200, 30, 30), seed=i)
    (storage / "notes.txt").write_text("field notes\n")
    args = ["archive", "scan", "--storage", str(storage), "--model", str(red_blue_checkpoint)]
    assert main([*args, "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts == {"seen": 4, "indexed": 3, "unsupported": 1}
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
