"""A linear probe: logistic regression on the frozen backbone's pooled features.

The features come from the same cache as head training (clean view only); C is chosen on
validation accuracy. The fitted scaler and classifier are folded into the model's linear
head, so the probe is saved as an ordinary checkpoint that evaluate/predict/export accept.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from landrec.data.dataset import FailureLog
from landrec.data.layout import DatasetSplits, Split, SplitData, load_splits
from landrec.data.transforms import Preprocessing
from landrec.engine import checkpoint as ckpt
from landrec.engine.config import TrainConfig, config_to_dict, save_config
from landrec.engine.evaluation.evaluate import compute_metrics
from landrec.engine.runs import RunFolder
from landrec.engine.training.features import Extractor, FeatureSet, ViewSpec
from landrec.engine.training.prepare import make_extractor, pick_device, preprocessing_for
from landrec.models.choices import HeadKind
from landrec.models.factory import ModelConfig, create_model
from landrec.models.net import BlockClassifier
from landrec.models.weights import ResolvedWeights

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)  # inverse L2 strength, chosen on val
PROBE_FILE = "probe.json"


@dataclass
class ProbeResult:
    checkpoint: Path
    c: float
    val_accuracy: float
    val_macro_f1: float
    seconds: float
    weights_source: str
    random_init: bool  # the backbone has no pretrained weights
    val_accuracy_by_c: dict[str, float] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)


@dataclass
class FrozenBackbone:
    """A backbone with a linear head, ready to extract pooled features through the cache."""

    model: BlockClassifier
    model_config: ModelConfig
    weights: ResolvedWeights
    preprocessing: Preprocessing
    extractor: Extractor


def frozen_backbone(config: TrainConfig, data: DatasetSplits) -> FrozenBackbone:
    """`config.model` with `config.weights`, eval mode, and an extractor of pooled features."""
    model_config = ModelConfig(config.model, len(data.classes), HeadKind.LINEAR, dropout=0.0)
    model, weights = create_model(model_config, config.weights)
    model = model.to(pick_device(config.device)).eval()
    pre = preprocessing_for(config, data)
    extractor = make_extractor(config, model, len(model.blocks), pre)  # pooled features
    return FrozenBackbone(model, model_config, weights, pre, extractor)


def split_features(extractor: Extractor, split: SplitData, failures: FailureLog) -> FeatureSet:
    """The clean view's features of every readable file of `split`."""
    return extractor.extract(*split.paths_labels(), [ViewSpec()], failures, split.name)


def _fit(x: np.ndarray, y: np.ndarray, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=5000).fit(x, y)


@torch.no_grad()
def fold_into_head(
    linear: torch.nn.Linear, scaler: StandardScaler, clf: LogisticRegression, n_classes: int
) -> None:
    """Set `linear` to compute the classifier's logits on unscaled features."""
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # binary: sklearn keeps one row, the logit of class 1 against 0
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.array([0.0, intercept[0]])
    weight = np.zeros((n_classes, coef.shape[1]))
    bias = np.full(n_classes, -1e4)  # classes absent from train are never predicted
    weight[clf.classes_] = coef / scaler.scale_
    bias[clf.classes_] = intercept - weight[clf.classes_] @ scaler.mean_
    linear.weight.copy_(torch.from_numpy(weight))
    linear.bias.copy_(torch.from_numpy(bias))


def linear_probe(data_root: str | Path, run_dir: str | Path, config: TrainConfig) -> ProbeResult:
    """Fit the probe on train features, pick C on val, save it as the best checkpoint of
    `run_dir`."""
    started, run_dir = time.perf_counter(), Path(run_dir)
    run = RunFolder(run_dir)
    data = load_splits(data_root, config.val_fraction, config.seed)
    frozen = frozen_backbone(config, data)
    model, model_config, weights = frozen.model, frozen.model_config, frozen.weights
    failures = FailureLog()
    train = split_features(frozen.extractor, data.get(Split.TRAIN), failures)
    val = split_features(frozen.extractor, data.get(Split.VAL), failures)
    x_train, y_train = train.features[0].double().numpy(), train.labels.numpy()
    x_val, y_val = val.features[0].double().numpy(), val.labels.numpy()
    scaler = StandardScaler().fit(x_train)
    fits = {c: _fit(scaler.transform(x_train), y_train, c) for c in C_GRID}
    scores = {c: float(f.score(scaler.transform(x_val), y_val)) for c, f in fits.items()}
    best_c = max(C_GRID, key=lambda c: (scores[c], -c))  # ties: the stronger regularisation
    val_metrics = compute_metrics(
        y_val, fits[best_c].predict(scaler.transform(x_val)), data.classes
    )
    linear = [m for m in model.head.modules() if isinstance(m, torch.nn.Linear)][-1]
    fold_into_head(linear, scaler, fits[best_c], len(data.classes))
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run.config)
    meta = ckpt.CheckpointMeta(
        data.classes,
        model_config,
        frozen.preprocessing,
        weights.source,
        not weights.pretrained,
        config_to_dict(config),
    )
    meta.extra.update({"probe_c": best_c, "val_accuracy": scores[best_c]})
    ckpt.save_checkpoint(run.best, model.cpu(), meta)
    result = ProbeResult(
        run.best,
        best_c,
        scores[best_c],
        val_metrics["macro_f1"],
        time.perf_counter() - started,
        weights.source,
        not weights.pretrained,
        {f"{c:g}": s for c, s in scores.items()},
        failures.to_list(),
    )
    (run_dir / PROBE_FILE).write_text(json.dumps(asdict(result), indent=2, default=str))
    return result
