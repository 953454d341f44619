"""Experiment tracking with MLflow: parameters, per-epoch metrics and artifacts of each run.

`tracking` is False (off), True (a local store in the run's folder: `sqlite:///DIR/mlflow.db`,
artifacts in DIR/mlartifacts) or a tracking URI. MLflow is imported only when tracking is on;
where it is not installed, tracking is skipped with a one-line warning.

MLflow 3's file store (`./mlruns`) refuses to start unless MLFLOW_ALLOW_FILE_STORE is set and
will receive no updates, hence the SQLite default. A run uses an `MlflowClient` bound to its
URI (no process-wide `mlflow.set_tracking_uri`), so two stores can be written in one process.

A training run's folder records its MLflow run and the logging process's id (tracking.json), so
that a killed run is marked KILLED when its folder is next trained, and `--resume` continues the
same MLflow run at the right epoch steps.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landrec.data.atomic import write_text_atomic
from landrec.engine.runs import RunFolder

TrackingOption = bool | str
DB_FILE = "mlflow.db"
ARTIFACTS = "mlartifacts"
EPOCH_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")
ENV_DEFAULT = "LANDREC_TRACKING"  # "0": the CLI's default is off (the test suite sets it)


def cli_default() -> bool:
    """Whether the CLI tracks when neither --tracking-uri nor --no-tracking is given."""
    return os.environ.get(ENV_DEFAULT, "1").strip().lower() not in ("0", "false", "no", "off")


def default_uri(folder: Path) -> str:
    return f"sqlite:///{(folder / DB_FILE).resolve()}"


class Tracker:
    """Tracking switched off: every call does nothing (the MLflow tracker overrides them)."""

    enabled = False
    pruned = False  # set before raising to stop a run on purpose: it ends KILLED, not FAILED

    def log_params(self, params: dict[str, Any]) -> None:
        return None

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        return None

    def log_artifacts(self, paths: Iterable[Path]) -> None:
        return None

    def on_epoch(self, row: dict) -> None:
        """Log one training history row (the trainer's `on_epoch` hook)."""
        return None


class MlflowTracker(Tracker):
    """One MLflow run, written through a client bound to one tracking URI."""

    enabled = True

    def __init__(
        self, client: Any, run_id: str, history: Path | None = None, step: int = 0
    ) -> None:
        # `step`: the epochs this run already holds; `history`: the run folder's history.csv,
        # the trainer's record of its epochs, which steps follow (see `sync`)
        self.client, self.run_id, self.history, self.step = client, run_id, history, step

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, "None" if v is None else str(v)[:6000]) for k, v in params.items()]
        self.client.log_batch(self.run_id, params=items)

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [
            Metric(k, float(v), now, step or 0)
            for k, v in metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        ]
        if items:
            self.client.log_batch(self.run_id, metrics=items)

    def log_artifacts(self, paths: Iterable[Path]) -> None:
        for path in paths:
            if Path(path).is_file():
                self.client.log_artifact(self.run_id, str(path))

    def on_epoch(self, row: dict) -> None:
        if self.history is not None and self.history.is_file():
            self.sync()  # the trainer writes history.csv before it calls on_epoch
            return
        self.step += 1
        self.log_metrics({k: row[k] for k in EPOCH_METRICS if k in row}, self.step)

    def sync(self) -> None:
        """Log the history.csv rows this run lacks, row i at step i: a resumed run, or one that
        died between saving an epoch and logging it, ends with steps 1..N, none twice."""
        if self.history is None or not self.history.is_file():
            return
        with self.history.open(newline="") as f:
            rows = list(csv.DictReader(f))
        for step, row in enumerate(rows[self.step :], start=self.step + 1):
            self.log_metrics({k: _number(row.get(k)) for k in EPOCH_METRICS}, step)
        self.step = max(self.step, len(rows))


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _client(uri: str) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError:
        warnings.warn(
            "tracking skipped: mlflow is not installed (pip install mlflow-skinny)", stacklevel=4
        )
        return None
    return MlflowClient(tracking_uri=uri)


def _experiment_id(client: Any, uri: str, folder: Path, experiment: str) -> str:
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return str(found.experiment_id)
    # A local artifact folder: MLflow's default for a database store is ./mlruns of the cwd.
    location = (folder / ARTIFACTS).resolve().as_uri() if uri.startswith("sqlite:") else None
    return str(client.create_experiment(experiment, artifact_location=location))


