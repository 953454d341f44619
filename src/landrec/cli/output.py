"""Printing results for people (tables) and scripts (JSON, CSV)."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

from landrec.api import TrainAndTest
from landrec.data.inspect import ChannelStats
from landrec.engine.evaluate import EvalResult, to_markdown
from landrec.engine.predict import Prediction

RANDOM_INIT = "random init"


def _dump(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def print_train(result: TrainAndTest, as_json: bool = False) -> None:
    tr = result.train
    summary = {
        "run_dir": str(tr.run_dir),
        "checkpoint": str(tr.checkpoint),
        "weights": tr.weights_source,
        "train_seconds": round(tr.seconds, 1),
        "epochs": len(tr.history),
        "best_val_accuracy": max((h["val_accuracy"] for h in tr.history), default=None),
        "cache_bytes": tr.cache_bytes,
        "skipped": tr.skipped,
        "notes": tr.notes,
        "test": result.test.to_dict() if result.test else None,
    }
    if as_json:
        _dump(summary)
        return
    init = "  ** RANDOM INIT: no pretrained weights **" if tr.weights_source == RANDOM_INIT else ""
    print(f"run: {tr.run_dir}  (weights: {tr.weights_source}){init}")
    cache_mb = tr.cache_bytes / 1e6
    epochs = len(tr.history)
    print(f"trained {epochs} epochs in {tr.seconds:.1f} s; feature cache {cache_mb:.1f} MB")
    for note in tr.notes:
        print(f"note: {note}")
    if tr.skipped:
        print(f"skipped {len(tr.skipped)} unreadable files (listed in --json output)")
    if result.test is not None:
        print()
        print(to_markdown(result.test))


def print_eval(result: EvalResult, as_json: bool = False) -> None:
    if as_json:
        _dump(result.to_dict())
    else:
        print(to_markdown(result))


def print_predictions(preds: list[Prediction], fmt: str) -> None:
    if fmt == "json":
        _dump([p.to_dict() for p in preds])
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["path", "label", "confidence", "top_k", "error"])
        for p in preds:
            top = ";".join(f"{c}:{v:.4f}" for c, v in p.top_k)
            conf = "" if p.confidence is None else f"{p.confidence:.4f}"
            writer.writerow([p.path, p.label or "", conf, top, p.error or ""])
        return
    width = max((len(p.path) for p in preds), default=4)
    for p in preds:
        if p.error:
            print(f"{p.path:<{width}}  ERROR: {p.error}")
        else:
            top = ", ".join(f"{c} {v:.3f}" for c, v in p.top_k)
            print(f"{p.path:<{width}}  {p.label:<10} {p.confidence:.3f}   [{top}]")


def print_models(rows: list[dict], as_json: bool = False) -> None:
    if as_json:
        _dump(rows)
        return
    print(f"{'name':<20}{'params':>12}  {'input':>5}  {'weights here':<13} notes")
    for r in rows:
        weights = {"offline": "yes (package)", "cache": "yes (cache)", "no": "no: random init"}[
            r["weights_here"]
        ]
        name, params, size = r["name"], r["parameters"], r["input_size"]
        print(f"{name:<20}{params:>12,}  {size:>5}  {weights:<13} {r['notes']}")


def print_stats(stats: ChannelStats, as_json: bool = False) -> None:
    if as_json:
        _dump(
            {
                "mean": stats.mean,
                "std": stats.std,
                "n_images": stats.n_images,
                "skipped": stats.skipped,
            }
        )
        return
    print(f"train split, {stats.n_images} images")
    print(f"mean: {', '.join(f'{m:.4f}' for m in stats.mean)}")
    print(f"std:  {', '.join(f'{s:.4f}' for s in stats.std)}")
    for path, reason in stats.skipped:
        print(f"skipped {path}: {reason}")
