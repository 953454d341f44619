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
SOURCES_SUFFIXES = frozenset({".yaml", ".yml"})


class DataLayoutError(UserError, ValueError):
    """The folder is not a data set landrec can read; the message says why."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    view: int = 0  # index into DatasetSplits.views (0 where the data has no views)


@dataclass
class SplitData:
    """The labelled files of one split, with the class order they index into."""

    name: str
    root: Path
    classes: list[str]
    samples: list[Sample]
    views: list[str] = field(default_factory=list)  # what Sample.view indexes; [] where none

    def paths_labels(self) -> tuple[list[Path], list[int]]:
        """The files and their label indices, in sample order."""
        return [s.path for s in self.samples], [s.label for s in self.samples]

    def paths_targets(self) -> tuple[list[Path], list[int]]:
        """The files and what a head with views is trained on: (view, class) pairs, view-major
        (`view * classes + label`); the labels themselves where the data has no views."""
        n = len(self.classes)
        return [s.path for s in self.samples], [s.view * n + s.label for s in self.samples]

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
    views: list[str] = field(default_factory=list)  # a sources file's views, in its order
    # a sources file's augmentation preset per view (None: the training config's `augment`)
    view_augment: list[str | None] = field(default_factory=list)
    # a sources file's loss weight per view (each source's `weight`, 1 when not given)
    view_weight: list[float] = field(default_factory=list)

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


def is_sources_file(path: str | Path) -> bool:
    """A YAML file naming several data-set roots, each with its view (`load_sources`)."""
    return Path(path).suffix.lower() in SOURCES_SUFFIXES and Path(path).is_file()


@dataclass(frozen=True)
class Source:
    """One data-set root of a sources file, with its view, its own augmentation preset name
    (None: the config's; checked where used) and its samples' loss weight."""

    root: Path
    view: str
    augment: str | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class SourcesFile:
    """A sources file, read once: its roots and its out-of-class folders (images of none of the
    classes: they join the calibration of the unknown threshold and its check)."""

    sources: list[Source]
    out_of_class: list[Path]


def read_sources_file(path: str | Path) -> SourcesFile:
    """A sources file; paths relative to the file's folder::

    sources:
      - {path: ../shared/data/landscapes, view: ground, weight: 2}  # its samples count twice
      - {path: ../shared/data/aerial, view: overhead, augment: overhead}  # own preset
    out_of_class: [../shared/data/out-of-class]  # optional
    """
    import yaml  # only where a sources file is read

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataLayoutError(f"{path}: not a readable sources file ({exc})") from exc
    entries = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise DataLayoutError(f"{path}: expected 'sources:', a list of {{path, view}}")
    sources = [_source(path, i, entry) for i, entry in enumerate(entries, 1)]
    views = [s.view for s in sources]
    if len(set(views)) != len(views):
        raise DataLayoutError(f"{path}: each source needs its own view (got {views})")
    folders = doc.get("out_of_class") or []
    if not isinstance(folders, list):
        raise DataLayoutError(f"{path}: 'out_of_class' must be a list of folders")
    return SourcesFile(sources, [(path.parent / str(f)).resolve() for f in folders])


def _source(path: Path, i: int, entry: object) -> Source:
    if not isinstance(entry, dict) or not entry.get("path") or not entry.get("view"):
        raise DataLayoutError(f"{path}: source {i} needs a 'path' and a 'view'")
    weight = entry.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise DataLayoutError(f"{path}: source {i}: weight must be a number > 0, not {weight!r}")
    augment = str(entry["augment"]) if entry.get("augment") else None
    root = (path.parent / str(entry["path"])).resolve()
    return Source(root, normalise_class(entry["view"]), augment, float(weight))


def read_sources(path: str | Path) -> list[tuple[Path, str]]:
    """The (root, view) pairs of a sources file (`read_sources_file`)."""
    return [(s.root, s.view) for s in read_sources_file(path).sources]


def load_sources(path: str | Path, val_fraction: float = 0.15, seed: int = 0) -> DatasetSplits:
    """Several data-set roots as one: the same classes in each, every sample tagged with its
    root's view; a split is present where every root has it (val held out per root)."""
    spec = read_sources_file(path)
    parts = [load_splits(s.root, val_fraction, seed) for s in spec.sources]
    classes = parts[0].classes
    for data in parts[1:]:
        if data.classes != classes:
            raise DataLayoutError(
                f"{path}: {data.root} has classes {data.classes}, {parts[0].root} {classes}"
            )
    merged = DatasetSplits(
        root=Path(path),
        classes=classes,
        views=[s.view for s in spec.sources],
        view_augment=[s.augment for s in spec.sources],
        view_weight=[s.weight for s in spec.sources],
    )
    for split in Split:
        if all(split in data.splits for data in parts):
            samples = [
                Sample(s.path, s.label, v)
                for v, data in enumerate(parts)
                for s in data.splits[split].samples
            ]
            merged.splits[split] = SplitData(
                split.value, Path(path), classes, samples, list(merged.views)
            )
    merged.val_note = "; ".join(f"{d.root}: {d.val_note}" for d in parts if d.val_note)
    return merged


def load_splits(root: str | Path, val_fraction: float = 0.15, seed: int = 0) -> DatasetSplits:
    """Read a data set root with train/val/test (any accepted naming), or a sources file of
    several roots with their views (`load_sources`)."""
    if is_sources_file(root):
        return load_sources(root, val_fraction, seed)
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


def load_eval_folder(
    path: str | Path,
    split: Split,
    classes: list[str] | None,
    val_fraction: float = 0.15,
    seed: int = 0,
) -> SplitData:
    """A data-set root (then `split` picks the folder), a sources file (its roots' `split`,
    each sample with its root's view) or one folder of class subfolders."""
    path = Path(path)
    if is_sources_file(path):
        data = load_sources(path, val_fraction, seed).get(split)
        if classes is not None:
            if extra := sorted(set(data.classes) - set(classes)):
                raise DataLayoutError(f"{path}: classes {extra} are not the model's {classes}")
            index = {c: i for i, c in enumerate(classes)}
            names = data.classes
            data.samples = [Sample(s.path, index[names[s.label]], s.view) for s in data.samples]
            data.classes = list(classes)
        return data
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
