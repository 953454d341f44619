"""The Python API, mirroring the CLI: the one gateway to the engine.

The CLI and the archive service call these functions and use these names, never engine
modules. Importing this package is cheap (no torch): each function imports the engine code it
runs. The types of what the functions return (and the option objects some take) are in
`landrec.api.types`, which imports the engine.
"""

from __future__ import annotations

from landrec.api.data import audit, data_stats, inspect_data
from landrec.api.evaluation import (
    calibrate,
    evaluate,
    evaluate_untrained,
    rejection_report,
    to_markdown,
)
from landrec.api.media import (
    MediaPredictions,
    Predictor,
    detect,
    enable_heif,
    has_videos,
    load_image,
    predict,
    predict_media,
)
from landrec.api.models import explain, export, models
from landrec.api.training import (
    TrainAndTest,
    load_config,
    study,
    study_table_row,
    train,
    tune,
)
from landrec.data.errors import InputNotFoundError, UserError
from landrec.data.formats import NOT_FOUND, Detected, Format, MediaKind
from landrec.data.hashing import sha256_file
from landrec.data.layout import read_sources
from landrec.engine.config import CONFIG_ALIASES, TrainConfig
from landrec.engine.experiments.tracking import cli_default as tracking_default
from landrec.engine.runs import RunFolder
from landrec.engine.runtime import tune_allocator

__all__ = [
    "CONFIG_ALIASES",
    "NOT_FOUND",
    "Detected",
    "Format",
    "InputNotFoundError",
    "MediaKind",
    "MediaPredictions",
    "Predictor",
    "RunFolder",
    "TrainAndTest",
    "TrainConfig",
    "UserError",
    "audit",
    "calibrate",
    "data_stats",
    "detect",
    "enable_heif",
    "evaluate",
    "evaluate_untrained",
    "explain",
    "export",
    "has_videos",
    "inspect_data",
    "load_config",
    "load_image",
    "models",
    "predict",
    "predict_media",
    "read_sources",
    "rejection_report",
    "sha256_file",
    "study",
    "study_table_row",
    "to_markdown",
    "tracking_default",
    "train",
    "tune",
    "tune_allocator",
]
