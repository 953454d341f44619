"""Find the splits and classes of an image-folder data set on disk."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from landrec.data.errors import UserError
from landrec.data.video import VIDEO_EXTENSIONS

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".heic", ".heif"}
)


class Split(str, Enum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


# Folder names accepted for each split, lower case (Kaggle's names and the usual ones).
SPLIT_ALIASES: dict[Split, tuple[str, ...]] = {
    Split.TRAIN: ("train", "training", "training data", "training_data", "training-data"),
    Split.VAL: (
        "val",
        "valid",
        "validation",
        "validation data",
        "validation_data",
        "validation-data",
    ),
    Split.TEST: ("test", "testing", "testing data", "testing_data", "testing-data"),
}
MAX_SEARCH_DEPTH = 4


class DataLayoutError(UserError, ValueError):
    """The folder is not a data set landrec can read; the message says why."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


@dataclass
class SplitData:
    """The labelled files of one split, with the class order they index into."""

    name: str
    root: Path
    classes: list[str]
    samples: list[Sample]

    def paths_labels(self) -> tuple[list[Path], list[int]]:
        """The files and their label indices, in sample order."""
        return [s.path for s in self.samples], [s.label for s in self.samples]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(self.classes, 0)
        for s in self.samples:
            out[self.classes[s.label]] += 1
        return out


@dataclass
class DatasetSplits:
    """All splits of a data set; `val_note` says when val was carved out of train."""

    root: Path
    classes: list[str]
    splits: dict[Split, SplitData] = field(default_factory=dict)
    val_note: str = ""

    def get(self, split: Split) -> SplitData:
        if split not in self.splits:
            raise DataLayoutError(f"{self.root}: no '{split.value}' split found")
        return self.splits[split]


def normalise_class(name: str) -> str:
    """Class names are compared and stored in lower case without outer spaces."""
    return name.strip().lower()


def is_image_file(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")
    )


def list_class_folder(
    root: Path, classes: list[str] | None = None, allow_subset: bool = False
) -> SplitData:
    """Read one folder of class subfolders; with `classes`, check they match and keep that order.

    `allow_subset` accepts a folder holding only some of `classes` (evaluation of a model).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: not a folder")
    found: dict[str, list[Path]] = defaultdict(list)
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in sub.rglob("*") if is_image_file(p))
        if files:
            found[normalise_class(sub.name)].extend(files)
    if not found:
        raise DataLayoutError(f"{root}: no class subfolders with images")
    if classes is None:
        classes = sorted(found)
    elif set(found) != set(classes) and not (allow_subset and set(found) <= set(classes)):
        missing = sorted(set(classes) - set(found))
        extra = sorted(set(found) - set(classes))
        raise DataLayoutError(
            f"{root}: classes differ from the training split's (missing: {missing}, extra: {extra})"
        )
    index = {c: i for i, c in enumerate(classes)}
    samples = [Sample(p, index[c]) for c in classes for p in found[c]]
    return SplitData(name=root.name, root=root, classes=list(classes), samples=samples)


def _split_of(folder: Path) -> Split | None:
    name = folder.name.strip().lower()
    for split, aliases in SPLIT_ALIASES.items():
        if name in aliases:
            return split
    return None


def find_split_folders(root: Path) -> dict[Split, Path]:
    """Breadth-first search for split folders, so Kaggle's nested copies are found too."""
    level = [Path(root)]
    for _ in range(MAX_SEARCH_DEPTH):
        found: dict[Split, Path] = {}
        children: list[Path] = []
        for folder in level:
            for child in sorted(p for p in folder.iterdir() if p.is_dir()):
                split = _split_of(child)
                if split is not None and split not in found:
                    found[split] = child
                children.append(child)
        if Split.TRAIN in found or Split.TEST in found:
            return found
        level = children
    return {}


def stratified_split(
    samples: list[Sample], fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Hold out `fraction` of each class, deterministically for a given seed."""
    by_label: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        by_label[s.label].append(s)
    rng = random.Random(seed)
    kept: list[Sample] = []
    held: list[Sample] = []
    for label in sorted(by_label):
        group = sorted(by_label[label], key=lambda s: str(s.path))
        rng.shuffle(group)
        n_held = max(1, round(len(group) * fraction)) if len(group) > 1 else 0
        held.extend(group[:n_held])
        kept.extend(group[n_held:])
    return kept, held


def load_splits(root: str | Path, val_fraction: float = 0.15, seed: int = 0) -> DatasetSplits:
    """Read a data set root with train/val/test (any accepted naming)."""
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: data folder not found")
    folders = find_split_folders(root)
    if Split.TRAIN not in folders:
        raise DataLayoutError(
            f"{root}: no training split found (expected a 'train/' or 'Training Data/' folder)"
        )
    train = list_class_folder(folders[Split.TRAIN])
    data = DatasetSplits(root=root, classes=train.classes, splits={Split.TRAIN: train})
    for split in (Split.VAL, Split.TEST):
        if split in folders:
            data.splits[split] = list_class_folder(folders[split], train.classes)
            data.splits[split].name = split.value
    train.name = Split.TRAIN.value
    if Split.VAL not in data.splits:
        kept, held = stratified_split(train.samples, val_fraction, seed)
        train.samples = kept
        data.splits[Split.VAL] = SplitData(Split.VAL.value, train.root, train.classes, held)
        data.val_note = (
            f"no validation split found: held out {len(held)} training images "
            f"({val_fraction:.0%} of each class, seed {seed}) as validation"
        )
    return data


def load_eval_folder(path: str | Path, split: Split, classes: list[str] | None) -> SplitData:
    """A data-set root (then `split` picks the folder) or one folder of class subfolders."""
    path = Path(path)
    folders = find_split_folders(path) if path.is_dir() else {}
    if folders:
        if split not in folders:
            raise DataLayoutError(f"{path}: no '{split.value}' split found")
        data = list_class_folder(folders[split], classes, allow_subset=True)
        data.name = split.value
        return data
    return list_class_folder(path, classes, allow_subset=True)


def expand_paths(paths: Iterable[str | Path], videos: bool = False) -> list[Path]:
    """Files as given, folders recursively (image files, and video files when `videos`),
    in sorted order."""
    wanted = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS if videos else IMAGE_EXTENSIONS
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in wanted)
            )
        else:
            out.append(p)
    return out
