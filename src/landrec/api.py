"""The Python API, mirroring the CLI: `landrec.train`, `landrec.evaluate`, `landrec.predict`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landrec.data.layout import Split, load_eval_folder
from landrec.engine.checkpoint import load_checkpoint, resolve_checkpoint
from landrec.engine.config import (
    CONFIG_FILE,
    TrainConfig,
    apply_overrides,
    load_yaml,
    resolve_config,
)
from landrec.engine.evaluate import EvalResult, evaluate_model, write_report
from landrec.engine.predict import Backend, Prediction, expand_paths, load_classifier, predict_files
from landrec.engine.train import TrainResult
from landrec.engine.train import train as _train


@dataclass
class TrainAndTest:
    train: TrainResult
    test: EvalResult | None


def train(
    data: str | Path,
    out: str | Path,
    config: TrainConfig | str | Path | None = None,
    resume: bool = False,
    test: bool = True,
    **overrides: Any,
) -> TrainAndTest:
    """Train (config object, YAML path or defaults, then keyword overrides), then test the best
    checkpoint on the test split when there is one. `resume` continues the run in `out`."""
    saved = Path(out) / CONFIG_FILE
    if resume and saved.is_file() and config is None:
        config = saved
    if isinstance(config, TrainConfig):
        resolved = apply_overrides(config, overrides)
    else:
        resolved = resolve_config(config, overrides)
    result = _train(data, out, resolved, resume=resume)
    tested = None
    if test:
        try:
            tested = evaluate(result.checkpoint, data, Split.TEST.value, out=result.run_dir)
        except ValueError as exc:  # no test split: training still succeeded
            result.notes.append(f"no test evaluation: {exc}")
    return TrainAndTest(result, tested)


def evaluate(
    checkpoint: str | Path,
    data: str | Path,
    split: str = "test",
    out: str | Path | None = None,
    batch_size: int = 64,
) -> EvalResult:
    """Metrics of a checkpoint (or run folder) on a split or a folder of class subfolders."""
    model, meta = load_checkpoint(checkpoint)
    folder = load_eval_folder(data, Split(split), meta.classes)
    result = evaluate_model(model, meta, folder, batch_size)
    if out is not None:
        write_report(result, Path(out))
    return result


def predict(
    model: str | Path,
    paths: Iterable[str | Path],
    top_k: int = 3,
    backend: str = "torch",
    batch_size: int = 32,
    progress: bool = False,
) -> list[Prediction]:
    """Classify files and folders (recursively) with a checkpoint or an exported ONNX file."""
    source = Path(model)
    if Backend(backend) is Backend.TORCH:
        source = resolve_checkpoint(model)
    classifier = load_classifier(source, Backend(backend))
    return predict_files(classifier, expand_paths(paths), top_k, batch_size, progress=progress)


def load_config(path: str | Path) -> TrainConfig:
    return apply_overrides(TrainConfig(), load_yaml(path))
