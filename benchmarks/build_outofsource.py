"""Build the out-of-source photo set: scene photos from public repositories other than the
training set's sources, duplicates of the training set (any split) dropped.

Reads each source from a bare git mirror (the `fetch` tool's /work/.mirror/OWNER+NAME/repo),
writes OUT/<class>/<prefix>_<name> and OUT/manifest.csv (source repository, commit, path,
licence, sha256, 8x8 average hash, kept: yes or why not). Exact duplicates: same sha256;
near duplicates: average hashes (grayscale 8x8) within NEAR_BITS bits AND grayscale 32x32
thumbnails correlated at NEAR_CORR or more. The hash alone is not enough for landscapes: a
bright sky over a dark ground gives most of them the same few hashes, and distinct photos
of a horizon correlate up to ~0.976 at 32x32 (looked at), so both must agree.

  python benchmarks/build_outofsource.py --out ../outofsource
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

import common

MIRRORS = Path("/work/.mirror")
NEAR_BITS = 6  # of 64: a re-encoded or resized copy differs by a few bits
NEAR_CORR = 0.98  # of zero-mean 32x32 grayscale thumbnails


@dataclass(frozen=True)
class Source:
    repo: str  # owner/name
    commit: str
    folder: str  # a folder of the repository holding one class's photos
    cls: str  # landrec's class
    prefix: str  # file-name prefix in OUT/<class>/
    licence: str
    origin: str  # what the photos are, as far as the repository says


SCENE15 = "15-scene (Lazebnik et al. 2006; natural classes from Oliva & Torralba 2001), grayscale"
SOURCES = (
    *(
        Source(
            "jaaumeadrover/Landscape-Image-Classification",
            "7985b6b6e532f94f96da7dee74eb9a0ae7972083",
            folder,
            cls,
            "scene15",
            "none stated",
            SCENE15,
        )
        for folder, cls in (
            ("data/train/Coast", "coast"),
            ("data/test/coast", "coast"),
            ("data/train/Forest", "forest"),
            ("data/test/forest", "forest"),
            ("data/train/Mountain", "mountain"),
            ("data/test/mountain", "mountain"),
        )
    ),
    Source(
        "nhantd/CMU16720-Scene-Classification",
        "de3679b1be3e3a0dd77e2170410f54b230adfc78",
        "data/images/bamboo_forest",
        "forest",
        "sun_bamboo",
        "none stated",
        "SUN database, category bamboo_forest (CMU 16-720 homework data)",
    ),
)


def git(repo: str, *args: str) -> bytes:
    git_dir = MIRRORS / repo.replace("/", "+") / "repo"
    if (git_dir / ".git").is_dir():  # some mirrors are a checkout's .git, others bare
        git_dir = git_dir / ".git"
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], capture_output=True, check=True
    ).stdout


def source_files(source: Source) -> list[tuple[str, bytes]]:
    """(path, bytes) of every image under the source's folder at its commit."""
    names = git(source.repo, "ls-tree", "--name-only", f"{source.commit}:{source.folder}")
    paths = [f"{source.folder}/{n}" for n in names.decode().split()]
    paths = [p for p in paths if Path(p).suffix.lower() in common.IMAGE_SUFFIXES]
    return [(p, git(source.repo, "show", f"{source.commit}:{p}")) for p in paths]


def average_hash(image: Image.Image) -> int:
    """64-bit average hash: 8x8 grayscale thumbnail, one bit per pixel above the mean."""
    small = np.asarray(image.convert("L").resize((8, 8), Image.Resampling.BOX), dtype=np.float32)
    bits = (small > small.mean()).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def thumbnail(image: Image.Image) -> np.ndarray:
    """Zero-mean, unit-norm 32x32 grayscale thumbnail (dot product = correlation)."""
    small = image.convert("L").resize((32, 32), Image.Resampling.BOX)
    v = np.asarray(small, dtype=np.float32).ravel()
    v -= v.mean()
    return v / max(float(np.linalg.norm(v)), 1e-6)


