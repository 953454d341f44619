"""The report's step 5.1: a pretrained backbone with a fresh, untrained head."""

from __future__ import annotations

from pathlib import Path

import torch

from landrec.data.layout import Split, load_eval_folder
from landrec.data.transforms import Preprocessing
from landrec.engine.checkpoint import CheckpointMeta
from landrec.engine.evaluation.evaluate import EvalResult, evaluate_model
from landrec.models.choices import HeadKind
from landrec.models.factory import ModelConfig, create_model
from landrec.models.net import BlockClassifier
from landrec.models.registry import get_spec
from landrec.models.weights import AUTO_WEIGHTS, WeightsChoice


def untrained_model(
    model_name: str,
    classes: list[str],
    weights: WeightsChoice | str = AUTO_WEIGHTS,
    seed: int = 0,
    image_size: int | None = None,
) -> tuple[BlockClassifier, CheckpointMeta]:
    """The backbone (`weights`: auto | none | FILE) with a fresh linear head drawn from `seed`,
    in eval mode, with the preprocessing of its pretraining (`image_size` None: its own)."""
    spec = get_spec(model_name)
    torch.manual_seed(seed)
    config = ModelConfig(spec.name, len(classes), HeadKind.LINEAR, dropout=0.0)
    model, resolved = create_model(config, weights)
    meta = CheckpointMeta(
        classes,
        config,
        Preprocessing(image_size or spec.input_size, spec.mean, spec.std),
        resolved.source,
        not resolved.pretrained,
    )
    return model.eval(), meta


def evaluate_untrained(
    model_name: str,
    data: str | Path,
    split: str = "test",
    weights: WeightsChoice | str = AUTO_WEIGHTS,
    seed: int = 0,
    *,
    image_size: int | None = None,
    batch_size: int = 64,
    workers: int | None = None,
) -> EvalResult:
    """Accuracy and throughput before any training (the head is random: expect chance level);
    `image_size` None: the model's own input size."""
    folder = load_eval_folder(data, Split(split), None)
    model, meta = untrained_model(model_name, folder.classes, weights, seed, image_size)
    return evaluate_model(model, meta, folder, batch_size, workers)
