"""The `landrec` command: parse arguments, call the API or engine, print or write results."""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import typing
from dataclasses import fields
from pathlib import Path

from landrec.cli import output

# The shared photos sit beside the checkout: ../shared/data/landscapes from the repo root.
_SHARED = Path("shared") / "data" / "landscapes"
DEFAULT_DATA_CANDIDATES = (
    Path("..") / _SHARED,
    Path(__file__).resolve().parents[3].parent / _SHARED,
)


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One --option per TrainConfig field, so the CLI and the config never drift apart."""
    from landrec.engine.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    comments = dict(re.findall(r"^\s+(\w+): .*?#\s*(.+)$", inspect.getsource(TrainConfig), re.M))
    group = parser.add_argument_group("training options (override --config; default in brackets)")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(f.default, "value", f.default)
        help_text = f"{comments.get(f.name, '')} [{default}]".replace("%", "%%")
        if hints[f.name] is bool:
            group.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            group.add_argument(flag, dest=f.name, default=None, metavar="X", help=help_text)


def cmd_train(args: argparse.Namespace) -> int:
    from landrec import api
    from landrec.cli.study import tracking_option
    from landrec.engine.config import TrainConfig

    data = args.data or next((p for p in DEFAULT_DATA_CANDIDATES if p.is_dir()), None)
    if data is None:
        raise SystemExit(
            "landrec train: give a DATA folder (../shared/data/landscapes is not here)"
        )
    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    out = args.out or Path("runs") / (overrides.get("model") or TrainConfig.model)
    tracking = tracking_option(args)
    result = api.train(data, out, args.config, resume=args.resume, tracking=tracking, **overrides)
    output.print_train(result, as_json=args.json)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from landrec import api
    from landrec.engine.evaluation.untrained import evaluate_untrained

    if args.untrained:
        if len(args.paths) != 1:
            raise SystemExit("landrec evaluate --untrained MODEL DATA: give exactly one DATA")
        result = evaluate_untrained(args.untrained, args.paths[0], args.split, args.weights)
    else:
        if len(args.paths) != 2:
            raise SystemExit("landrec evaluate RUN_OR_CHECKPOINT DATA")
        checkpoint, data = args.paths
        options = _reliability(args)
        result = api.evaluate(checkpoint, data, args.split, args.out, args.batch_size, **options)
    output.print_eval(result, as_json=args.json)
    return 0


def cmd_predict_media(args: argparse.Namespace) -> int:
    """`landrec predict` when videos are among the inputs: images as usual, videos summarised."""
    from landrec import api
    from landrec.engine.inference.video import VideoOptions

    options = VideoOptions(args.every, args.scene_change, args.frames)
    result = api.predict_media(
        args.model,
        args.paths,
        args.top_k,
        args.backend,
        args.batch_size,
        True,
        options,
        pages=args.all_pages,
        **_reliability(args),
    )
    output.print_media(result, args.format)
    errors = [p.error for p in result.images] + [v.error for v in result.videos]
    return 0 if not errors or None in errors else 1


def cmd_predict(args: argparse.Namespace) -> int:
    from landrec import api

    if api.has_videos(args.paths):
        return cmd_predict_media(args)
    preds = api.predict(
        args.model,
        args.paths,
        args.top_k,
        args.backend,
        args.batch_size,
        progress=True,
        pages=args.all_pages,
        **_reliability(args),
    )
    output.print_predictions(preds, args.format)
    return 0 if any(p.error is None for p in preds) or not preds else 1


def cmd_models(args: argparse.Namespace) -> int:
    from landrec.models.catalog import model_table

    output.print_models(model_table(), as_json=args.json)
    return 0


def cmd_data_inspect(args: argparse.Namespace) -> int:
    from landrec.data.inspect import inspect_dataset

    report = inspect_dataset(args.data, args.out)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_markdown())
    return 0


def cmd_data_stats(args: argparse.Namespace) -> int:
    from landrec.data.inspect import channel_stats
    from landrec.data.layout import Split, load_splits

    stats = channel_stats(load_splits(args.data).get(Split.TRAIN), args.size)
    output.print_stats(stats, as_json=args.json)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from landrec.data.layout import expand_paths
    from landrec.engine.checkpoint import resolve_checkpoint
    from landrec.engine.inference.export import export_onnx

    calibration = (
        expand_paths([args.calibration])[: args.calibration_images] if args.calibration else None
    )
    result = export_onnx(resolve_checkpoint(args.run), args.out, args.int8, calibration)
    size_mb = result.bytes / 1e6
    print(f"wrote {result.path} ({size_mb:.1f} MB, int8={result.int8}, opset {result.opset})")
    return 0


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _add_video_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("video files (mp4, mov, avi, mkv, webm, ts, ...)")
    group.add_argument(
        "--every", type=_positive, default=1.0, metavar="S", help="classify a frame every S s [1.0]"
    )
    group.add_argument(
        "--scene-change",
        type=_positive,
        metavar="T",
        help="also classify frames whose mean grey-level change from the last one exceeds T (0-1)",
    )
    group.add_argument("--frames", action="store_true", help="also list every classified frame")


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _add_reliability_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("test-time augmentation and the 'unknown' label")
    group.add_argument(
        "--tta", action="store_true", help="average probabilities over the image and its mirror"
    )
    group.add_argument(
        "--threshold",
        type=_probability,
        help="top-1 probability below which the label is 'unknown' [set by landrec calibrate]",
    )
    group.add_argument(
        "--no-unknown", action="store_true", help="always give the top-1 class, never 'unknown'"
    )


def _reliability(args: argparse.Namespace) -> dict:
    return {"tta": args.tta, "unknown": not args.no_unknown, "threshold": args.threshold}


def cmd_calibrate(args: argparse.Namespace) -> int:
    from landrec import api

    result = api.calibrate(args.run, args.data, args.split, args.target_accuracy, args.out)
    rejection = None
    if args.out_of_class:
        rejection = api.rejection_report(args.run, args.data, args.out_of_class)
    output.print_calibration(result, rejection, as_json=args.json)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from landrec import api

    result = api.explain(args.checkpoint, args.image, args.out, args.class_name)
    output.print_explanation(result, as_json=args.json)
    return 0


def _add_reliability_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="fit temperature and 'unknown' threshold on val")
    p.add_argument("run", help="run folder (its best checkpoint is updated) or checkpoint")
    p.add_argument("data", help="data-set root (or a folder of class subfolders)")
    p.add_argument("--split", default="val", choices=["train", "val", "test"])
    p.add_argument(
        "--target-accuracy",
        type=_probability,
        default=0.97,
        help="accuracy the accepted (not 'unknown') images must reach [0.97]",
    )
    p.add_argument("--out", type=Path, help="folder for calibration.png/.json [checkpoint's]")
    p.add_argument(
        "--out-of-class",
        metavar="FOLDER",
        help="images of none of the classes: report how many are rejected (and test's rate)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("explain", help="Grad-CAM heatmap of what the model looked at")
    p.add_argument("checkpoint", help="run folder or checkpoint")
    p.add_argument("image")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--class", dest="class_name", help="class to explain [the predicted one]")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)


def build_parser() -> argparse.ArgumentParser:
    from landrec.cli.study import add_study_commands, add_tracking_options

    parser = argparse.ArgumentParser(prog="landrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a classifier (transfer learning, then fine-tuning)")
    p.add_argument(
        "data", nargs="?", type=Path, help="data-set root (default ../shared/data/landscapes)"
    )
    p.add_argument("--out", type=Path, help="run folder (default runs/MODEL)")
    p.add_argument("--config", type=Path, help="YAML of training options (CLI options override it)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_config_options(p)
    add_tracking_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test metrics of a run or checkpoint")
    p.add_argument("paths", nargs="+", help="RUN_OR_CHECKPOINT DATA (or DATA with --untrained)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", type=Path, help="write metrics JSON, Markdown and confusion PNG here")
    p.add_argument("--json", action="store_true")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--untrained", metavar="MODEL", help="pretrained backbone with a fresh head")
    p.add_argument("--weights", default="auto", help="with --untrained: auto | none | FILE")
    _add_reliability_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="classify image and video files and folders")
    p.add_argument("model", help="run folder, checkpoint, or .onnx file (with --backend onnx)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--all-pages",
        action="store_true",
        help="classify every page of multi-page TIFFs (rows FILE#page=N) [first page only]",
    )
    _add_reliability_options(p)
    _add_video_options(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("models", help="list the registered architectures")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("data", help="study a data set")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    q = data_sub.add_parser("inspect", help="counts, sizes, unreadable files, duplicates, chart")
    q.add_argument("data", type=Path)
    q.add_argument("--out", type=Path, help="folder for class_distribution.png")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_data_inspect)
    q = data_sub.add_parser("stats", help="per-channel mean/std of the train split")
    q.add_argument("data", type=Path)
    q.add_argument("--size", type=int, default=224)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_data_stats)

    p = sub.add_parser("export", help="export a checkpoint to ONNX")
    p.add_argument("run", help="run folder or checkpoint")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--int8", action="store_true", help="also quantize to int8")
    p.add_argument("--calibration", help="folder of images for static int8 calibration")
    p.add_argument("--calibration-images", type=int, default=200)
    p.set_defaults(func=cmd_export)
    _add_reliability_commands(sub)
    add_study_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `landrec` program (`argv` None: the process's own arguments, and the allocator is
    tuned for this process; see landrec.engine.runtime)."""
    args = build_parser().parse_args(argv)
    from landrec.cli.errors import USER_ERRORS

    if argv is None:
        from landrec.engine.runtime import tune_allocator

        tune_allocator()

    try:
        return int(args.func(args))
    except USER_ERRORS as exc:
        print(f"landrec: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
