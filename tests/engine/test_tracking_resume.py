"""MLflow tracking that survives a kill: the run folder records its MLflow run (tracking.json),
a run left RUNNING by a dead process is marked KILLED, `resume` continues the same MLflow run at
the right epoch steps, and bad data fails before anything (the store included) is written."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest

from landrec import api
from landrec.cli.main import main
from landrec.data.layout import DataLayoutError
from landrec.engine.experiments import tracking
from landrec.engine.experiments.tracking import (
    EPOCH_METRICS,
    RunRecord,
    default_uri,
    open_tracker,
    read_record,
    write_record,
)
from landrec.engine.runs import RunFolder

mlflow = pytest.importorskip("mlflow")


def _steps(client: object, run_id: str, name: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, name))  # type: ignore[attr-defined]


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_killed_run_resumes_into_the_same_mlflow_run(
    make_data, tiny: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, run = make_data(per_class=2), tmp_path / "run"
    options = {**tiny, "head_epochs": 3, "finetune_epochs": 2}  # 5 epochs
    real_on_epoch, ended = tracking.MlflowTracker.on_epoch, []

    def dies_after_saving_epoch_3(self: tracking.MlflowTracker, row: dict) -> None:
        if self.step == 2:  # epoch 3 is in history.csv and state.pt, not yet in MLflow
            raise KeyboardInterrupt
        real_on_epoch(self, row)

    with monkeypatch.context() as patch:
        patch.setattr(tracking.MlflowTracker, "on_epoch", dies_after_saving_epoch_3)
        # as under SIGKILL, the run is never ended
        patch.setattr(mlflow.MlflowClient, "set_terminated", lambda *a, **k: None)
        with pytest.raises(KeyboardInterrupt):
            api.train(data, run, test=False, tracking=True, **options)
    client = mlflow.MlflowClient(default_uri(run))
    record = read_record(run)
    assert record is not None and record.pid == os.getpid()
    assert record.tracking_uri == default_uri(run)
    assert client.get_run(record.run_id).info.status == "RUNNING"
    assert _steps(client, record.run_id, "val_accuracy") == [1, 2]

    real_end = mlflow.MlflowClient.set_terminated

    def spy(self: object, run_id: str, status: str | None = None, **kwargs: object) -> None:
        ended.append((run_id, status))
        real_end(self, run_id, status, **kwargs)

    monkeypatch.setattr(mlflow.MlflowClient, "set_terminated", spy)
    resumed = api.train(data, run, resume=True, test=False, tracking=True)

    assert ended == [(record.run_id, "KILLED"), (record.run_id, "FINISHED")]
    (only,) = client.search_runs([record.experiment_id])
    assert only.info.run_id == record.run_id and only.info.status == "FINISHED"
    for name in EPOCH_METRICS:
        assert _steps(client, record.run_id, name) == [1, 2, 3, 4, 5], name
    logged = sorted(client.get_metric_history(record.run_id, "val_loss"), key=lambda m: m.step)
    expected = [row["val_loss"] for row in resumed.train.history]
    assert [m.value for m in logged] == pytest.approx(expected, rel=1e-6)
    assert read_record(run) == record


@pytest.mark.parametrize("alive", [False, True])
def test_a_running_run_of_a_dead_process_is_marked_killed(tmp_path: Path, alive: bool) -> None:
    uri = default_uri(tmp_path)
    client = mlflow.MlflowClient(uri)
    experiment_id = client.create_experiment("x")
    old = client.create_run(experiment_id).info.run_id
    pid = os.getppid() if alive else _dead_pid()  # pytest's parent is running
    write_record(tmp_path, RunRecord(uri, experiment_id, old, pid))

    with open_tracker(True, tmp_path, "x", "run", tmp_path) as tracker:
        assert tracker.enabled
        new = tracker.run_id  # type: ignore[attr-defined]

    assert new != old
    assert client.get_run(old).info.status == ("RUNNING" if alive else "KILLED")
    assert client.get_run(new).info.status == "FINISHED"
    assert read_record(tmp_path) == RunRecord(uri, experiment_id, new, os.getpid())


def test_resume_continues_the_recorded_run_after_its_history(tmp_path: Path) -> None:
    uri = default_uri(tmp_path)
    with open_tracker(True, tmp_path, "x", "run", tmp_path) as tracker:
        first = tracker.run_id  # type: ignore[attr-defined]
    with RunFolder(tmp_path).history.open("w", newline="") as f:  # two epochs the trainer saved
        writer = csv.DictWriter(f, fieldnames=["stage", "epoch", "val_accuracy"])
        writer.writeheader()
        writer.writerows([{"stage": "head", "epoch": e, "val_accuracy": e / 10} for e in (1, 2)])

    with open_tracker(True, tmp_path, "x", "run", tmp_path, resume=True) as tracker:
        assert tracker.run_id == first  # type: ignore[attr-defined]

    client = mlflow.MlflowClient(uri)
    assert client.get_run(first).info.status == "FINISHED"
    history = client.get_metric_history(first, "val_accuracy")
    assert sorted((m.step, m.value) for m in history) == [(1, 0.1), (2, 0.2)]
    with open_tracker(True, tmp_path, "x", "run", tmp_path) as tracker:  # no resume: a new run
        assert tracker.run_id != first  # type: ignore[attr-defined]


def test_bad_data_with_tracking_on_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LANDREC_TRACKING", "1")  # the CLI's default: track
    out, missing = tmp_path / "out", tmp_path / "nonexistent"
    code = main(["train", str(missing), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [f"landrec: error: {missing}: data folder not found"]
    assert not out.exists()
    with pytest.raises(DataLayoutError):
        api.train(missing, out, tracking=True)
    assert not out.exists()
