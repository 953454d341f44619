"""The `landrec` command: parse arguments, call the API or engine, print or write results."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from landrec.api import UserError
from landrec.cli import output
from landrec.cli.archive import add_archive_commands
from landrec.cli.audit import add_audit_command
from landrec.cli.options import (
    add_config_options,
    add_reliability_options,
    add_tracking_options,
    add_video_options,
    at_least,
    config_overrides,
    default_train_data,
    probability,
    reliability_options,
    tracking_option,
)
from landrec.cli.study import add_study_commands
from landrec.cli.telemetry import add_telemetry_command

USAGE_ERROR = 2  # exit code of a usage or configuration error (UserError.exit_code)
# What a user can cause: landrec's own errors, and a named path that is missing or a folder
# where a file is due (raised by the operating system where a command opens it).
USER_ERRORS = (UserError, FileNotFoundError, IsADirectoryError)

PREDICT_DESCRIPTION = """\
Classify files (whatever their extension) and every file of folders (recursively, hidden ones
left out), telling images from videos by their content. Every input gets a row: its label, or
why it has none (no such file, unreadable, unsupported format)."""
PREDICT_EXIT_CODES = """exit codes:
  0  at least one input classified and every named path exists
  1  every input failed, or a named path does not exist (its row says so; the rest still run)
  2  usage or configuration error (bad option, unreadable model)"""


def cmd_train(args: argparse.Namespace) -> int:
    from landrec import api

    data = default_train_data(args.data)
    overrides = config_overrides(args)
    out = args.out or Path("runs") / (overrides.get("model") or api.TrainConfig().model)
    tracking = tracking_option(args)
    result = api.train(data, out, args.config, resume=args.resume, tracking=tracking, **overrides)
    output.print_train(result, as_json=args.json)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from landrec import api

    if args.untrained:
        if len(args.paths) != 1:
            raise SystemExit("landrec evaluate --untrained MODEL DATA: give exactly one DATA")
        result = api.evaluate_untrained(args.untrained, args.paths[0], args.split, args.weights)
    else:
        if len(args.paths) != 2:
            raise SystemExit("landrec evaluate RUN_OR_CHECKPOINT DATA")
        checkpoint, data = args.paths
        options = reliability_options(args)
        result = api.evaluate(checkpoint, data, args.split, args.out, args.batch_size, **options)
    output.print_eval(result, as_json=args.json)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Images and videos in one pass over the inputs (each file's kind is sniffed once); the
    image rows print as before, videos add their summaries."""
    from landrec import api
    from landrec.api.options import VideoOptions

    smoothing = {} if args.min_segment is None else {"min_segment_s": args.min_segment}
    options = VideoOptions(args.every, args.scene_change, args.frames, args.smooth, **smoothing)
    result = api.predict_media(
        args.model,
        args.paths,
        args.top_k,
        args.backend,
        args.batch_size,
        True,
        options,
        pages=args.all_pages,
        **reliability_options(args),
    )
    if result.videos:
        output.print_media(result, args.format)
    else:
        output.print_predictions(result.images, args.format)
    rows = [(p.path, p.error) for p in result.images]  # a video fails when it has no label
    rows += [(v.path, (v.error or "failed") if v.label is None else None) for v in result.videos]
    return _predict_exit(rows)


def _predict_exit(rows: list[tuple[str, str | None]]) -> int:
    """Name each missing path and print `N classified, M failed` on stderr (stdout stays
    machine-readable); the exit code: 0 when one input was classified and no named path is
    missing, else 1."""
    from landrec import api

    errors = [error for _, error in rows]
    for path, error in rows:
        if error == api.NOT_FOUND:
            print(f"landrec: error: {path}: {error}", file=sys.stderr)
    failed = [e for e in errors if e is not None]
    print(f"{len(errors) - len(failed)} classified, {len(failed)} failed", file=sys.stderr)
    return 0 if len(failed) < len(errors) and api.NOT_FOUND not in failed else 1


def cmd_models(args: argparse.Namespace) -> int:
    from landrec import api

    output.print_models(api.models(), as_json=args.json)
    return 0


def cmd_data_inspect(args: argparse.Namespace) -> int:
    from landrec import api

    report = api.inspect_data(args.data, args.out)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_markdown())
    return 0


def cmd_data_stats(args: argparse.Namespace) -> int:
    from landrec import api

    stats = api.data_stats(args.data, args.size)
    output.print_stats(stats, as_json=args.json)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from landrec import api

    result = api.export(args.run, args.out, args.int8, args.calibration, args.calibration_images)
    size_mb = result.bytes / 1e6
    print(f"wrote {result.path} ({size_mb:.1f} MB, int8={result.int8}, opset {result.opset})")
    return 0


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
        type=probability,
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
    parser = argparse.ArgumentParser(prog="landrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a classifier (transfer learning, then fine-tuning)")
    p.add_argument(
        "data",
        nargs="?",
        type=Path,
        help="data-set root, or a sources file (YAML: roots with their view) "
        "(default datasets/ground_overhead.yaml: ../shared/data/landscapes + aerial)",
    )
    p.add_argument("--out", type=Path, help="run folder (default runs/MODEL)")
    p.add_argument("--config", type=Path, help="YAML of training options (CLI options override it)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_options(p)
    add_tracking_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test metrics of a run or checkpoint")
    p.add_argument("paths", nargs="+", help="RUN_OR_CHECKPOINT DATA (or DATA with --untrained)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", type=Path, help="write metrics JSON, Markdown and confusion PNG here")
    p.add_argument("--json", action="store_true")
    p.add_argument("--batch-size", type=at_least(1), default=64)
    p.add_argument("--untrained", metavar="MODEL", help="pretrained backbone with a fresh head")
    p.add_argument(
        "--weights", default="auto", help="with --untrained: auto | none | auto-or-none | FILE"
    )
    add_reliability_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "predict",
        help="classify image and video files and folders",
        description=PREDICT_DESCRIPTION,
        epilog=PREDICT_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "model",
        help="run folder, checkpoint, or .onnx file (ONNX Runtime only); "
        "RUN_A,RUN_B: an ensemble (mean probability)",
    )
    p.add_argument("paths", nargs="+")
    p.add_argument("--top-k", type=at_least(1), default=3)
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--backend", choices=["torch", "onnx"], help="[onnx where it is installed]")
    p.add_argument("--batch-size", type=at_least(1), default=32)
    p.add_argument(
        "--all-pages",
        action="store_true",
        help="classify every page of multi-page TIFFs (rows FILE#page=N) [first page only]",
    )
    add_reliability_options(p)
    add_video_options(p)
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
    q.add_argument("--size", type=at_least(16), default=224)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_data_stats)
    add_audit_command(data_sub)

    p = sub.add_parser("export", help="export a checkpoint to ONNX")
    p.add_argument("run", help="run folder or checkpoint")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--int8", action="store_true", help="also quantize to int8")
    p.add_argument("--calibration", help="folder of images for static int8 calibration")
    p.add_argument("--calibration-images", type=at_least(1), default=200)
    p.set_defaults(func=cmd_export)
    _add_reliability_commands(sub)
    add_study_commands(sub)
    add_archive_commands(sub)
    add_telemetry_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `landrec` program (`argv` None: the process's own arguments, and the allocator is
    tuned for this process; see `api.tune_allocator`)."""
    args = build_parser().parse_args(argv)
    from landrec import api

    if argv is None:
        api.tune_allocator()
    try:
        return int(args.func(args))
    except USER_ERRORS as exc:  # bad input: its message, no traceback
        print(f"landrec: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", USAGE_ERROR)


if __name__ == "__main__":
    sys.exit(main())
