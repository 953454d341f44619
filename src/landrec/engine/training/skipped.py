"""RUN/skipped.csv: the training run's unreadable files, with their split and the reason."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from landrec.data.atomic import write_text_atomic
from landrec.data.dataset import FailureLog
from landrec.data.layout import DatasetSplits

SKIPPED_CSV = "skipped.csv"
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
    """Write RUN/skipped.csv (a header only when every file was read) and return its rows."""
    rows = skipped_rows(failures, data)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(run_dir / SKIPPED_CSV, text.getvalue())
    return rows
