"""The layout of a run folder: the one place that names its files.

A run folder (`landrec train --out RUN`) holds the resolved configuration, the best and last
checkpoints, the resume state, the history and its curves, the files it skipped, its MLflow
record, the cached ONNX export and the test report. Training writes them, and evaluate, predict,
export, studies and the archive read them, all through `RunFolder`; nothing else spells a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import overload

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


class RunFile:
    """A file of the run folder, by its name: `RunFolder(run).best` is `run/best.safetensors`."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, folder: None, owner: type) -> RunFile: ...
    @overload
    def __get__(self, folder: RunFolder, owner: type) -> Path: ...
    def __get__(self, folder: RunFolder | None, owner: type) -> Path | RunFile:
        return self if folder is None else folder.root / self.name


@dataclass(frozen=True)
class RunFolder:
    """Where each file of a run lives (nothing is read or written here)."""

    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    config = RunFile(CONFIG)  # the resolved TrainConfig (YAML)
    best = RunFile(BEST)  # the checkpoint of the lowest validation loss
    last = RunFile(LAST)  # the checkpoint of the last epoch
    state = RunFile(STATE)  # what --resume needs (tensors and plain values only)
    history = RunFile(HISTORY)  # one row per epoch
    curves = RunFile(CURVES)  # loss and accuracy per epoch
    skipped = RunFile(SKIPPED)  # the training files that could not be read, and why
    tracking = RunFile(TRACKING)  # the run's MLflow record

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
