"""The option objects the API's functions take, importable without torch.

`landrec predict` builds a `VideoOptions` on its ONNX Runtime path, which never imports torch:
so this module imports only what that path imports anyway (NumPy, Pillow), never the engine's
training or evaluation code that `landrec.api.types` pulls in.
"""

from __future__ import annotations

from landrec.engine.inference.video import VideoOptions

__all__ = ["VideoOptions"]
