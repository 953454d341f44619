"""Options several commands share: the training options (one flag per TrainConfig field),
MLflow tracking, and the default data folder."""

from __future__ import annotations

import argparse
import math
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

from landrec.api import CONFIG_ALIASES, TrainConfig, read_sources, tracking_default

# The shared photos sit beside the checkout: ../shared/data/landscapes from the repo root.
_SHARED = Path("shared") / "data" / "landscapes"
DEFAULT_DATA_CANDIDATES = (
    Path("..") / _SHARED,
    Path(__file__).resolve().parents[3].parent / _SHARED,
)


# The default training data: the repository's sources file of ground and overhead photos.
DEFAULT_SOURCES = Path(__file__).resolve().parents[3] / "datasets" / "ground_overhead.yaml"


def default_train_data(given: Path | None) -> Path:
    """The DATA argument; else the ground + overhead sources file when both of its folders are
    here; else ../shared/data/landscapes."""
    if given is None and DEFAULT_SOURCES.is_file():
        roots = [root for root, _ in read_sources(DEFAULT_SOURCES)]
        if all(root.is_dir() for root in roots):
            return DEFAULT_SOURCES
    return default_data(given, "train")


def default_data(given: Path | None, command: str) -> Path:
    """The DATA argument, or ../shared/data/landscapes when it is here."""
    data = given or next((p for p in DEFAULT_DATA_CANDIDATES if p.is_dir()), None)
    if data is None:
        raise SystemExit(
            f"landrec {command}: give a DATA folder (../shared/data/landscapes is not here)"
        )
    return Path(data)


def _metavar(kind: Any) -> str:
    """A field's value on the command line, by its type: {a,b} for an enum, INT, FLOAT, TEXT."""
    base = next((a for a in typing.get_args(kind) if a is not type(None)), kind)
    if isinstance(base, type) and issubclass(base, Enum):
        return "{" + ",".join(m.value for m in base) + "}"
    return {int: "INT", float: "FLOAT"}.get(base, "TEXT")


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One --option per TrainConfig field, its help the field's description, so the CLI and the
    config never drift apart; an old name (see CONFIG_ALIASES) stays as an alias of its flag.
    The values stay text here: TrainConfig checks them (one rule, one message, for YAML too)."""
    aliases: dict[str, list[str]] = {}
    for old, new in CONFIG_ALIASES.items():
        aliases.setdefault(new, []).append("--" + old.replace("_", "-"))
    group = parser.add_argument_group("training options (override --config; default in brackets)")
    for name, info in TrainConfig.model_fields.items():
        flags = ["--" + name.replace("_", "-"), *aliases.get(name, [])]
        default = getattr(info.default, "value", info.default)
        help_text = f"{info.description} [{default}]".replace("%", "%%")
        if info.annotation is bool:
            group.add_argument(
                *flags,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            metavar = _metavar(info.annotation)
            group.add_argument(*flags, dest=name, default=None, metavar=metavar, help=help_text)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The training options given on the command line (None: not given)."""
    given = {name: getattr(args, name, None) for name in TrainConfig.model_fields}
    return {k: v for k, v in given.items() if v is not None}


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
    if args.no_tracking:
        return False
    return args.tracking_uri or tracking_default()


def positive(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def change_fraction(text: str) -> float:
    """An argparse type: a fraction of the grey range in (0, 1]."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= `low`."""

    def integer(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text}")
        return value

    return integer


def between(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`."""

    def integer(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer {low}-{high}, got {text}")
        return value

    return integer


def add_video_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("video files (mp4, mov, avi, mkv, webm, ts, ...)")
    group.add_argument(
        "--every", type=positive, default=1.0, metavar="S", help="classify a frame every S s [1.0]"
    )
    group.add_argument(
        "--scene-change",
        type=change_fraction,
        metavar="T",
        help="also classify frames whose mean grey-level change from the last one exceeds T (0-1)",
    )
    group.add_argument(
        "--frames", action="store_true", help="also list every classified frame (unsmoothed)"
    )
    group.add_argument(
        "--no-smooth",
        dest="smooth",
        action="store_false",
        help="one segment per run of equal frame labels, not the smoothed contexts",
    )
    group.add_argument(
        "--min-segment",
        type=positive,
        metavar="S",
        help="shortest context the smoothing keeps, in seconds [8]",
    )


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def add_reliability_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("test-time augmentation and the 'unknown' label")
    group.add_argument(
        "--tta", action="store_true", help="average probabilities over the image and its mirror"
    )
    group.add_argument(
        "--threshold",
        type=probability,
        help="top-1 probability below which the label is 'unknown' [set by landrec calibrate]",
    )
    group.add_argument(
        "--no-unknown", action="store_true", help="always give the top-1 class, never 'unknown'"
    )


def reliability_options(args: argparse.Namespace) -> dict:
    return {"tta": args.tta, "unknown": not args.no_unknown, "threshold": args.threshold}
