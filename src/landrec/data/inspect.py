"""Study a data set before training: counts, image sizes, unreadable files, leaks, colour stats."""

from __future__ import annotations

import hashlib
import io
import statistics
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from landrec.data.decode import (
    DEFAULT_MAX_PIXELS,
    ImageDecodeError,
    enable_heif,
    load_image,
    pixel_limit_reason,
)
from landrec.data.layout import DataLayoutError, SplitData, load_splits

CHART_NAME = "class_distribution.png"
JPEG_END = b"\xff\xd9"


@dataclass
class InspectReport:
    """What `inspect_dataset` found; paths are relative to `root`."""

    root: str
    classes: list[str]
    counts: dict[str, dict[str, int]]  # split -> class -> files
    size_stats: dict[str, dict[str, float]]  # split -> min_w, max_w, mean_w, median_w, ... _h
    unreadable: list[tuple[str, str]]  # (path, reason)
    cross_split_duplicates: list[list[str]]  # byte-identical files in more than one split
    chart: str | None = None
    val_note: str = ""  # set when val was carved out of train

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return asdict(self)

    def to_markdown(self) -> str:
        """The report as a Markdown document."""
        lines = [f"# Data set `{self.root}`", "", f"Classes ({len(self.classes)}): "]
        lines[-1] += ", ".join(self.classes)
        if self.val_note:
            lines += ["", f"> Note: {self.val_note}."]
        lines += ["", "## Images per class", "", *self._counts_table()]
        lines += ["", "## Image sizes (pixels, as stored, before EXIF rotation)", ""]
        lines += self._sizes_table()
        lines += ["", f"## Unreadable files ({len(self.unreadable)})", ""]
        lines += [f"- `{path}`: {reason}" for path, reason in self.unreadable] or ["None."]
        n_groups = len(self.cross_split_duplicates)
        lines += ["", f"## Identical files in more than one split ({n_groups})", ""]
        groups = [", ".join(f"`{p}`" for p in group) for group in self.cross_split_duplicates]
        lines += [f"- {g}" for g in groups] or ["None."]
        if self.chart:
            lines += ["", f"![Images per class and split]({Path(self.chart).name})"]
        return "\n".join(lines) + "\n"

    def _counts_table(self) -> list[str]:
        splits = list(self.counts)
        rows = ["| class | " + " | ".join(splits) + " | total |"]
        rows.append("|---" * (len(splits) + 2) + "|")
        for c in self.classes:
            ns = [self.counts[s].get(c, 0) for s in splits]
            rows.append(f"| {c} | " + " | ".join(map(str, ns)) + f" | {sum(ns)} |")
        totals = [sum(self.counts[s].values()) for s in splits]
        rows.append("| **total** | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |")
        return rows

    def _sizes_table(self) -> list[str]:
        keys = ["min_w", "median_w", "mean_w", "max_w", "min_h", "median_h", "mean_h", "max_h"]
        rows = ["| split | " + " | ".join(k.replace("_", " ") for k in keys) + " |"]
        rows.append("|---" * (len(keys) + 1) + "|")
        for split, stats in self.size_stats.items():
            if stats:
                rows.append(f"| {split} | " + " | ".join(f"{stats[k]:.0f}" for k in keys) + " |")
        return rows


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def check_image_bytes(path: Path, data: bytes) -> tuple[tuple[int, int] | None, str | None]:
    """Header size of an image file's bytes, or None and the reason it is unreadable.

    A header check plus PIL's `verify()`; JPEGs without an end marker are decoded in full,
    since `verify()` does not notice a JPEG cut short.
    """
    if not data:
        return None, "empty file (0 bytes)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                size, fmt = im.size, im.format
                im.verify()
    except Image.UnidentifiedImageError:
        return None, "not an image file (format not recognised)"
    except Exception as exc:  # PIL's plugins raise many types on malformed files
        return None, f"cannot read image: {exc}"
    too_large = pixel_limit_reason(size, DEFAULT_MAX_PIXELS)
    if too_large is not None:
        return None, too_large
    if fmt == "JPEG" and not data.rstrip(b"\x00").endswith(JPEG_END):
        try:
            load_image(path, draft_size=32)
        except ImageDecodeError as exc:
            return None, exc.reason
    return size, None


