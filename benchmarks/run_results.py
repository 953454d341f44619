"""Run the default recipe per model with the real CLI and write docs/results.md from its output.

    python benchmarks/run_results.py --models mobilenet_v2 efficientnet_lite0

Each model runs as `landrec train DATA --model M --out runs/results/M --json` in a subprocess,
timed from the outside (wall time includes start-up, feature caching, both stages and the test
evaluation). The feature cache is cleared first unless --warm, so the figure is a cold run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path

import common

ROOT = common.REPO


def run_model(model: str, data: Path, out: Path, cache: Path, extra: list[str]) -> dict:
    cmd = ["landrec", "train", str(data), "--model", model, "--out", str(out)]
    cmd += ["--cache-dir", str(cache), "--json", *extra]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    result = json.loads(proc.stdout)
    return {"command": " ".join(cmd), "wall_seconds": wall, "result": result}


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| model | weights | test accuracy | macro F1 | wall time (s) | train s | best val acc |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        res, test = r["result"], r["result"]["test"]
        lines.append(
            f"| {test['model']} | {res['weights']} | **{test['accuracy']:.4f}** | "
            f"{test['macro_f1']:.4f} | {r['wall_seconds']:.0f} | {res['train_seconds']:.0f} | "
            f"{res['best_val_accuracy']:.4f} |"
        )
    return lines


def per_model(r: dict) -> list[str]:
    test = r["result"]["test"]
    classes = test["classes"]
    lines = [f"### {test['model']}", "", "```", r["command"], "```", ""]
    lines += ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for c, m in test["per_class"].items():
        lines.append(
            f"| {c} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['support']} |"
        )
    lines += ["", "Confusion matrix (rows true, columns predicted):", ""]
    lines += ["| | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
    for c, row in zip(classes, test["confusion_matrix"], strict=True):
        lines.append(f"| **{c}** | " + " | ".join(map(str, row)) + " |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2", "efficientnet_lite0"])
    parser.add_argument("--data", type=Path, default=common.DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "results")
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "results-cache")
    parser.add_argument("--warm", action="store_true", help="keep the feature cache")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "results.json")
    parser.add_argument("extra", nargs="*", help="more `landrec train` options, after --")
    args = parser.parse_args()
    rows = []
    for model in args.models:
        if not args.warm:
            shutil.rmtree(args.cache, ignore_errors=True)
        rows.append(run_model(model, args.data, args.out / model, args.cache, args.extra))
        accuracy, wall = rows[-1]["result"]["test"]["accuracy"], rows[-1]["wall_seconds"]
        print(f"{model}: test accuracy {accuracy:.4f} in {wall:.0f} s")
    record = {
        "command": common.command_line(),
        "date": date.today().isoformat(),
        "machine": common.machine_info(),
        "rows": rows,
    }
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(json.dumps(record, indent=2))
    print("\n".join(table(rows)))


if __name__ == "__main__":
    main()