def _client_run(
    uri: str, folder: Path, experiment: str, run_name: str, run_dir: Path | None, resume: bool
) -> MlflowTracker | None:
    """The run to log to: with `resume`, the one recorded in `run_dir` (when its store is `uri`
    and no live process holds it), else a new one; a recorded run left RUNNING by a dead
    process is first marked KILLED. The choice is recorded in `run_dir`."""
    client = _client(uri)
    if client is None:
        return None
    history = RunFolder(run_dir).history if run_dir is not None else None
    run = _recorded_run(client, uri, read_record(run_dir)) if run_dir is not None else None
    if run is not None and resume:
        client.update_run(run.info.run_id, status="RUNNING")
        tracker = MlflowTracker(client, run.info.run_id, history, _last_step(client, run))
    else:
        experiment_id = _experiment_id(client, uri, folder, experiment)
        run = client.create_run(experiment_id, run_name=run_name)
        tracker = MlflowTracker(client, run.info.run_id, history)
    if run_dir is not None:
        info = run.info
        write_record(run_dir, RunRecord(uri, info.experiment_id, info.run_id, os.getpid()))
    return tracker


@dataclass
class RunRecord:
    """Which MLflow run a run folder logs to (`RunFolder.tracking`), and the process logging."""

    tracking_uri: str
    experiment_id: str
    run_id: str
    pid: int


def read_record(run_dir: Path) -> RunRecord | None:
    """The run folder's record of its MLflow run; None when absent or unreadable."""
    try:
        return RunRecord(**json.loads(RunFolder(run_dir).tracking.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_record(run_dir: Path, record: RunRecord) -> None:
    """Write the run folder's record atomically (temp file, then rename)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dataclasses.asdict(record), indent=2)
    write_text_atomic(RunFolder(run_dir).tracking, text)


def _recorded_run(client: Any, uri: str, record: RunRecord | None) -> Any:
    """The MLflow run a folder's record names, when it is in this store and no live process
    logs to it (None otherwise); one left RUNNING by a dead process is first marked KILLED."""
    from mlflow.exceptions import MlflowException

    if record is None or record.tracking_uri != uri:
        return None
    try:
        run = client.get_run(record.run_id)
    except MlflowException:  # deleted from the store, or the store was replaced
        return None
    if run.info.lifecycle_stage != "active":
        return None
    if run.info.status == "RUNNING":
        if _alive(record.pid):
            return None  # another process logs to it: leave it alone
        client.set_terminated(run.info.run_id, "KILLED")
    return run


def _alive(pid: int) -> bool:
    """Whether another process with this id is running (this process's own id: False)."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _last_step(client: Any, run: Any) -> int:
    """The highest epoch step the run holds (0: none)."""
    return max(
        (m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")), default=0
    )


@contextmanager
def open_tracker(
    tracking: TrackingOption,
    folder: Path,
    experiment: str,
    run_name: str,
    run_dir: Path | None = None,
    resume: bool = False,
) -> Iterator[Tracker]:
    """A tracker for one run (a no-op one when off); the run ends FINISHED, or FAILED when
    the block raises (the exception propagates), or KILLED when marked `pruned`. With a
    `run_dir`, the MLflow run is recorded there and `resume` continues it (see `_client_run`)."""
    uri = default_uri(folder) if tracking is True else tracking or None
    tracker = None
    if uri:
        folder.mkdir(parents=True, exist_ok=True)
        tracker = _client_run(uri, folder, experiment, run_name, run_dir, resume)
    if tracker is None:
        yield Tracker()
        return
    status = "FAILED"
    try:
        yield tracker
        tracker.sync()
        status = "FINISHED"
    finally:
        status = "KILLED" if tracker.pruned else status
        tracker.client.set_terminated(tracker.run_id, status)


def log_run_folder(tracker: Tracker, run_dir: Path, metrics: dict[str, Any]) -> None:
    """A finished run's summary metrics and its files: config, curves, test confusion/metrics."""
    run = RunFolder(run_dir)
    test = run.test_report
    tracker.log_metrics(metrics)
    tracker.log_artifacts((run.config, run.curves, test.confusion, test.metrics))
