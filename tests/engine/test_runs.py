"""A run folder's layout: the names `RunFolder` gives its files are the ones on disk (the names
are spelled out here on purpose: they are the contract with existing run folders)."""

from __future__ import annotations

from pathlib import Path

from landrec.engine.runs import ReportFiles, RunFolder, onnx_cache_path


def test_each_file_of_a_run_folder_has_its_name(tmp_path: Path) -> None:
    run = RunFolder(str(tmp_path))
    assert run.root == tmp_path
    named = {
        run.config: "config.yaml",
        run.best: "best.safetensors",
        run.last: "last.safetensors",
        run.state: "state.pt",
        run.history: "history.csv",
        run.curves: "curves.png",
        run.skipped: "skipped.csv",
        run.tracking: "tracking.json",
        run.test_report.metrics: "test_metrics.json",
        run.test_report.markdown: "test_report.md",
        run.test_report.confusion: "test_confusion.png",
        onnx_cache_path(run.best): "best.fp32.onnx",
    }
    assert {path: path.relative_to(tmp_path).as_posix() for path in named} == named
    assert ReportFiles(tmp_path, "val").metrics == tmp_path / "val_metrics.json"


def test_the_checkpoint_of_a_run_is_best_else_last(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert run.checkpoint() is None
    run.last.write_bytes(b"")
    assert run.checkpoint() == run.last
    run.best.write_bytes(b"")
    assert run.checkpoint() == run.best
    assert RunFolder.is_checkpoint_name(run.last) and not RunFolder.is_checkpoint_name(run.state)
