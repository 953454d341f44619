"""Printing results for people (tables) and scripts (JSON, CSV)."""

from __future__ import annotations

import csv
import json
import sys
from typing import TYPE_CHECKING, Any

from landrec import api

if TYPE_CHECKING:  # the results' types (landrec.api.types imports the engine)
    from landrec.api.types import (
        CalibrationResult,
        ChannelStats,
        EvalResult,
        ExplainResult,
        MediaPredictions,
        Prediction,
        TrainAndTest,
        VideoPrediction,
    )


SKIPPED_LISTED = 10  # unreadable training files named in the summary; all are in RUN/skipped.csv


def _dump(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _calibration_summary(result: TrainAndTest) -> dict | None:
    c = result.calibration
    if c is None:
        return None
    keys = ("temperature", "threshold", "target_accuracy", "coverage", "accuracy", "ece_before")
    return {k: getattr(c, k) for k in (*keys, "ece_after", "outside_n", "out_of_class")}


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
        "images": tr.images,
        "excluded": tr.excluded,
        "skipped": tr.skipped,
        "notes": tr.notes,
        "test": result.test.to_dict() if result.test else None,
        "calibration": _calibration_summary(result),
    }
    if as_json:
        _dump(summary)
        return
    init = "  ** RANDOM INIT: no pretrained weights **" if tr.random_init else ""
    print(f"run: {tr.run_dir}  (weights: {tr.weights_source}){init}")
    cache_mb = tr.cache_bytes / 1e6
    epochs = len(tr.history)
    print(f"trained {epochs} epochs in {tr.seconds:.1f} s; feature cache {cache_mb:.1f} MB")
    for note in tr.notes:
        print(f"note: {note}")
    for row in tr.skipped[:SKIPPED_LISTED]:
        print(f"skipped {row['path']}: {row['reason']}")
    if len(tr.skipped) > SKIPPED_LISTED:
        more = len(tr.skipped) - SKIPPED_LISTED
        print(f"... and {more} more, see {api.RunFolder(tr.run_dir).skipped}")
    if (c := result.calibration) is not None:
        threshold = "none reaches the target" if c.threshold is None else f"{c.threshold:.3f}"
        print(
            f"calibrated on val: T = {c.temperature:.3f}, unknown below {threshold} "
            f"(val accepted {c.coverage:.1%} for {c.target_accuracy:.0%} accuracy)"
        )
        for row in c.out_of_class:
            rate = row["rejection_rate"]
            shown = "-" if rate is None else f"{rate:.1%}"
            print(f"  out-of-class {row['folder']}: {shown} of {row['n']} said unknown")
    if result.test is not None:
        print()
        print(api.to_markdown(result.test))


def print_eval(result: EvalResult, as_json: bool = False) -> None:
    if as_json:
        _dump(result.to_dict())
    else:
        print(api.to_markdown(result))


def print_predictions(preds: list[Prediction], fmt: str) -> None:
    if fmt == "json":
        _dump([p.to_dict() for p in preds])
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(
            ["path", "label", "confidence", "top_k", "view", "view_confidence", "error"]
        )
        for p in preds:
            top = ";".join(f"{c}:{v:.4f}" for c, v in p.top_k)
            view = [p.view or "", _fmt(p.view_confidence)]
            writer.writerow([p.path, p.label or "", _fmt(p.confidence), top, *view, p.error or ""])
        return
    width = max((len(p.path) for p in preds), default=4)
    for p in preds:
        if p.error:
            print(f"{p.path:<{width}}  ERROR: {p.error}")
        else:
            top = ", ".join(f"{c} {v:.3f}" for c, v in p.top_k)
            seen = _view_text(p.view, p.view_confidence)
            print(f"{p.path:<{width}}  {p.label:<10} {p.confidence:.3f}   [{top}]{seen}")


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


MEDIA_CSV_HEADER = [
    "path",
    "kind",
    "start",
    "end",
    "label",
    "confidence",
    "view",
    "view_confidence",
    "error",
]


