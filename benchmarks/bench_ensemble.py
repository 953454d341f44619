"""Ensembles of trained runs on the test split: probability averaging against each model alone.

For every run, the full class distribution of every test photo comes from the public API
(`landrec.api.predict(run, [test], top_k=<classes>, unknown=False)`, ONNX Runtime by default),
timed end to end (model load, decode, preprocess, inference) after one warm-up call on a single
photo (which builds the run's cached ONNX export if it is missing). Then, for every subset of
two or more runs:

mean_prob     the mean of the members' probabilities
mean_logprob  the mean of their log-probabilities (a geometric mean; same argmax as averaging
              temperature-free logits up to each model's own normalisation)

Accuracy and macro F1 (scikit-learn) of each model and ensemble on the raw labels (the folder
names) and on the reviewed labels (docs/audit_test_relabels.csv: `relabel` rows take
`new_label`, `drop` rows leave the test split). An ensemble's images/s is the images over the
sum of its members' timed prediction seconds (they run one after another on the same cores).

  python benchmarks/bench_ensemble.py --run mobilenet_v2=runs/mobilenet_v2 \
      --run efficientnet_lite0=/work/runs/lite0 \
      --train-json efficientnet_lite0=/work/runs/lite0.json
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import common

BENCHMARK = "bench_ensemble"
RELABELS = common.REPO / "docs/audit_test_relabels.csv"
METHODS = ("mean_prob", "mean_logprob")
NOTES = [
    "images_per_s: test photos over the wall seconds of one api.predict call (ONNX Runtime, "
    "batch 32, after a one-photo warm-up call); an ensemble's is the images over the sum of "
    "its members' seconds.",
    "reviewed labels: docs/audit_test_relabels.csv applied (relabel -> new_label, drop -> "
    "left out); raw: the folder names.",
    "train_seconds: the whole train command's wall seconds (--wall) where given, else "
    "`train_seconds` of its --json output (feature caching and both stages, no start-up or "
    "test evaluation), else the sum of history.csv's per-epoch seconds (epochs alone); each "
    "run's record keeps all three that are known. An ensemble's is its members' sum.",
]


def named_paths(values: list[str]) -> dict[str, Path]:
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            raise SystemExit(f"expected NAME=PATH, got {value!r}")
        out[name] = Path(path)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", action="append", required=True, help="NAME=RUN_FOLDER, repeatable")
    p.add_argument("--train-json", action="append", default=[], help="NAME=train --json output")
    p.add_argument("--wall", action="append", default=[], help="NAME=SECONDS of the train command")
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA)
    p.add_argument("--relabels", type=Path, default=RELABELS)
    p.add_argument("--repeats", type=int, default=1, help="timed predict calls per run (min)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def reviewed_labels(relabels: Path) -> tuple[dict[str, str], set[str]]:
    """path (relative to the data root) -> new label, and the dropped paths."""
    relabelled, dropped = {}, set()
    with relabels.open() as f:
        for row in csv.DictReader(f):
            if row["decision"] == "relabel":
                relabelled[row["path"]] = row["new_label"]
            elif row["decision"] == "drop":
                dropped.add(row["path"])
    return relabelled, dropped


def class_names(test: Path) -> list[str]:
    return sorted(p.name for p in test.iterdir() if p.is_dir())


def predict_run(run: Path, test: Path, classes: list[str], repeats: int) -> dict[str, Any]:
    """Full distributions of every test photo (keyed by path relative to the data root) and
    the wall seconds of the fastest of `repeats` api.predict calls."""
    from landrec import api

    one = next(p for p in sorted((test / classes[0]).iterdir()) if p.is_file())
    api.predict(run, [one], top_k=len(classes), unknown=False, progress=False)  # warm-up
    walls, rows = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        rows = api.predict(run, [test], top_k=len(classes), unknown=False, progress=False)
        walls.append(time.perf_counter() - started)
    root = os.path.abspath(test.parent)
    probs, errors = {}, []
    for row in rows:
        key = os.path.relpath(os.path.abspath(row.path), root)
        if row.error:
            errors.append({"path": key, "error": row.error})
            continue
        given = dict(row.top_k)
        probs[key] = np.array([given.get(c, 0.0) for c in classes], dtype=np.float64)
    sums = [float(v.sum()) for v in probs.values()]
    return {
        "probs": probs,
        "wall_s_rounds": walls,
        "wall_s": min(walls),
        "errors": errors,
        "probability_sum_range": [min(sums, default=0.0), max(sums, default=0.0)],
    }


def train_seconds(run: Path, train_json: Path | None, wall: float | None) -> dict[str, Any]:
    """The run's training cost: the whole `landrec train` command's wall seconds where given
    (--wall), `train_seconds` of its `--json` output (caching and both stages) where given, and
    the sum of history.csv's per-epoch seconds (the epochs alone)."""
    from landrec.engine.runs import RunFolder

    out: dict[str, Any] = {"train_command_wall_s": wall, "train_seconds_json": None}
    if train_json is not None and train_json.is_file() and train_json.stat().st_size:
        record = json.loads(train_json.read_text())
        out["train_seconds_json"] = record.get("train_seconds")
        out["test_accuracy_train_json"] = (record.get("test") or {}).get("accuracy")
    history = RunFolder(run).history
    epochs = None
    if history.is_file():
        with history.open() as f:
            epochs = sum(float(r["seconds"]) for r in csv.DictReader(f) if r.get("seconds"))
    out["epochs_seconds_history"] = epochs
    out["train_seconds"] = next(
        (v for v in (wall, out["train_seconds_json"], epochs) if v is not None), None
    )
    return out