def _size_stats(sizes: list[tuple[int, int]]) -> dict[str, float]:
    if not sizes:
        return {}
    out: dict[str, float] = {}
    for axis, values in (("w", [s[0] for s in sizes]), ("h", [s[1] for s in sizes])):
        out[f"min_{axis}"] = float(min(values))
        out[f"max_{axis}"] = float(max(values))
        out[f"mean_{axis}"] = float(statistics.fmean(values))
        out[f"median_{axis}"] = float(statistics.median(values))
    return out


def _draw_chart(counts: dict[str, dict[str, int]], classes: list[str], out: Path) -> None:
    """Grouped bar chart of images per class, one bar per split."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(max(6.0, 0.9 * len(classes) + 2), 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    width = 0.8 / max(1, len(counts))
    for i, (split, per_class) in enumerate(counts.items()):
        ax.bar(x + i * width, [per_class.get(c, 0) for c in classes], width, label=split)
    ax.set_xticks(x + width * (len(counts) - 1) / 2, classes, rotation=30, ha="right")
    ax.set_ylabel("images")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Images per class and split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def inspect_dataset(
    root: str | Path, out_dir: str | Path | None = None, progress: bool = True
) -> InspectReport:
    """Count, measure and check every image of a data set; with `out_dir`, draw the class chart."""
    root = Path(root)
    data = load_splits(root)
    enable_heif()
    counts = {split.value: s.counts() for split, s in data.splits.items()}
    files = [(split.value, smp.path) for split, s in data.splits.items() for smp in s.samples]
    sizes: dict[str, list[tuple[int, int]]] = {split: [] for split in counts}
    unreadable: list[tuple[str, str]] = []
    by_hash: dict[bytes, list[tuple[str, Path]]] = defaultdict(list)
    for split, path in tqdm(files, desc="inspect", unit="img", disable=not progress):
        try:
            data_bytes = path.read_bytes()
        except OSError as exc:
            unreadable.append((_relative(path, root), f"cannot read file: {exc.strerror or exc}"))
            continue
        by_hash[hashlib.blake2b(data_bytes, digest_size=16).digest()].append((split, path))
        size, reason = check_image_bytes(path, data_bytes)
        if size is None:
            unreadable.append((_relative(path, root), reason or "unreadable"))
        else:
            sizes[split].append(size)
    duplicates = [
        sorted(_relative(p, root) for _, p in group)
        for group in by_hash.values()
        if len({split for split, _ in group}) > 1
    ]
    report = InspectReport(
        root=str(root),
        classes=list(data.classes),
        counts=counts,
        size_stats={split: _size_stats(s) for split, s in sizes.items()},
        unreadable=sorted(unreadable),
        cross_split_duplicates=sorted(duplicates),
        val_note=data.val_note,
    )
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _draw_chart(counts, report.classes, out / CHART_NAME)
        report.chart = str(out / CHART_NAME)
    return report


@dataclass
class ChannelStats:
    """Per-channel mean and standard deviation of a split's pixels, in [0, 1]."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    n_images: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def channel_stats(split: SplitData, image_size: int = 224, progress: bool = True) -> ChannelStats:
    """Mean and std per RGB channel over a split, in one pass at `image_size` x `image_size`."""
    total = np.zeros(3, dtype=np.float64)
    total_sq = np.zeros(3, dtype=np.float64)
    n_pixels = 0
    skipped: list[tuple[str, str]] = []
    for sample in tqdm(split.samples, desc="channel stats", unit="img", disable=not progress):
        try:
            img = load_image(sample.path, draft_size=image_size)
        except ImageDecodeError as exc:
            skipped.append((str(sample.path), exc.reason))
            continue
        img = img.resize((image_size, image_size), Image.Resampling.BILINEAR)
        pixels = np.asarray(img, dtype=np.float64).reshape(-1, 3) / 255.0  # (H*W, 3)
        total += pixels.sum(axis=0)
        total_sq += np.square(pixels).sum(axis=0)
        n_pixels += pixels.shape[0]
    if n_pixels == 0:
        raise DataLayoutError(f"{split.root}: no readable images in split '{split.name}'")
    mean = total / n_pixels
    std = np.sqrt(np.maximum(total_sq / n_pixels - np.square(mean), 0.0))
    return ChannelStats(
        mean=(float(mean[0]), float(mean[1]), float(mean[2])),
        std=(float(std[0]), float(std[1]), float(std[2])),
        n_images=len(split.samples) - len(skipped),
        skipped=skipped,
    )