def _fmt(x: float | None, digits: int = 4) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def _view_text(view: str | None, confidence: float | None) -> str:
    """The view to print after a label ("   overhead 0.970"); nothing for a model without views."""
    if view is None:
        return ""
    return f"   {view}" + ("" if confidence is None else f" {confidence:.3f}")


def _print_video(v: VideoPrediction) -> None:
    if v.label is None:
        print(f"{v.path}  ERROR: {v.error}")
        return
    length = "" if v.duration is None else f", {v.duration:.1f} s"
    seen = _view_text(v.view, v.view_confidence)
    print(f"{v.path}  {v.label} {v.confidence:.3f}{seen}  ({v.frames} frames{length})")
    print("  shares: " + ", ".join(f"{c} {s:.0%}" for c, s in v.shares.items()))
    for s in v.segments:
        seen = _view_text(s.view, s.view_confidence)
        print(f"  {s.start:8.1f} - {s.end:8.1f} s  {s.label:<12} {s.confidence:.3f}{seen}")
    for r in v.per_frame:
        print(f"  frame {r.time:8.2f} s  {r.label:<12} {r.confidence:.3f}")
    if v.error:
        print(f"  ERROR: {v.error}")


def _media_csv(result: MediaPredictions) -> None:
    """One row per image and one per video segment (a failed video: one row, its error)."""
    writer = csv.writer(sys.stdout)
    writer.writerow(MEDIA_CSV_HEADER)
    for p in result.images:
        view = [p.view or "", _fmt(p.view_confidence)]
        row = [p.path, "image", "", "", p.label or "", _fmt(p.confidence), *view]
        writer.writerow([*row, p.error or ""])
    for v in result.videos:
        if not v.segments:
            writer.writerow([v.path, "video", "", "", "", "", "", "", v.error or ""])
        for s in v.segments:
            row = [v.path, "video", _fmt(s.start, 3), _fmt(s.end, 3), s.label, _fmt(s.confidence)]
            view = [s.view or "", _fmt(s.view_confidence)]
            writer.writerow([*row, *view, v.error or ""])


def print_media(result: MediaPredictions, fmt: str) -> None:
    """Images as `print_predictions` prints them, then each video's summary and segments;
    JSON is one list (video entries have "kind": "video")."""
    if fmt == "json":
        _dump([p.to_dict() for p in result.images] + [v.to_dict() for v in result.videos])
    elif fmt == "csv":
        _media_csv(result)
    else:
        if result.images:
            print_predictions(result.images, fmt)
            print()
        for v in result.videos:
            _print_video(v)


def print_calibration(
    result: CalibrationResult, rejection: dict | None = None, as_json: bool = False
) -> None:
    if as_json:
        _dump({**result.to_dict(), "rejection": rejection})
        return
    r = result
    print(f"calibrated {r.checkpoint} on '{r.split}' ({r.n_images} images)")
    print(
        f"temperature {r.temperature:.4f}: NLL {r.nll_before:.4f} -> {r.nll_after:.4f}, "
        f"ECE {r.ece_before:.4f} -> {r.ece_after:.4f}"
    )
    if r.threshold is not None:
        print(
            f"'unknown' below top-1 probability {r.threshold:.4f}: accepts {r.coverage:.1%} of "
            f"'{r.split}' at accuracy {r.accuracy:.4f} (target {r.target_accuracy})"
        )
    for note in r.notes:
        print(f"note: {note}")
    if rejection is not None:
        inside, outside = rejection["in_class"], rejection["out_of_class"]
        print(
            f"out-of-class images rejected: {outside['rejection_rate']:.1%} of {outside['n']}; "
            f"'{inside['split']}' images wrongly rejected: {inside['false_rejection_rate']:.1%}"
        )
    print(f"wrote {r.files['png']} and {r.files['json']}")


def print_explanation(result: ExplainResult, as_json: bool = False) -> None:
    if as_json:
        _dump(result.to_dict())
        return
    print(
        f"wrote {result.out_png}: Grad-CAM of '{result.class_name}' "
        f"(p={result.probability:.3f}; predicted '{result.predicted}') at {result.target_layer}"
    )