def scores(
    probs: np.ndarray, keys: list[str], classes: list[str], truth: dict[str, dict[str, str]]
) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    predicted = dict(zip(keys, (classes[i] for i in probs.argmax(axis=1)), strict=True))
    out = {}
    for name, labels in truth.items():
        kept = [k for k in keys if k in labels]
        y_true = [labels[k] for k in kept]
        y_pred = [predicted[k] for k in kept]
        out[name] = {
            "images": len(kept),
            "correct": int(sum(t == p for t, p in zip(y_true, y_pred, strict=True))),
            "accuracy": accuracy_score(y_true, y_pred),
            "macro_f1": f1_score(y_true, y_pred, labels=classes, average="macro"),
        }
    return out


def combine(stack: np.ndarray, method: str) -> np.ndarray:
    """`stack`: members x images x classes."""
    if method == "mean_prob":
        return stack.mean(axis=0)
    logp = np.log(np.clip(stack, 1e-12, 1.0)).mean(axis=0)
    return np.exp(logp - logp.max(axis=1, keepdims=True))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    runs = named_paths(args.run)
    train_jsons = named_paths(args.train_json)
    walls = {k: float(str(v)) for k, v in named_paths(args.wall).items()}
    machine = common.machine_info()
    test = args.data / "test"
    classes = class_names(test)
    relabelled, dropped = reviewed_labels(args.relabels)

    predictions = {}
    for name, run in runs.items():
        print(f"predicting with {name} ({run}) ...", flush=True)
        predictions[name] = predict_run(run, test, classes, args.repeats)
        print(f"  {predictions[name]['wall_s']:.1f} s", flush=True)

    keys = sorted(set.intersection(*(set(p["probs"]) for p in predictions.values())))
    raw = {k: Path(k).parent.name for k in keys}
    reviewed = {k: relabelled.get(k, v) for k, v in raw.items() if k not in dropped}
    truth = {"raw": raw, "reviewed": reviewed}
    n = len(keys)

    singles = {}
    for name, p in predictions.items():
        matrix = np.stack([p["probs"][k] for k in keys])
        singles[name] = {
            "run": str(runs[name]),
            **scores(matrix, keys, classes, truth),
            **train_seconds(runs[name], train_jsons.get(name), walls.get(name)),
            "predict_wall_s": p["wall_s"],
            "predict_wall_s_rounds": p["wall_s_rounds"],
            "images_per_s": n / p["wall_s"],
            "prediction_errors": p["errors"],
            "probability_sum_range": p["probability_sum_range"],
        }

    ensembles = []
    names = list(predictions)
    for size in range(2, len(names) + 1):
        for members in itertools.combinations(names, size):
            stack = np.stack([[predictions[m]["probs"][k] for k in keys] for m in members])
            wall = sum(predictions[m]["wall_s"] for m in members)
            trained = [singles[m]["train_seconds"] for m in members]
            for method in METHODS:
                ensembles.append(
                    {
                        "members": list(members),
                        "method": method,
                        **scores(combine(stack, method), keys, classes, truth),
                        "train_seconds": None if None in trained else sum(trained),
                        "predict_wall_s": wall,
                        "images_per_s": n / wall,
                    }
                )

    member_preds = {
        m: np.stack([predictions[m]["probs"][k] for k in keys]).argmax(1) for m in names
    }
    truth_idx = np.array([classes.index(raw[k]) for k in keys])
    any_right = np.zeros(n, dtype=bool)
    for pred in member_preds.values():
        any_right |= pred == truth_idx
    agreement = {
        f"{a}|{b}": float((member_preds[a] == member_preds[b]).mean())
        for a, b in itertools.combinations(names, 2)
    }

    best = max(
        ensembles,
        key=lambda e: (e["raw"]["accuracy"], e["reviewed"]["accuracy"]),
        default={"members": None, "method": None},
    )
    results = {
        "classes": classes,
        "images": n,
        "single": singles,
        "ensembles": ensembles,
        "best_ensemble_raw": {k: best[k] for k in ("members", "method")},
        "top1_agreement_raw": agreement,
        "oracle_any_member_right_raw": float(any_right.mean()),
        "target_97_reached": {
            "raw": any(e["raw"]["accuracy"] >= 0.97 for e in [*singles.values(), *ensembles]),
            "reviewed": any(
                e["reviewed"]["accuracy"] >= 0.97 for e in [*singles.values(), *ensembles]
            ),
        },
    }
    settings = {
        "data": str(args.data),
        "relabels": str(args.relabels),
        "runs": {k: str(v) for k, v in runs.items()},
        "repeats": args.repeats,
        "quick": args.quick,
        "backend": "api.predict default (ONNX Runtime where installed)",
    }
    common.write_results(BENCHMARK, common.out_dir_for(args), machine, settings, results, NOTES)
    print_table(singles, ensembles)


def print_table(singles: dict[str, dict], ensembles: list[dict]) -> None:
    def fmt(x: float | None, spec: str) -> str:
        return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)

    print("| model or ensemble | raw acc | reviewed acc | macro F1 raw | train s | images/s |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = [(name, s) for name, s in singles.items()]
    rows += [(" + ".join(e["members"]) + f" ({e['method']})", e) for e in ensembles]
    for label, r in rows:
        print(
            f"| {label} | {r['raw']['accuracy']:.4f} | {r['reviewed']['accuracy']:.4f} | "
            f"{r['raw']['macro_f1']:.4f} | {fmt(r['train_seconds'], '.0f')} | "
            f"{r['images_per_s']:.1f} |"
        )


if __name__ == "__main__":
    main()
