"""`landrec data audit`: likely label errors and near-duplicates of a data set."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from landrec.cli.options import at_least, positive, probability

AUDIT_DESCRIPTION = """\
Find likely label errors and near-duplicates in every split. Each image gets frozen ImageNet
features from each backbone (cached, so a second audit decodes nothing) and an out-of-fold
probability per class from a logistic regression fitted on the other folds (stratified by
label, train, val and test pooled). An image is a suspect when another class's probability
clears that class's threshold (its mean probability over the images labelled with it) and its
own label's does not (confident learning). Nothing in DATA is changed: review suspects.csv and
the contact sheets, then train without the confirmed ones with `landrec train --exclude FILE`."""


def cmd_data_audit(args: argparse.Namespace) -> int:
    from landrec import api
    from landrec.api.types import AuditOptions

    overrides = {
        k: v
        for k, v in {
            "weights": args.weights,
            "image_size": args.image_size,
            "batch_size": args.batch_size,
            "workers": args.workers,
            "cache_dir": args.cache_dir,
            "device": args.device,
        }.items()
        if v is not None
    }
    options = AuditOptions(
        models=tuple(args.models),
        folds=args.folds,
        c=args.c,
        duplicate_threshold=args.duplicate_threshold,
        per_sheet=args.per_sheet,
        overrides=overrides,
    )
    result = api.audit(args.data, args.out, options)
    if args.json:
        print(json.dumps(result.summary, indent=2))
    else:
        print_audit(result.summary)
    return 0


def print_audit(summary: dict) -> None:
    """The summary as a few lines: probe accuracy, suspects per split, duplicates, files."""
    models = " + ".join(summary["models"])
    print(
        f"audited {summary['images']} images with {models} in {summary['seconds']} s; "
        f"out-of-fold probe accuracy {summary['probe_accuracy']:.4f} ({summary['folds']} folds)"
    )
    per_split = ", ".join(f"{s} {n}" for s, n in summary["suspects_by_split"].items())
    print(f"suspected label errors: {summary['suspects']} ({per_split})")
    print(
        f"near-duplicate pairs (cosine > {summary['duplicate_threshold']}): "
        f"{summary['duplicates']}, {summary['cross_split_duplicates']} across splits"
    )
    for row in summary["skipped"]:
        print(f"skipped {row['path']}: {row['reason']}")
    for path in summary["files"]:
        print(f"wrote {path}")


def add_audit_command(data_sub: argparse._SubParsersAction) -> None:
    """`landrec data audit` under the `data` command."""
    q = data_sub.add_parser(
        "audit",
        help="likely label errors and near-duplicates (confident learning on frozen features)",
        description=AUDIT_DESCRIPTION,
    )
    q.add_argument("data", type=Path)
    q.add_argument("--out", type=Path, default=Path("runs") / "audit", help="[runs/audit]")
    q.add_argument("--json", action="store_true", help="print the summary as JSON")
    q.add_argument("--folds", type=at_least(2), default=5, help="cross-validation folds [5]")
    q.add_argument(
        "--models",
        nargs="+",
        default=["mobilenet_v2", "efficientnet_lite0"],
        metavar="MODEL",
        help="backbones whose features are concatenated [mobilenet_v2 efficientnet_lite0]",
    )
    q.add_argument("--weights", help="auto | none | auto-or-none | FILE [auto]")
    q.add_argument(
        "--c", type=positive, default=0.01, help="logistic regression's inverse L2 strength [0.01]"
    )
    q.add_argument(
        "--duplicate-threshold",
        type=probability,
        default=0.97,
        help="cosine similarity of features above which two files are near-duplicates [0.97]",
    )
    q.add_argument("--per-sheet", type=at_least(1), default=24, help="suspects per contact sheet")
    q.add_argument("--image-size", type=at_least(32), help="input size [each model's own]")
    q.add_argument("--batch-size", type=at_least(1), help="feature extraction batch [64]")
    q.add_argument("--workers", type=at_least(0), help="decode processes [automatic]")
    q.add_argument("--cache-dir", help="feature cache folder [~/.cache/landrec/features]")
    q.add_argument("--device", help="auto | cpu | cuda | cuda:N [auto]")
    q.set_defaults(func=cmd_data_audit)
