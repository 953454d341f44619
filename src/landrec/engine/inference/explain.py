"""landrec explain: a Grad-CAM heatmap of the image regions behind a class, over the image."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from torch import nn

from landrec.data.decode import load_image
from landrec.data.transforms import preprocess_image
from landrec.engine.checkpoint import CheckpointMeta, load_checkpoint
from landrec.engine.probability import softmax
from landrec.models.net import BlockClassifier

POOL = "pool"  # the block that turns feature maps into a vector in every registered model


@dataclass
class ExplainResult:
    image: str
    out_png: str
    class_name: str  # the class explained
    probability: float  # its probability (calibrated when the checkpoint is)
    predicted: str  # the top-1 class
    target_layer: str  # the block whose feature maps the heatmap comes from
    cam: np.ndarray = field(repr=False)  # (H, W) in [0, 1] at the model's input size

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "cam"}


class CentredLogit:
    """Grad-CAM target: the class's logit minus the mean logit. Softmax ignores what all logits
    share, so this is the part of the score that moves the class's probability; unlike the
    probability itself, its gradient does not vanish when the model is confident."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        return output[..., self.index] - output.mean(-1)


def target_layer(model: BlockClassifier) -> tuple[str, nn.Module]:
    """The deepest block with a spatial output: the one just before the pooling block. A block
    ending in a max-pool (VGG, AlexNet) gives the layer before it: twice the resolution."""
    names = model.block_names
    if POOL not in names or names.index(POOL) == 0:
        raise ValueError(f"no convolutional block before a '{POOL}' block in {names}")
    name = names[names.index(POOL) - 1]
    block = model.blocks[names.index(name)]
    if isinstance(block, nn.Sequential) and len(block) > 1 and isinstance(block[-1], nn.MaxPool2d):
        return f"{name}.{len(block) - 2}", block[-2]
    return name, block


@contextmanager
def _weights_frozen(model: nn.Module) -> Iterator[None]:
    """Grad-CAM needs gradients of the feature maps only, not of the (many) weights."""
    flags = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def explain_model(
    model: BlockClassifier,
    meta: CheckpointMeta,
    image_path: str | Path,
    out_png: str | Path,
    class_name: str | None = None,
) -> ExplainResult:
    """Grad-CAM of `class_name` (default: the predicted class), over the preprocessed image."""
    pre = meta.preprocessing
    x = preprocess_image(load_image(image_path, pre.short_side), pre).unsqueeze(0)  # (1, 3, H, W)
    model.eval()
    with torch.no_grad():
        probs = softmax(model(x).double().numpy(), meta.temperature)[0]
    predicted = int(probs.argmax())
    index = predicted if class_name is None else meta.class_index(class_name)
    name, layer = target_layer(model)
    with _weights_frozen(model), GradCAM(model, [layer]) as cam:
        # With the weights frozen, the graph to the feature maps starts at the input.
        heat = cam(x.clone().requires_grad_(True), targets=[CentredLogit(index)])[0]  # (H, W)
    mean, std = torch.tensor(pre.mean), torch.tensor(pre.std)
    rgb = (x[0] * std[:, None, None] + mean[:, None, None]).clamp(0, 1)
    overlay = show_cam_on_image(rgb.permute(1, 2, 0).numpy(), heat, use_rgb=True)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(overlay).save(out_png)
    return ExplainResult(
        image=str(image_path),
        out_png=str(out_png),
        class_name=meta.classes[index],
        probability=float(probs[index]),
        predicted=meta.classes[predicted],
        target_layer=name,
        cam=heat,
    )


def explain(
    checkpoint: str | Path,
    image_path: str | Path,
    out_png: str | Path,
    class_name: str | None = None,
) -> ExplainResult:
    """Grad-CAM of a checkpoint (or run folder) on one image, saved as a PNG overlay."""
    model, meta = load_checkpoint(checkpoint)
    return explain_model(model, meta, image_path, out_png, class_name)
