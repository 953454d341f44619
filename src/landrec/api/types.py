"""The types the API's functions return, and the option objects some of them take.

Importing this module imports the engine (torch included): import it where the values are
made or checked at run time, or under `typing.TYPE_CHECKING` for annotations. Code that must
stay free of torch (the ONNX Runtime prediction path) takes its options from
`landrec.api.options`.
"""

from __future__ import annotations

from landrec.api.media import MediaPredictions
from landrec.api.options import VideoOptions
from landrec.api.training import TrainAndTest
from landrec.data.inspect import ChannelStats, InspectReport
from landrec.engine.evaluation.calibrate import CalibrationResult
from landrec.engine.evaluation.evaluate import EvalResult
from landrec.engine.experiments.audit_report import AuditOptions, AuditResult
from landrec.engine.experiments.study import StudyResult
from landrec.engine.experiments.study_report import ExperimentResult
from landrec.engine.experiments.tune import TuneResult
from landrec.engine.inference.explain import ExplainResult
from landrec.engine.inference.export import ExportResult
from landrec.engine.inference.predict import Prediction
from landrec.engine.inference.video import VideoPrediction
from landrec.engine.training.train import TrainResult

__all__ = [
    "AuditOptions",
    "AuditResult",
    "CalibrationResult",
    "ChannelStats",
    "EvalResult",
    "ExperimentResult",
    "ExplainResult",
    "ExportResult",
    "InspectReport",
    "MediaPredictions",
    "Prediction",
    "StudyResult",
    "TrainAndTest",
    "TrainResult",
    "TuneResult",
    "VideoOptions",
    "VideoPrediction",
]
