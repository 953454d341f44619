"""Checkpoints as safetensors: weights plus the metadata that evaluate/predict/export need."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from landrec.data.atomic import write_atomic
from landrec.data.errors import UserError
from landrec.data.preprocess import Preprocessing
from landrec.engine.runs import RunFolder
from landrec.models.choices import RANDOM_INIT, ModelConfig

if TYPE_CHECKING:  # torch and the models load where weights do: ONNX prediction needs neither
    from landrec.models.net import BlockClassifier

FORMAT = "landrec-checkpoint-1"
CALIBRATION = "calibration"  # key in CheckpointMeta.extra written by `landrec calibrate`
# What a resume state (RunFolder.state) holds: where training stopped, and how to go on from there.
STATE_KEYS = {"stage", "epoch", "bad_epochs", "best_val_loss", "history", "optimizer", "scheduler"}


class CheckpointError(UserError, ValueError):
    """The file is not a usable landrec checkpoint; the message says why."""


class UnknownClassError(UserError, ValueError):
    """A class name that is not one of the checkpoint's classes."""


@dataclass
class CheckpointMeta:
    classes: list[str]
    model: ModelConfig
    preprocessing: Preprocessing
    weights_source: str  # where the backbone's initial weights came from, for people
    random_init: bool  # the backbone started without pretrained weights
    train_config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. calibration, epoch, metrics

    @property
    def temperature(self) -> float:
        """Softmax temperature set by `landrec calibrate` (1.0: not calibrated)."""
        return float(self.extra.get(CALIBRATION, {}).get("temperature", 1.0))

    @property
    def threshold(self) -> float | None:
        """Top-1 probability below which predictions are "unknown" (None: not calibrated)."""
        value = self.extra.get(CALIBRATION, {}).get("threshold")
        return None if value is None else float(value)

    def class_index(self, name: str) -> int:
        key = name.strip().lower()  # class names are stored normalised (see data.layout)
        if key not in self.classes:
            raise UnknownClassError(f"unknown class {name!r}; the model knows: {self.classes}")
        return self.classes.index(key)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "classes": self.classes,
                "model": self.model.to_dict(),
                "preprocessing": self.preprocessing.to_dict(),
                "weights_source": self.weights_source,
                "random_init": self.random_init,
                "train_config": self.train_config,
                "extra": self.extra,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> CheckpointMeta:
        d = json.loads(text)
        if d.get("format") != FORMAT:
            raise CheckpointError(f"unknown checkpoint format {d.get('format')!r}")
        return cls(
            classes=list(d["classes"]),
            model=ModelConfig.from_dict(d["model"]),
            preprocessing=Preprocessing.from_dict(d["preprocessing"]),
            weights_source=d["weights_source"],
            # checkpoints written before the key existed said so in weights_source alone
            random_init=bool(d.get("random_init", d["weights_source"] == RANDOM_INIT)),
            train_config=d.get("train_config", {}),
            extra=d.get("extra", {}),
        )


def save_checkpoint(path: Path, model: BlockClassifier, meta: CheckpointMeta) -> None:
    """Write atomically (temp file then rename), so an interrupted save never leaves half a file."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_atomic(
        path, lambda tmp: save_file(tensors, str(tmp), metadata={"landrec": meta.to_json()})
    )


def save_same(source: Path, target: Path) -> None:
    """Make `target` the checkpoint `source` is (a hard link where the file system allows, else
    a copy), atomically: the last checkpoint of an epoch that also set the best one is not
    serialised and written twice (VGG16: 553 MB). `save_checkpoint` replaces files by rename,
    never in place, so a later save of either name leaves the other intact."""
    write_atomic(target, lambda tmp: _link_or_copy(source, tmp))


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def resolve_checkpoint(path: str | Path) -> Path:
    """A run folder (its best checkpoint) or a checkpoint file."""
    path = Path(path)
    if path.is_dir():
        run = RunFolder(path)
        found = run.checkpoint()
        if found is None:
            raise CheckpointError(f"{path}: run folder holds no {run.best.name} or {run.last.name}")
        return found
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    return path


def read_meta(path: str | Path) -> CheckpointMeta:
    from safetensors import safe_open

    path = resolve_checkpoint(path)
    try:
        with safe_open(str(path), framework="numpy") as f:  # the header only: no torch
            metadata = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise CheckpointError(f"{path}: not a safetensors checkpoint ({exc})") from exc
    if "landrec" not in metadata:
        raise CheckpointError(f"{path}: no landrec metadata (not a landrec checkpoint)")
    return CheckpointMeta.from_json(metadata["landrec"])


def load_checkpoint(path: str | Path) -> tuple[BlockClassifier, CheckpointMeta]:
    """Rebuild the model from the file alone, in eval mode."""
    from landrec.models.factory import build_architecture

    model = build_architecture(read_meta(path).model)
    meta = load_weights_into(model, path)
    return model.eval(), meta


def load_weights_into(
    model: BlockClassifier, path: str | Path, classes: list[str] | None = None
) -> CheckpointMeta:
    """Copy a checkpoint's weights into `model` (same architecture and head; the same
    `classes` when given) and return its metadata: every load of landrec weights goes here."""
    path = resolve_checkpoint(path)
    meta = read_meta(path)
    if classes is not None and meta.classes != classes:
        raise CheckpointError(f"{path}: classes {meta.classes} differ from {classes}")
    from safetensors.torch import load_file

    try:  # load_state_dict, not a copy of tensors: the model maps its old key names
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: does not fit this model ({exc})") from exc
    return meta


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Resume state: tensors and plain values only, so it loads with weights_only=True."""
    import torch

    write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_state(path: Path) -> dict[str, Any]:
    """A run's resume state; a file that is not one (empty, truncated, foreign) raises
    CheckpointError saying so in one line."""
    import torch

    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types here; their messages run many lines
        raise CheckpointError(f"{path}: not a resume state ({type(exc).__name__})") from exc
    missing = sorted(STATE_KEYS - set(state)) if isinstance(state, dict) else ["all"]
    if missing:
        raise CheckpointError(f"{path}: not a resume state (missing: {', '.join(missing)})")
    return state
