"""landrec: landscape-context recognition by transfer learning of pretrained CNNs.

`import landrec` stays cheap: the API functions (`landrec.train`, `landrec.evaluate`,
`landrec.predict`, ...) are those of `landrec.api`, imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from landrec.api import evaluate, predict, train

__version__ = "0.1.0"
__all__ = ["evaluate", "predict", "train"]


def __getattr__(name: str) -> Any:
    """`landrec.train` and friends: the real functions of landrec.api, signatures included."""
    if name in __all__:
        from landrec import api  # on first use: `import landrec.data` stays free of it

        return getattr(api, name)
    raise AttributeError(f"module 'landrec' has no attribute {name!r}")
