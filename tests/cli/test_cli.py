"""The `landrec` command end to end on tiny images, and its one-line errors for bad input."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from landrec.api import RunFolder
from landrec.cli.main import main
from landrec.models.registry import REGISTRY


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, dataset_writer) -> dict:
    """One `landrec train --json` run shared by the tests below."""
    tmp = tmp_path_factory.mktemp("cli")
    data = dataset_writer(tmp / "data", per_class=3)
    argv = [
        "train",
        data,
        "--out",
        tmp / "run",
        "--model",
        "mobilenet_v2",
        "--weights",
        "none",
        "--image-size",
        "32",
        "--head-epochs",
        "1",
        "--finetune-epochs",
        "1",
        "--no-bf16",
        "--augment",
        "none",
        "--workers",
        "0",
        "--batch-size",
        "8",
        "--cache-dir",
        tmp / "cache",
        "--no-calibrate",  # a random-init model: its labels, not "unknown", are checked
        "--json",
    ]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main([str(a) for a in argv])
    assert code == 0
    return {"data": data, "run": tmp / "run", "tmp": tmp, "summary": json.loads(stdout.getvalue())}


def test_train_json(run: dict) -> None:
    summary = run["summary"]
    assert summary["weights"] == "random init"
    assert summary["epochs"] == 2
    folder = RunFolder(run["run"])
    assert Path(summary["checkpoint"]) == folder.best
    assert summary["skipped"] == [] and summary["notes"] == []
    assert summary["test"]["n_images"] == 9
    assert folder.config.is_file() and folder.test_report.markdown.is_file()
    assert "bf16: false" in folder.config.read_text()


def test_evaluate_json(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["evaluate", run["run"], run["data"], "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    expected = {
        "accuracy",
        "macro_f1",
        "per_class",
        "confusion_matrix",
        "classes",
        "n_images",
        "images_per_second",
    }
    assert set(result) >= expected
    assert result["classes"] == ["coast", "desert", "forest"] and result["n_images"] == 9
    assert 0.0 <= result["accuracy"] <= 1.0 and result["weights"] == "random init"


def test_evaluate_markdown_and_out(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = run["tmp"] / "val-report"
    code, out, _ = _run(
        ["evaluate", run["run"], run["data"], "--split", "val", "--out", out_dir], capsys
    )
    assert code == 0
    assert out.startswith("# Evaluation: mobilenet_v2 on 'val'") and "random init" in out
    assert (out_dir / "val_metrics.json").is_file()


def test_predict_json_and_csv(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    folder = run["data"] / "test"
    code, out, _ = _run(["predict", run["run"], folder, "--format", "json", "--top-k", "2"], capsys)
    assert code == 0
    preds = json.loads(out)
    assert len(preds) == 9
    assert all(p["error"] is None and len(p["top_k"]) == 2 for p in preds)
    assert all(p["label"] in ("coast", "desert", "forest") for p in preds)

    code, out, _ = _run(["predict", run["run"], folder, "--format", "csv"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    header = ["path", "label", "confidence", "top_k", "view", "view_confidence", "error"]
    assert len(rows) == 9 and list(rows[0]) == header
    assert [r["path"] for r in rows] == [p["path"] for p in preds]
    assert all(len(r["top_k"].split(";")) == 3 for r in rows)


def test_predict_only_unreadable_files_fails(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    broken = run["tmp"] / "broken.jpg"
    broken.write_bytes(b"")
    code, out, _ = _run(["predict", run["run"], broken], capsys)
    assert code == 1
    assert "ERROR" in out and "broken.jpg" in out


def test_models_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["models", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list(REGISTRY)
    assert len(rows) == 7
    by_name = {r["name"]: r for r in rows}
    assert by_name["resnet18"]["groups"][-1] == "layer4"
    # Backbone parameters, without the 1000-class classifier the head replaces.
    assert by_name["mobilenet_v2"]["parameters"] == 2_223_872
    assert by_name["resnet18"]["parameters"] == 11_176_512
    assert all(r["weights_here"] in ("offline", "cache", "no") for r in rows)


def test_data_inspect_and_stats(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = run["tmp"] / "inspect"
    code, out, _ = _run(["data", "inspect", run["data"], "--json", "--out", out_dir], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["classes"] == ["coast", "desert", "forest"]
    assert report["counts"]["train"] == {"coast": 3, "desert": 3, "forest": 3}
    assert report["unreadable"] == [] and report["cross_split_duplicates"] == []
    assert Path(report["chart"]).is_file() and Path(report["chart"]).parent == out_dir

    code, out, _ = _run(["data", "stats", run["data"], "--json", "--size", "32"], capsys)
    assert code == 0
    stats = json.loads(out)
    assert stats["n_images"] == 9
    assert len(stats["mean"]) == 3 and all(0 < m < 1 for m in stats["mean"])
    assert all(s > 0 for s in stats["std"])


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("landrec: error: ")
    return lines[0]


def test_missing_data_folder_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-data"
    code, _, err = _run(["train", missing, "--out", tmp_path / "run", "--weights", "none"], capsys)
    assert code == 2
    assert str(missing) in _one_line_error(err)


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "{run}", "{tmp}/nowhere"],
        ["predict", "{tmp}/no-run", "{tmp}/x.jpg"],
        ["data", "inspect", "{tmp}/nowhere"],
        ["data", "stats", "{tmp}/nowhere"],
    ],
)
def test_missing_paths_are_one_line_errors(
    run: dict, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.format(run=run["run"], tmp=run["tmp"]) for a in argv]
    code, _, err = _run(args, capsys)
    assert code == 2
    line = _one_line_error(err)
    assert str(run["tmp"]) in line


def test_unknown_model_is_exit_2(
    run: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        ["train", run["data"], "--out", tmp_path / "run", "--model", "resnet1000"], capsys
    )
    assert code == 2
    line = _one_line_error(err)
    assert "resnet1000" in line and "mobilenet_v2" in line


def test_bad_option_value_is_exit_2(
    run: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        ["train", run["data"], "--out", tmp_path / "run", "--head-epochs", "many"], capsys
    )
    assert code == 2
    assert "head_epochs" in _one_line_error(err)


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fly"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_runs() -> None:
    script = Path(sys.executable).with_name("landrec")
    if not script.exists():
        pytest.skip("the landrec console script is not installed in this environment")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [script, "models", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [r["name"] for r in json.loads(done.stdout)] == list(REGISTRY)
