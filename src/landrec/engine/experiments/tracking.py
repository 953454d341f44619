"""Experiment tracking with MLflow: parameters, per-epoch metrics and artifacts of each run.

`tracking` is False (off), True (a local store in the run's folder: `sqlite:///DIR/mlflow.db`,
artifacts in DIR/mlartifacts) or a tracking URI. MLflow is imported only when tracking is on;
where it is not installed, tracking is skipped with a one-line warning.

MLflow 3's file store (`./mlruns`) refuses to start unless MLFLOW_ALLOW_FILE_STORE is set and
will receive no updates, hence the SQLite default. A run uses an `MlflowClient` bound to its
URI (no process-wide `mlflow.set_tracking_uri`), so two stores can be written in one process.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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

    def __init__(self, client: Any, run_id: str) -> None:
        self.client, self.run_id, self.step = client, run_id, 0

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
        self.step += 1
        self.log_metrics({k: row[k] for k in EPOCH_METRICS if k in row}, self.step)


def _client_run(uri: str, folder: Path, experiment: str, run_name: str) -> MlflowTracker | None:
    try:
        from mlflow import MlflowClient
    except ImportError:
        warnings.warn(
            "tracking skipped: mlflow is not installed (pip install mlflow-skinny)", stacklevel=3
        )
        return None
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        # A local artifact folder: MLflow's default for a database store is ./mlruns of the cwd.
        location = (folder / ARTIFACTS).resolve().as_uri() if uri.startswith("sqlite:") else None
        experiment_id = client.create_experiment(experiment, artifact_location=location)
    run = client.create_run(experiment_id, run_name=run_name)
    return MlflowTracker(client, run.info.run_id)


@contextmanager
def open_tracker(
    tracking: TrackingOption, folder: Path, experiment: str, run_name: str
) -> Iterator[Tracker]:
    """A tracker for one run (a no-op one when off); the run ends FINISHED, or FAILED when
    the block raises (the exception propagates), or KILLED when marked `pruned`."""
    uri = default_uri(folder) if tracking is True else tracking or None
    tracker = None
    if uri:
        folder.mkdir(parents=True, exist_ok=True)
        tracker = _client_run(uri, folder, experiment, run_name)
    if tracker is None:
        yield Tracker()
        return
    status = "FAILED"
    try:
        yield tracker
        status = "FINISHED"
    finally:
        status = "KILLED" if tracker.pruned else status
        tracker.client.set_terminated(tracker.run_id, status)


def log_run_folder(tracker: Tracker, run_dir: Path, metrics: dict[str, Any]) -> None:
    """A finished run's summary metrics and its files: config, curves, test confusion/metrics."""
    from landrec.engine.config import CONFIG_FILE
    from landrec.engine.training.train import CURVES

    tracker.log_metrics(metrics)
    names = (CONFIG_FILE, CURVES, "test_confusion.png", "test_metrics.json")
    tracker.log_artifacts(run_dir / name for name in names)
