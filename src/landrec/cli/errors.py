"""Errors that mean bad input, printed as one line instead of a traceback."""

from __future__ import annotations

from landrec.data.decode import ImageDecodeError
from landrec.data.layout import DataLayoutError
from landrec.engine.checkpoint import CheckpointError, UnknownClassError
from landrec.engine.config import ConfigError
from landrec.engine.experiments.tune import MissingDependencyError
from landrec.models.registry import UnknownModelError
from landrec.models.weights import WeightsUnavailableError

USER_ERRORS: tuple[type[BaseException], ...] = (
    CheckpointError,
    ConfigError,
    DataLayoutError,
    FileNotFoundError,
    ImageDecodeError,
    MissingDependencyError,
    UnknownClassError,
    UnknownModelError,
    WeightsUnavailableError,
)
