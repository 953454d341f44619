"""`landrec study` and `landrec tune`, and the MLflow options every training command takes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from landrec.cli.options import (
    add_config_options,
    add_tracking_options,
    at_least,
    config_overrides,
    default_data,
    tracking_option,
)

if TYPE_CHECKING:
    from landrec.api.types import StudyResult, TuneResult


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
    from landrec import api

    before = len(result.results) - len(result.ran)
    print(f"study folder {result.out}: ran {len(result.ran)}, {before} had finished before")
    for r in result.results:
        cells = api.study_table_row(r)
        print(f"  {cells[0]:<36} val {cells[11]:>7}  test {cells[12]:>7}  {cells[3]}  {cells[-1]}")
    if result.best is not None:
        print(f"best by val accuracy: {result.best.name} -> {result.files['best_config']}")
    print(f"report: {result.files['report_html']} (and report.md)")


def cmd_study(args: argparse.Namespace) -> int:
    from landrec import api

    out = args.out or Path("runs") / f"study-{Path(args.study).stem}"
    result = api.study(args.study, default_data(args.data, "study"), out, tracking_option(args))
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

    overrides = config_overrides(args)
    out = args.out or Path("runs") / f"tune-{overrides.get('model') or api.TrainConfig().model}"
    result = api.tune(
        default_data(args.data, "tune"),
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
        "--trials", type=at_least(1), default=20, help="finished trials the study should hold [20]"
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
    add_config_options(p)
    p.set_defaults(func=cmd_tune)
