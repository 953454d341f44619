"""One benchmark, two revisions of landrec, in one run: the figures of each and their ratio.

A refactoring that must leave speed unchanged is checked here rather than against figures from
another day (this machine is noisy): REV is checked out into a temporary worktree, and the
benchmark runs ROUNDS times on each tree, alternating (base, work tree, base, ...), each time a
fresh process with PYTHONPATH set to that tree's `src` (the same virtual env and data).

    python benchmarks/bench_revisions.py --base 46f2db4 --rounds 3 \\
        --figure 'rows.landrec --help.seconds' --figure 'rows.one image, ONNX Runtime.seconds' \\
        -- bench_startup.py --run RUN --data ../shared/data/landscapes --repeats 5

FIGURE is a dotted path into the benchmark's JSON (`results.ingest.photos_per_s`); each is
reported as the median over rounds, per revision, and as work/base. Writes
`bench_revisions_<benchmark>.json` into --out-dir (default docs/benchmarks). Give the benchmark
absolute paths (--data too): the base tree lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import common

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--base", required=True, help="the git revision to compare with")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--figure", action="append", required=True, help="dotted path into the JSON")
    p.add_argument("--out-dir", type=Path, default=common.RESULTS_DIR)
    p.add_argument("bench", nargs=argparse.REMAINDER, help="-- SCRIPT.py [its arguments]")
    args = p.parse_args(argv)
    args.bench = [a for a in args.bench if a != "--"]
    if not args.bench:
        p.error("give the benchmark after --: -- bench_startup.py --run RUN")
    return args


def figure(record: dict[str, Any], path: str) -> float:
    """The number at a dotted path (keys may hold spaces, not dots)."""
    value: Any = record
    for key in path.split("."):
        value = value[key]
    return float(value)


def run_once(tree: Path, bench: list[str], out_dir: Path) -> dict[str, Any]:
    """The benchmark's JSON after one fresh run of it on `tree`'s code."""
    script, *rest = bench
    env = os.environ | {"PYTHONPATH": str(tree / "src")}
    command = [sys.executable, str(tree / "benchmarks" / script), *rest, "--out-dir", str(out_dir)]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(next(out_dir.glob("*.json")).read_text())


def compare(args: argparse.Namespace, base_tree: Path, scratch: Path) -> dict[str, Any]:
    trees = {"base": base_tree, "work": ROOT}
    values: dict[str, dict[str, list[float]]] = {t: {f: [] for f in args.figure} for t in trees}
    for r in range(args.rounds):
        for label, tree in trees.items():
            record = run_once(tree, args.bench, scratch / f"{label}-{r}")
            for f in args.figure:
                values[label][f].append(figure(record, f))
            print(f"round {r + 1}/{args.rounds} {label}: done", file=sys.stderr)
    out = {}
    for f in args.figure:
        base, work = (statistics.median(values[t][f]) for t in trees)
        runs = {t: values[t][f] for t in trees}
        ratio = work / base if base else None  # an exit code of 0, say
        out[f] = {"base": base, "work": work, "work_over_base": ratio, "runs": runs}
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-revisions-") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "worktree",
                "add",
                "-q",
                "--detach",
                str(base_tree),
                args.base,
            ],
            check=True,
        )
        try:
            figures = compare(args, base_tree, Path(tmp))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)]
            )
    name = Path(args.bench[0]).stem
    settings = {"base": args.base, "rounds": args.rounds, "bench": args.bench}
    notes = ["medians over rounds; base and work tree alternate, each a fresh process"]
    common.write_results(
        f"bench_revisions_{name}", args.out_dir, common.machine_info(), settings, figures, notes
    )
    print("| figure | base | work tree | work / base |")
    print("|---|---|---|---|")
    for f, v in figures.items():
        ratio = "n/a" if v["work_over_base"] is None else f"{v['work_over_base']:.3f}"
        print(f"| {f} | {v['base']:.4g} | {v['work']:.4g} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
