"""Accuracy of a trained model on corrupted copies of the test split and on out-of-source photos.

corruptions    every test photo under each corruption of corruptions.py at each severity,
               written losslessly (PNG) to a temporary folder, seeded per photo, so every run
               sees the same pixels; top-1 accuracy overall and per class (the model's
               "unknown" is turned off), the dominant confusions, and the mean over all
               corruption settings against clean accuracy
out_of_source  photos of the same classes from another source, laid out as FOLDER/<class>/
               (see docs/robustness.md for how /work/outofsource is built); per-class accuracy
               and counts, with the sources of its manifest.csv

  python benchmarks/bench_robustness.py --run runs/mobilenet_v2 --out-of-source ../outofsource
  python benchmarks/bench_robustness.py --run runs/mobilenet_v2 --quick    # 8 photos a class
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import common
import corruptions

BENCHMARK = "bench_robustness"
TARGET_DROP = 0.05  # mean corrupted accuracy within 5 points of clean


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="run folder (or checkpoint)")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA / "test")
    p.add_argument("--out-of-source", type=Path, default=None, help="FOLDER/<class>/*.jpg")
    p.add_argument(
        "--corruptions",
        nargs="+",
        default=list(corruptions.CORRUPTIONS),
        choices=tuple(corruptions.CORRUPTIONS),
    )
    p.add_argument("--backend", default=None, help="landrec's default (onnx) unless given")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="8 photos a class")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def photos(folder: Path) -> list[Path]:
    """The images of FOLDER/<class>/, sorted."""
    return sorted(
        p for p in folder.glob("*/*") if p.is_file() and p.suffix.lower() in common.IMAGE_SUFFIXES
    )


def write_corrupted(files: list[Path], data: Path, out: Path, name: str, severity: int, seed: int):
    """Each photo of `files` under `name` at `severity`, into out/<class>/; one generator per
    photo, seeded by (seed, the photo's path relative to `data`, the setting)."""
    setting = zlib.crc32(f"{name}:{severity}".encode())
    for photo in files:
        rel = photo.relative_to(data)
        rng = np.random.default_rng([seed, zlib.crc32(rel.as_posix().encode()), setting])
        with Image.open(photo) as im:
            pixels = np.asarray(im.convert("RGB"))
        result = Image.fromarray(corruptions.apply(pixels, name, severity, rng))
        target = out / rel.with_suffix(".png")  # lossless: the pixels are the corruption's
        target.parent.mkdir(parents=True, exist_ok=True)
        result.save(target)


def score(run: Path, folder: Path, backend: str | None) -> dict[str, Any]:
    """Top-1 accuracy on the photos of FOLDER/<class>/ (true class: the parent folder), per
    class, the confusions, and the predicted class of each photo ("<class>/<name>" -> class)."""
    from landrec import api

    files = photos(folder)  # not the folder: a manifest.csv beside the classes is no photo
    preds = api.predict(run, files, top_k=1, backend=backend, progress=False, unknown=False)
    truth = [Path(p.path).parent.name for p in preds]
    guess = [p.label or "error" for p in preds]
    per_class: dict[str, dict[str, Any]] = {}
    for cls in sorted(set(truth)):
        hits = [g == t for g, t in zip(guess, truth, strict=True) if t == cls]
        per_class[cls] = {"n": len(hits), "accuracy": sum(hits) / len(hits)}
    confusions = Counter(f"{t}->{g}" for g, t in zip(guess, truth, strict=True) if g != t)
    return {
        "n": len(preds),
        "accuracy": sum(g == t for g, t in zip(guess, truth, strict=True)) / max(len(preds), 1),
        "per_class": per_class,
        "confusions": dict(confusions.most_common()),
        "predicted": {
            f"{Path(p.path).parent.name}/{Path(p.path).name}": g
            for p, g in zip(preds, guess, strict=True)
        },
    }


def subset(data: Path, root: Path, per_class: int) -> Path:
    """`per_class` photos of each class of `data`, linked under root/<class>/ (--quick)."""
    n_classes = sum(1 for p in data.iterdir() if p.is_dir())
    for photo in common.sample_files(data, per_class * n_classes):
        (root / photo.parent.name).mkdir(parents=True, exist_ok=True)
        (root / photo.parent.name / photo.name).symlink_to(photo)
    return root


def corruption_results(args: argparse.Namespace, data: Path, root: Path) -> dict[str, Any]:
    """Clean, then every corruption setting in turn, and the summary over them."""
    clean = score(args.run, data, args.backend)
    del clean["predicted"]
    print(f"clean: {clean['accuracy']:.4f}", file=sys.stderr)
    files = photos(data)
    settings: dict[str, dict[str, Any]] = {}
    for name in args.corruptions:
        for severity in range(1, len(corruptions.CORRUPTIONS[name].levels) + 1):
            folder = root / f"{name}-{severity}"
            write_corrupted(files, data, folder, name, severity, args.seed)
            result = score(args.run, folder, args.backend)
            del result["predicted"]
            level = corruptions.CORRUPTIONS[name].levels[severity - 1]
            settings[f"{name}-{severity}"] = {"corruption": name, "severity": severity}
            settings[f"{name}-{severity}"] |= {"level": level, **result}
            print(f"{name}-{severity}: {result['accuracy']:.4f}", file=sys.stderr)
    mean = float(np.mean([s["accuracy"] for s in settings.values()]))
    per_corruption = {
        name: float(np.mean([s["accuracy"] for s in settings.values() if s["corruption"] == name]))
        for name in args.corruptions
    }
    return {
        "clean": clean,
        "settings": settings,
        "per_corruption_mean": per_corruption,
        "mean_corruption_accuracy": mean,
        "drop_vs_clean": clean["accuracy"] - mean,
        "target_drop": TARGET_DROP,
        "meets_target": clean["accuracy"] - mean <= TARGET_DROP,
    }


def read_manifest(folder: Path) -> list[dict[str, str]]:
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        return []
    with manifest.open() as f:
        return list(csv.DictReader(f))


def out_of_source_results(args: argparse.Namespace, classes: list[str]) -> dict[str, Any]:
    """Per-class accuracy on the out-of-source folder; classes it lacks are listed as such."""
    folder = args.out_of_source
    result = score(args.run, folder, args.backend)
    predicted = result.pop("predicted")
    rows = [r for r in read_manifest(folder) if r.get("kept") == "yes"]
    sources = Counter((r["class"], r["repo"], r["commit"], r["licence"]) for r in rows)
    hits = Counter((r["class"], r["repo"]) for r in rows if predicted.get(r["file"]) == r["class"])
    dropped = Counter(r["kept"] for r in read_manifest(folder) if r.get("kept") != "yes")
    return {
        "folder": str(folder),
        **result,
        "classes_without_photos": [c for c in classes if c not in result["per_class"]],
        "sources": [
            {"class": c, "repo": r, "commit": k, "licence": lic, "n": n, "accuracy": hits[c, r] / n}
            for (c, r, k, lic), n in sorted(sources.items())
        ],
        "dropped": dict(dropped),
    }


NOTES = [
    "accuracy: top-1 against the photo's parent folder, with landrec's 'unknown' turned off",
    "corrupted photos are written as PNG (the 'jpeg' setting: the decoded pixels of a JPEG round "
    "trip at that quality); blur and motion sizes are relative to the photo's side",
    "mean_corruption_accuracy: the mean over every corruption and severity listed in settings",
    "out_of_source: see docs/robustness.md for the sources, licences and duplicate check",
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = common.machine_info()
    classes = sorted(p.name for p in args.data.iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory(prefix="bench-robustness-") as tmp:
        root = Path(tmp)
        data = subset(args.data, root / "clean", 8) if args.quick else args.data
        results = corruption_results(args, data, root)
    if args.out_of_source is not None:
        results["out_of_source"] = out_of_source_results(args, classes)
    settings = {
        "run": str(args.run),
        "data": str(args.data),
        "backend": args.backend or "default",
        "seed": args.seed,
        "quick": args.quick,
        "corruptions": {n: list(corruptions.CORRUPTIONS[n].levels) for n in args.corruptions},
    }
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, NOTES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
