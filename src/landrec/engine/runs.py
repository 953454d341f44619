"""The layout of a run folder: the one place that names its files.

A run folder (`landrec train --out RUN`) holds the resolved configuration, the best and last
checkpoints, the resume state, the history and its curves, the files it skipped, its MLflow
record, the cached ONNX export and the test report. Training writes them, and evaluate, predict,
export, studies and the archive read them, all through `RunFolder`; nothing else spells a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The file names, in one place (`RunFolder` below is how code reaches them).
CONFIG = "config.yaml"
BEST = "best.safetensors"
LAST = "last.safetensors"
STATE = "state.pt"
HISTORY = "history.csv"
CURVES = "curves.png"
SKIPPED = "skipped.csv"
TRACKING = "tracking.json"
# A checkpoint's cached export (`best.safetensors` -> `best.fp32.onnx`); not `.onnx`: never the
# name of a file the user exported (int8, say).
ONNX_SUFFIX = ".fp32.onnx"


@dataclass(frozen=True)
class ReportFiles:
    """An evaluation report written into a folder: `<name>_metrics.json`, `<name>_report.md`,
    `<name>_confusion.png` (a run's test report: name "test")."""

    folder: Path
    name: str

    @property
    def metrics(self) -> Path:
        return self.folder / f"{self.name}_metrics.json"

    @property
    def markdown(self) -> Path:
        return self.folder / f"{self.name}_report.md"

    @property
    def confusion(self) -> Path:
        return self.folder / f"{self.name}_confusion.png"


@dataclass(frozen=True)
class RunFolder:
    """Where each file of a run lives (nothing is read or written here)."""

    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def best(self) -> Path:
        return self.root / BEST

    @property
    def last(self) -> Path:
        return self.root / LAST

    @property
    def state(self) -> Path:
        return self.root / STATE

    @property
    def history(self) -> Path:
        return self.root / HISTORY

    @property
    def curves(self) -> Path:
        return self.root / CURVES

    @property
    def skipped(self) -> Path:
        return self.root / SKIPPED

    @property
    def tracking(self) -> Path:
        return self.root / TRACKING

    @property
    def test_report(self) -> ReportFiles:
        return ReportFiles(self.root, "test")

    def checkpoint(self) -> Path | None:
        """The checkpoint that stands for the run: best, else last; None when neither exists."""
        return next((p for p in (self.best, self.last) if p.is_file()), None)

    @staticmethod
    def is_checkpoint_name(path: Path) -> bool:
        """Whether `path` is named as a run's checkpoint (`best.safetensors`/`last...`)."""
        return path.name in (BEST, LAST)


def onnx_cache_path(checkpoint: Path) -> Path:
    """Where the fp32 export of `checkpoint` is cached: beside it, `<stem>.fp32.onnx`."""
    return checkpoint.with_name(checkpoint.stem + ONNX_SUFFIX)
