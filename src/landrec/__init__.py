"""landrec: landscape-context recognition by transfer learning of pretrained CNNs.

`import landrec` stays cheap: the API functions (`landrec.train`, `landrec.evaluate`,
`landrec.predict`, ...) are those of `landrec.api`, imported (with torch) on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from landrec.api import evaluate, predict, train

__version__ = "0.1.0"
__all__ = ["evaluate", "predict", "train"]


def __getattr__(name: str) -> Any:
    """`landrec.train` and friends: the real functions of landrec.api, signatures included."""
    if name in __all__:
        return getattr(importlib.import_module("landrec.api"), name)
    raise AttributeError(f"module 'landrec' has no attribute {name!r}")
