"""The models layer's choices as plain values, importable without torch (the configuration and
the command line's startup need them): the head kind and where a backbone's weights come from."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path


class HeadKind(str, Enum):
    LINEAR = "linear"
    MLP = "mlp"


RANDOM_INIT = "random init"  # the source text of a backbone without pretrained weights


class WeightsMode(str, Enum):
    AUTO = "auto"  # an offline package, else the library's download; an error when neither
    NONE = "none"  # random init
    AUTO_OR_NONE = "auto-or-none"  # as auto, else random init with a warning (studies offline)
    FILE = "file"  # a state dict file of the original model


KEYWORDS = (WeightsMode.AUTO, WeightsMode.NONE, WeightsMode.AUTO_OR_NONE)


@dataclass(frozen=True)
class WeightsChoice:
    """Where a backbone's initial weights come from: the `weights` option, parsed once."""

    mode: WeightsMode = WeightsMode.AUTO
    path: Path | None = None  # the file, with mode FILE only

    def __post_init__(self) -> None:
        if (self.mode is WeightsMode.FILE) != (self.path is not None):
            raise ValueError(f"weights: a path goes with mode file, and only with it ({self!r})")

    @classmethod
    def parse(cls, value: str | Path | WeightsChoice) -> WeightsChoice:
        """auto, none or auto-or-none (any case); any other text, or a Path, is a file."""
        if isinstance(value, WeightsChoice):
            return value
        if isinstance(value, Path):
            return cls(WeightsMode.FILE, value)
        text = str(value)
        if not text:
            raise ValueError("weights: empty (auto, none, auto-or-none or a file)")
        keyword = next((m for m in KEYWORDS if m.value == text.lower()), None)
        return cls(keyword) if keyword is not None else cls(WeightsMode.FILE, Path(text))

    def __str__(self) -> str:
        """The YAML / command-line text: the keyword or the file's path."""
        return str(self.path) if self.path is not None else self.mode.value


AUTO_WEIGHTS = WeightsChoice(WeightsMode.AUTO)  # the default
RANDOM_WEIGHTS = WeightsChoice(WeightsMode.NONE)


@dataclass(frozen=True)
class ModelConfig:
    """What is needed to rebuild the architecture; saved in every checkpoint."""

    arch: str
    num_classes: int
    head: HeadKind = HeadKind.MLP
    hidden: int = 256
    dropout: float = 0.3
    # The views the head tells apart (e.g. ground, overhead): it then has one output per
    # (view, class), and the model gives each class's and each view's marginal (`net.fold`).
    # Empty: one output per class, no view output.
    views: tuple[str, ...] = ()

    @property
    def outputs(self) -> int:
        """The head's outputs: one per class, times the views when there are any."""
        return self.num_classes * max(1, len(self.views))

    def to_dict(self) -> dict:
        return {**asdict(self), "head": self.head.value, "views": list(self.views)}

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(**{**d, "head": HeadKind(d["head"]), "views": tuple(d.get("views", ()))})
