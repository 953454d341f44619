"""Data through the API: a data set's inspection, channel statistics and label audit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from landrec.data.inspect import ChannelStats, InspectReport
    from landrec.engine.experiments.audit_report import AuditOptions, AuditResult


def inspect_data(data: str | Path, out: str | Path | None = None) -> InspectReport:
    """Per-split per-class counts, image sizes, unreadable files, duplicates (+ chart in `out`)."""
    from landrec.data.inspect import inspect_dataset

    return inspect_dataset(data, out)


def data_stats(data: str | Path, size: int = 224) -> ChannelStats:
    """Per-channel mean/std of the train split at `size` px."""
    from landrec.data.inspect import channel_stats
    from landrec.data.layout import Split, load_splits

    return channel_stats(load_splits(data).get(Split.TRAIN), size)


def audit(
    data_root: str | Path, out: str | Path, options: AuditOptions | None = None
) -> AuditResult:
    """Likely label errors and near-duplicates of every split: suspects.csv, duplicates.csv and
    a contact sheet per class in `out`."""
    from landrec.engine.experiments.audit import audit as _audit

    return _audit(data_root, out, options)