@dataclass
class Index:
    """Photos seen so far: sha256, average hash and thumbnail of each, by name."""

    names: list[str]
    shas: dict[str, str]
    hashes: list[int]
    thumbs: list[np.ndarray]

    def add(self, name: str, sha: str, h: int, thumb: np.ndarray) -> None:
        self.names.append(name)
        self.shas.setdefault(sha, name)
        self.hashes.append(h)
        self.thumbs.append(thumb)

    def duplicate(self, sha: str, h: int, thumb: np.ndarray) -> tuple[str | None, int]:
        """Why the photo duplicates one here (or None), and the nearest hash distance."""
        if not self.names:
            return None, 65
        xor = np.bitwise_xor(np.array(self.hashes, dtype=np.uint64), np.uint64(h))
        bits = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        if sha in self.shas:
            return f"exact duplicate of {self.shas[sha]}", int(bits.min())
        close = np.flatnonzero(bits <= NEAR_BITS)
        if len(close):
            corr = np.stack([self.thumbs[i] for i in close]) @ thumb
            best = int(corr.argmax())
            if corr[best] >= NEAR_CORR:
                i = close[best]
                why = f"near duplicate of {self.names[i]} ({bits[i]} bits, r={corr[best]:.3f})"
                return why, int(bits.min())
        return None, int(bits.min())


def reference_index(data: Path) -> Index:
    """Every photo of the training set's splits (train, val, test)."""
    return add_photos(Index([], {}, [], []), data, "*/*/*")


def add_photos(index: Index, root: Path, pattern: str, prefix: str = "") -> Index:
    """Add every photo matching root/`pattern` to the index, named prefix + its path below root."""
    for photo in sorted(root.glob(pattern)):
        if photo.suffix.lower() in common.IMAGE_SUFFIXES:
            raw = photo.read_bytes()
            with Image.open(io.BytesIO(raw)) as im:
                index.add(
                    prefix + str(photo.relative_to(root)),
                    hashlib.sha256(raw).hexdigest(),
                    average_hash(im),
                    thumbnail(im),
                )
    return index


def build(out: Path, data: Path) -> list[dict[str, str]]:
    """Write the kept photos to out/<class>/ and return the manifest rows of all candidates."""
    reference = reference_index(data)
    kept = Index([], {}, [], [])
    return [
        keep_unless_duplicate(s, path, raw, reference, kept, out)
        for s in SOURCES
        for path, raw in source_files(s)
    ]


def keep_unless_duplicate(
    source: Source, path: str, raw: bytes, reference: Index, kept: Index, out: Path
) -> dict[str, str]:
    """Write one candidate to out/<class>/<prefix>_<name> unless it duplicates a reference
    photo or one kept already (then `kept` holds it too); return its manifest.csv line: where
    it came from, its hashes, kept or why not."""
    sha = hashlib.sha256(raw).hexdigest()
    with Image.open(io.BytesIO(raw)) as im:
        h, thumb, size = average_hash(im), thumbnail(im), f"{im.width}x{im.height}"
    name = f"{source.cls}/{source.prefix}_{Path(path).name}"
    why, bits = reference.duplicate(sha, h, thumb)
    why = why or kept.duplicate(sha, h, thumb)[0]
    if why is None:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(raw)
        kept.add(name, sha, h, thumb)
    return {
        "file": name,
        "class": source.cls,
        "repo": source.repo,
        "commit": source.commit,
        "source_path": path,
        "licence": source.licence,
        "origin": source.origin,
        "size": size,
        "sha256": sha,
        "ahash": f"{h:016x}",
        "nearest_reference_bits": str(bits),
        "kept": why or "yes",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="outside the repository")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA, help="train/val/test root")
    args = p.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)  # a rebuild starts from nothing
    rows = build(args.out, args.data)
    with (args.out / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    kept = sum(r["kept"] == "yes" for r in rows)
    print(f"{len(rows)} candidates, {kept} kept, {len(rows) - kept} dropped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
