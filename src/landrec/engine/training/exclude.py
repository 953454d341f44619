"""`--exclude FILE`: files left out of a run, listed one per line or as a suspects.csv.

The list comes from a person's review of `landrec data audit`. Its files leave the train split;
val and test keep them unless `exclude_eval` is set, so a test score is never raised by cleaning
the test split without saying so. Paths match by their resolved location, written relative to
the working folder or to the data root, or absolute.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from landrec.data.layout import DatasetSplits, Split, SplitData
from landrec.engine.config import ConfigError, TrainConfig

PATH_COLUMN = "path"


def read_exclusions(path: str | Path) -> list[str]:
    """The paths a list names: a CSV's `path` column, else every line but blanks and `#...`."""
    lines = Path(path).read_text().splitlines()
    header = next((line for line in lines if line.strip()), "")
    if PATH_COLUMN in [cell.strip() for cell in header.split(",")]:
        return [row[PATH_COLUMN] for row in csv.DictReader(lines) if row.get(PATH_COLUMN)]
    return [s for line in lines if (s := line.strip()) and not s.startswith("#")]


def _candidates(text: str, data_root: Path) -> set[Path]:
    """Where a listed path may point: from the working folder, or from the data root."""
    return {Path(text).resolve(), (data_root / text).resolve()}


def _keys(listed: list[str], data_root: Path) -> set[Path]:
    return set().union(*(_candidates(text, data_root) for text in listed))


def listed_files(path: str | Path, data_root: str | Path) -> set[Path]:
    """The resolved files an exclusion list may name (see `read_exclusions`)."""
    return _keys(read_exclusions(path), Path(data_root))


def drop_listed(split: SplitData, keys: set[Path]) -> int:
    """Remove `split`'s samples whose files are in `keys`; how many were removed."""
    kept = [s for s in split.samples if s.path.resolve() not in keys]
    removed = len(split.samples) - len(kept)
    split.samples = kept
    return removed


@dataclass
class Exclusion:
    source: str | None = None  # the list's file; None: nothing excluded
    removed: dict[str, int] = field(default_factory=dict)  # files removed per split
    kept_eval: int = 0  # listed files of val and test left in (exclude_eval off)
    unmatched: int = 0  # listed paths that are no file of the data set

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    def note(self) -> str:
        """What was excluded, for the run's notes ("" when no list was given)."""
        if self.source is None:
            return ""
        per_split = ", ".join(f"{n} from {s}" for s, n in self.removed.items() if n) or "none"
        text = f"excluded {self.total} files listed in {self.source} ({per_split})"
        if self.kept_eval:
            text += f"; {self.kept_eval} listed val/test files kept (exclude_eval is off)"
        if self.unmatched:
            text += f"; {self.unmatched} listed paths matched no file"
        return text


def apply_exclusions(data: DatasetSplits, config: TrainConfig) -> Exclusion:
    """Take `config.exclude`'s files out of train (and of val and test with `exclude_eval`)."""
    if config.exclude is None:
        return Exclusion()
    try:
        listed = read_exclusions(config.exclude)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"exclude: cannot read {config.exclude} ({exc})") from exc
    root = Path(data.root)
    present = {s.path.resolve() for d in data.splits.values() for s in d.samples}
    unmatched = sum(not (_candidates(text, root) & present) for text in listed)
    keys = _keys(listed, root)
    splits = [Split.TRAIN, *([Split.VAL, Split.TEST] if config.exclude_eval else [])]
    removed = {s.value: drop_listed(data.splits[s], keys) for s in splits if s in data.splits}
    kept = sum(s.path.resolve() in keys for d in data.splits.values() for s in d.samples)
    return Exclusion(config.exclude, removed, kept, unmatched)


def exclude_from_test(folder: SplitData, data_root: str | Path, config: TrainConfig) -> SplitData:
    """The test folder without the listed files when `exclude_eval` is set; else untouched."""
    if config.exclude is not None and config.exclude_eval:
        drop_listed(folder, listed_files(config.exclude, data_root))
    return folder
