"""Every input of `landrec predict` gets one row and the exit code says how it went; `landrec
train` names the files it skipped and lists them in RUN/skipped.csv."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landrec import api
from landrec.cli import output
from landrec.cli.main import main
from landrec.engine.training.train import TrainResult

RED = (220, 20, 20)


def jpeg(path: Path, seed: int) -> Path:
    """A noisy red JPEG written to `path`, whatever its name says."""
    noise = np.random.default_rng(seed).normal(0, 12, (48, 48, 3))
    pixels = np.clip(np.array(RED) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG")
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A folder of 4 images Pillow reads (one without an extension, three the old extension
    list missed) and 4 files that cannot be classified, plus hidden files that are left out."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    jpeg(folder / "photo", seed=1)
    for name in ("pic.tga", "pic.pcx", "pic.ico"):
        Image.new("RGB", (32, 32), RED).save(folder / name)
    (folder / "report.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    (folder / "notes.txt").write_text("not an image\n")
    (folder / "empty.jpg").write_bytes(b"")
    whole = jpeg(tmp_path / "whole.jpg", seed=2)
    (folder / "cut.jpg").write_bytes(whole.read_bytes()[:200])
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / ".thumbs").mkdir()
    (folder / ".thumbs" / "photo.jpg").write_bytes(whole.read_bytes())
    return folder


EXPECTED_ERRORS = {
    "cut.jpg": "truncated",
    "empty.jpg": "empty file (0 bytes)",
    "notes.txt": "unsupported format (text)",
    "report.pdf": "unsupported format (PDF document)",
}


def _predict(argv: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_file_gets_one_row(
    mixed: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _predict([red_blue_checkpoint, mixed, "--format", "json"], capsys)
    assert code == 0
    rows = {Path(r["path"]).name: r for r in json.loads(out)}
    assert len(json.loads(out)) == len(rows) == 8
    for name in ("photo", "pic.tga", "pic.pcx", "pic.ico"):
        assert rows[name]["error"] is None and rows[name]["label"] in ("red", "blue"), name
    for name, error in EXPECTED_ERRORS.items():
        assert rows[name]["label"] is None, rows[name]
        assert error.lower() in rows[name]["error"].lower(), rows[name]
    assert err.splitlines()[-1] == "4 classified, 4 failed"


def test_a_missing_path_gets_a_row_and_exit_1(
    mixed: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = mixed.parent / "no-such.jpg"
    argv = [red_blue_checkpoint, missing, mixed / "photo", "--format", "csv"]
    code, out, err = _predict(argv, capsys)
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out)))  # stdout is nothing but the CSV
    assert [(r["path"], r["error"]) for r in rows] == [
        (str(missing), "no such file or directory"),
        (str(mixed / "photo"), ""),
    ]
    assert rows[1]["label"] in ("red", "blue")
    assert err.splitlines()[-1] == "1 classified, 1 failed"


def test_every_input_failing_is_exit_1(
    mixed: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    named = [mixed / name for name in sorted(EXPECTED_ERRORS)]
    code, out, err = _predict([red_blue_checkpoint, *named], capsys)
    assert code == 1
    assert out.count("ERROR: ") == 4
    assert err.splitlines()[-1] == "0 classified, 4 failed"


def test_named_files_are_classified_whatever_their_extension(
    tmp_path: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = jpeg(tmp_path / "scan.dat", seed=3)
    code, out, err = _predict([red_blue_checkpoint, odd, "--format", "json"], capsys)
    assert code == 0
    (row,) = json.loads(out)
    assert row["error"] is None and row["label"] in ("red", "blue")
    assert err.splitlines()[-1] == "1 classified, 0 failed"


def test_train_lists_skipped_files(
    make_data, tiny: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_data(per_class=2)
    bad = root / "train" / "desert" / "desert_1.jpg"
    bad.write_bytes(bad.read_bytes()[:150])  # corrupt one training image
    result = api.train(root, tmp_path / "run", **tiny)
    with api.RunFolder(tmp_path / "run").skipped.open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["path"], r["split"]) for r in rows] == [(str(bad), "train")]
    assert rows[0]["reason"]
    output.print_train(result)
    printed = capsys.readouterr().out.splitlines()
    assert f"skipped {bad}: {rows[0]['reason']}" in printed


def test_train_summary_names_ten_skipped_files_then_points_to_the_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = [{"path": f"f{i:02}.jpg", "split": "train", "reason": "bad"} for i in range(13)]
    run = api.RunFolder(tmp_path)
    result = TrainResult(tmp_path, run.best, [], 1.0, "x", False, skipped)
    output.print_train(api.TrainAndTest(result, None))
    lines = capsys.readouterr().out.splitlines()
    named = [line for line in lines if line.startswith("skipped ")]
    assert named == [f"skipped f{i:02}.jpg: bad" for i in range(10)]
    assert lines[-1] == f"... and 3 more, see {tmp_path / 'skipped.csv'}"  # the on-disk name
