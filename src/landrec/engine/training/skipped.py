"""A run's list of skipped files (`RunFolder.skipped`): the unreadable files of a training run,
with their split and the reason."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from landrec.data.atomic import write_text_atomic
from landrec.data.dataset import FailureLog
from landrec.data.layout import DatasetSplits
from landrec.engine.runs import RunFolder

FIELDS = ("path", "split", "reason")
Rows = list[dict[str, str]]


def skipped_rows(failures: FailureLog, data: DatasetSplits) -> Rows:
    """One row per unreadable file, sorted by path: path, split, reason."""
    split_of = {str(s.path): split.value for split, d in data.splits.items() for s in d.samples}
    return [
        {"path": row["path"], "split": split_of.get(row["path"], ""), "reason": row["reason"]}
        for row in failures.to_list()
    ]


def record_skipped(
    failures: FailureLog, data: DatasetSplits, run_dir: Path
) -> list[dict[str, str]]:
    """Write the run's list of skipped files (a header only when every file was read) and
    return its rows."""
    rows = skipped_rows(failures, data)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(RunFolder(run_dir).skipped, text.getvalue())
    return rows
