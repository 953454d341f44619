"""landrec: landscape-context recognition by transfer learning of pretrained CNNs.

The API functions import torch lazily, so `import landrec` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["evaluate", "predict", "train"]


def train(*args: Any, **kwargs: Any) -> Any:
    """See `landrec.api.train`."""
    from landrec import api

    return api.train(*args, **kwargs)


def evaluate(*args: Any, **kwargs: Any) -> Any:
    """See `landrec.api.evaluate`."""
    from landrec import api

    return api.evaluate(*args, **kwargs)


def predict(*args: Any, **kwargs: Any) -> Any:
    """See `landrec.api.predict`."""
    from landrec import api

    return api.predict(*args, **kwargs)
