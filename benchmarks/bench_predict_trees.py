"""Before/after of a prediction change, finer than `bench_revisions.py`: one `landrec predict
MODEL FOLDER --format csv` process per source tree, the trees in turn within each round, and the
model alone (ONNX Runtime, batch 32) right after them, so each round has its own ratios and a
noisy stretch of the machine hits every tree alike. (`bench_revisions.py` alternates whole
benchmark runs of several minutes each.)

Each tree is a folder holding landrec's `src` (a checkout, or `git archive REV src | tar -x`);
its processes run with PYTHONPATH=TREE/src and this interpreter. The trees' CSVs are compared:
same rows, labels and confidences.

  git archive 9dbdcbe src | tar -x -C /tmp/before
  python benchmarks/bench_predict_trees.py --run RUN --trees /tmp/before,. --rounds 5
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import common

BENCHMARK = "bench_predict_trees"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="run folder with its ONNX export")
    p.add_argument("--trees", required=True, help="comma-separated folders holding src/")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA / "test")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=3.0, help="model-only timed seconds")
    p.add_argument("--quick", action="store_true", help="one round, 1 s model-only")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def model_only(run: Path, data: Path) -> Callable[[], object]:
    """Batch-32 logits of the run's ONNX model on 32 preprocessed photos of `data`."""
    from landrec.data.sniff import detect_all
    from landrec.engine.config import Backend
    from landrec.engine.inference.classifier import load_classifier
    from landrec.engine.pipeline import image_batches

    classifier = load_classifier(run, Backend.ONNX)
    items = [(d.path, 0) for d in detect_all([data])][:32]
    batch = next(image_batches(items, classifier.preprocessing, 32)).images
    return lambda: classifier.logits(batch)


def rows_of(path: Path) -> list[tuple[str, str, str]]:
    with path.open() as f:
        return [(r["path"], r["label"], r["confidence"]) for r in csv.DictReader(f)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    trees = [Path(t).resolve() for t in args.trees.split(",")]
    if len(set(trees)) != len(trees) or not all((t / "src" / "landrec").is_dir() for t in trees):
        raise SystemExit(f"--trees: distinct folders holding src/landrec, not {args.trees}")
    rounds, seconds = (1, 1.0) if args.quick else (args.rounds, args.seconds)
    common.read_all(args.data)
    alone_fn = model_only(args.run, args.data)
    walls: dict[Path, list[float]] = {t: [] for t in trees}
    alone: list[float] = []
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-trees-") as tmp:
        csvs = {t: Path(tmp) / f"{i}.csv" for i, t in enumerate(trees)}
        for _ in range(rounds):
            loads.append(os.getloadavg()[0])
            for tree in trees:
                walls[tree].append(
                    common.predict_wall(args.run, args.data, csvs[tree], tree / "src")
                )
            measured = common.measure(alone_fn, 32, seconds, repeats=1, warmup_s=0.5)
            alone.append(measured["images_per_s"])
        rows = [rows_of(csvs[t]) for t in trees]
    n = len(rows[0])
    per_tree = {}
    for tree in trees:
        rates = [n / w for w in walls[tree]]
        ratios = [r / a for r, a in zip(rates, alone, strict=True)]
        per_tree[str(tree)] = {
            "images_per_s_rounds": rates,
            "images_per_s_median": statistics.median(rates),
            "over_model_only_rounds": ratios,
            "over_model_only_median": statistics.median(ratios),
        }
    results = {
        "images": n,
        "model_only_images_per_s_rounds": alone,
        "load_average_1min_at_rounds": loads,
        "same_rows_labels_confidences": all(r == rows[0] for r in rows[1:]),
        "trees": per_tree,
    }
    settings = {"run": str(args.run), "data": str(args.data), "rounds": rounds}
    settings |= {"trees": [str(t) for t in trees], "quick": args.quick}
    notes = [
        "a fresh `landrec predict` process per tree and round (PYTHONPATH=TREE/src), trees in "
        "turn, then model-only in the same round; each round's ratios are its own",
    ]
    machine = common.machine_info()
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
