"""Build the out-of-source OVERHEAD set: overhead scenes of the five contexts from other sensors
and resolutions than the aerial training set (NaSC-TG2), for evaluation only; never train on it.

Reads each source from a bare git mirror (the `fetch` tool's /work/.mirror/OWNER+NAME/repo),
maps its class onto landrec's (MAPPING; e.g. Beach -> coast) and writes OUT/<class>/<prefix>_<name>
with OUT/manifest.csv (the columns of build_outofsource.py, read by bench_robustness.py
--out-of-source, plus the source's own class). Overhead classes that are none of the five go to
OOC/<name>/ (at most OOC_LIMIT each, for the "unknown" check) with their own manifest.csv.
Exact and near duplicates of the aerial set (any split, and aerial-out-of-class) and of photos
already kept are dropped, by build_outofsource.py's hashing.

  python benchmarks/build_outofsource_aerial.py --out /work/outofsource_aerial \\
      --ooc /work/outofsource_aerial_ooc
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import sys
from pathlib import Path

import common
from build_outofsource import (
    Index,
    Source,
    add_photos,
    keep_unless_duplicate,
    reference_index,
    source_files,
)

AERIAL = common.DEFAULT_DATA.parent / "aerial"
AERIAL_OOC = common.DEFAULT_DATA.parent / "aerial-out-of-class"
CONTEXTS = ("coast", "desert", "forest", "glacier", "mountain")
OOC_LIMIT = 60  # overhead out-of-class photos kept per class
# A source's class (lower case) -> landrec's; a class not here and not a context is out-of-class.
MAPPING = {"beach": "coast", "snowberg": "glacier", "glacier": "glacier", "iceland": "glacier"}
Row = dict[str, str]  # one manifest line

AID_REPO, AID_COMMIT = "zlima/testtensor", "f6a0f74645eab10754425bff50747e508290dee1"
AID = (
    "AID (Xia et al. 2017): Google Earth imagery, 0.5-8 m/pixel, "
    "600x600 originally, 150x150 as committed"
)
AID_CONTEXT = ("Beach", "Desert", "Forest", "Mountain")  # AID has no snow or glacier class
# Overhead scenes that are none of the five; BareLand is the hard one (bare ground, not sand dunes).
AID_OOC = ("Airport", "BareLand", "DenseResidential", "Farmland", "Meadow", "Port", "River")


def target_class(source_class: str) -> str:
    """landrec's class for a source's class name, or the source's name (lower case) if none."""
    name = source_class.lower().replace(" ", "").replace("_", "")
    return MAPPING.get(name, name)


def aid(folder: str) -> Source:
    return Source(
        AID_REPO,
        AID_COMMIT,
        f"AID/{folder}",
        target_class(folder),
        "aid",
        "none stated (AID: research use)",
        AID,
    )


SOURCES = tuple(aid(folder) for folder in AID_CONTEXT + AID_OOC)


def pick(paths: list[str], limit: int | None) -> list[str]:
    """At most `limit` of the paths, the same ones on every run (ordered by sha256 of the path)."""
    ranked = sorted(paths, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
    return sorted(ranked[:limit])


def add_flat_folder(index: Index, root: Path) -> Index:
    """Add every photo of root/<class>/ (a folder without splits) to the index."""
    return add_photos(index, root, "*/*", f"{root.name}/")


def build(out: Path, ooc: Path, aerial: Path, aerial_ooc: Path) -> tuple[list[Row], list[Row]]:
    """Write the kept photos; return every candidate's manifest row: (contexts, out-of-class)."""
    reference = add_flat_folder(reference_index(aerial), aerial_ooc)
    kept = Index([], {}, [], [])
    rows: dict[bool, list[Row]] = {True: [], False: []}
    for source in SOURCES:
        in_class = source.cls in CONTEXTS
        files = dict(source_files(source))
        for path in pick(list(files), None if in_class else OOC_LIMIT):
            target = out if in_class else ooc
            row = keep_unless_duplicate(source, path, files[path], reference, kept, target)
            row["source_class"] = Path(source.folder).name
            rows[in_class].append(row)
    return rows[True], rows[False]


def write_manifest(folder: Path, rows: list[Row]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    counts: dict[str, int] = {}
    for row in rows:
        if row["kept"] == "yes":
            counts[row["class"]] = counts.get(row["class"], 0) + 1
    kept = sum(counts.values())
    print(f"{folder}: {len(rows)} candidates, {kept} kept {counts}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="the five contexts; outside the repo")
    p.add_argument("--ooc", type=Path, required=True, help="out-of-class overhead scenes")
    p.add_argument("--aerial", type=Path, default=AERIAL, help="train/val/test root")
    p.add_argument("--aerial-ooc", type=Path, default=AERIAL_OOC, help="<class>/ root")
    args = p.parse_args(argv)
    for folder in (args.out, args.ooc):
        if folder.exists():
            shutil.rmtree(folder)  # a rebuild starts from nothing
    contexts, others = build(args.out, args.ooc, args.aerial, args.aerial_ooc)
    write_manifest(args.out, contexts)
    write_manifest(args.ooc, others)
    return 0


if __name__ == "__main__":
    sys.exit(main())
