"""`landrec study` and `landrec tune`, and the MLflow options every training command takes."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from landrec.engine.experiments.study import StudyResult
    from landrec.engine.experiments.tune import TuneResult


def add_tracking_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("MLflow tracking (params, per-epoch metrics, artifacts)")
    group.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking URI [sqlite:///OUT/mlflow.db, artifacts in OUT/mlartifacts]",
    )
    group.add_argument(
        "--no-tracking",
        action="store_true",
        help="do not track (also the default when LANDREC_TRACKING=0)",
    )


def tracking_option(args: argparse.Namespace) -> bool | str:
    """False (off), True (the local store in the output folder) or a tracking URI."""
    from landrec.engine.experiments.tracking import cli_default

    if args.no_tracking:
        return False
    return args.tracking_uri or cli_default()


def _data(args: argparse.Namespace, command: str) -> Path:
    from landrec.cli.main import DEFAULT_DATA_CANDIDATES

    data = args.data or next((p for p in DEFAULT_DATA_CANDIDATES if p.is_dir()), None)
    if data is None:
        raise SystemExit(
            f"landrec {command}: give a DATA folder (../shared/data/landscapes is not here)"
        )
    return Path(data)


def print_study(result: StudyResult, as_json: bool = False) -> None:
    if as_json:
        print(
            json.dumps(
                {"results": [r.to_dict() for r in result.results], **result.files},
                indent=2,
                default=str,
            )
        )
        return
    from landrec.engine.experiments.study_report import table_row

    before = len(result.results) - len(result.ran)
    print(f"study folder {result.out}: ran {len(result.ran)}, {before} had finished before")
    for r in result.results:
        cells = table_row(r)
        print(f"  {cells[0]:<36} val {cells[11]:>7}  test {cells[12]:>7}  {cells[3]}  {cells[-1]}")
    if result.best is not None:
        print(f"best by val accuracy: {result.best.name} -> {result.files['best_config']}")
    print(f"report: {result.files['report_html']} (and report.md)")


def cmd_study(args: argparse.Namespace) -> int:
    from landrec import api

    out = args.out or Path("runs") / f"study-{Path(args.study).stem}"
    result = api.study(args.study, _data(args, "study"), out, tracking_option(args))
    print_study(result, args.json)
    return 1 if any(not r.ok for r in result.results) else 0


def print_tune(result: TuneResult, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(result.__dict__, indent=2, default=str))
        return
    print(f"Optuna study '{result.study_name}' in {result.storage}")
    print(f"{result.finished} finished trials ({result.ran} run by this call)")
    params = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in result.best_params.items()
    )
    print(f"best: trial {result.best_trial}, val accuracy {result.best_value:.4f} ({params})")
    print(f"wrote {result.best_config}")


def cmd_tune(args: argparse.Namespace) -> int:
    from landrec import api
    from landrec.engine.config import TrainConfig

    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    out = args.out or Path("runs") / f"tune-{overrides.get('model') or TrainConfig.model}"
    result = api.tune(
        _data(args, "tune"),
        out,
        args.trials,
        args.config,
        args.storage,
        args.study_name,
        tracking_option(args),
        **overrides,
    )
    print_tune(result, args.json)
    return 0


def add_study_commands(sub: argparse._SubParsersAction) -> None:
    from landrec.cli.main import _add_config_options

    p = sub.add_parser("study", help="run a comparison study from a YAML file, with a report")
    p.add_argument("study", type=Path, help="study YAML (see studies/reference.yaml)")
    p.add_argument("--data", type=Path, help="data-set root (default ../shared/data/landscapes)")
    p.add_argument(
        "--out", type=Path, help="study folder (default runs/study-NAME); rerun to continue"
    )
    p.add_argument("--json", action="store_true")
    add_tracking_options(p)
    p.set_defaults(func=cmd_study)

    p = sub.add_parser("tune", help="Optuna search over the head stage's hyperparameters")
    p.add_argument(
        "data", nargs="?", type=Path, help="data-set root (default ../shared/data/landscapes)"
    )
    p.add_argument(
        "--trials", type=int, default=20, help="finished trials the study should hold [20]"
    )
    p.add_argument(
        "--storage", help="Optuna storage URL [sqlite:///OUT/tune.db]; rerun to continue"
    )
    p.add_argument("--study-name", help="Optuna study name [tune-MODEL]")
    p.add_argument(
        "--out", type=Path, help="folder for trials and best_config.yaml [runs/tune-MODEL]"
    )
    p.add_argument("--config", type=Path, help="YAML of the fixed training options")
    p.add_argument("--json", action="store_true")
    add_tracking_options(p)
    _add_config_options(p)
    p.set_defaults(func=cmd_tune)
