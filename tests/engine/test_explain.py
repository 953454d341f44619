"""explain: Grad-CAM runs on every registered architecture and finds planted evidence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from landrec.cli.main import main
from landrec.data.transforms import Preprocessing
from landrec.engine.checkpoint import CheckpointMeta, UnknownClassError, save_checkpoint
from landrec.engine.inference.explain import explain, explain_model, target_layer
from landrec.models.factory import ModelConfig, create_model
from landrec.models.net import BlockClassifier
from landrec.models.registry import REGISTRY

SIZE = 64  # AlexNet's stride needs at least 63 px; every architecture runs at 64
PRE = Preprocessing(SIZE, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
CLASSES = ["red", "blue"]
# The last stage before "pool"; VGG's and AlexNet's end in a max-pool, so the layer before it.
TARGETS = {"vgg16": "block5.5", "alexnet": "conv5.1", "resnet18": "layer4"}


def _noise_image(path: Path, square: tuple | None = None, corner: str = "tl") -> Path:
    """Uniform colour noise, with a solid 20-px square near one corner when `square` is given."""
    rng = np.random.default_rng(len(str(path)) + (0 if square is None else sum(square)))
    pixels = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    if square is not None:
        top = 6 if corner[0] == "t" else SIZE - 26
        left = 6 if corner[1] == "l" else SIZE - 26
        pixels[top : top + 20, left : left + 20] = square
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _quadrant_means(cam: np.ndarray) -> dict[str, float]:
    h, w = cam.shape[0] // 2, cam.shape[1] // 2
    return {
        "tl": float(cam[:h, :w].mean()),
        "tr": float(cam[:h, w:].mean()),
        "bl": float(cam[h:, :w].mean()),
        "br": float(cam[h:, w:].mean()),
    }


@pytest.mark.parametrize("arch", list(REGISTRY))
def test_explain_every_architecture(arch: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = ModelConfig(arch, len(CLASSES))
    model, _ = create_model(config, weights="none")
    meta = CheckpointMeta(CLASSES, config, PRE, "random init", random_init=True)
    image = _noise_image(tmp_path / "in.png", (200, 20, 20))
    result = explain_model(model, meta, image, tmp_path / "out" / "cam.png", class_name="Blue")
    names = model.block_names
    assert result.target_layer == target_layer(model)[0]
    assert result.target_layer.split(".")[0] == names[names.index("pool") - 1]
    assert result.target_layer == TARGETS.get(arch, result.target_layer)
    assert result.class_name == "blue" and result.predicted in CLASSES
    assert 0.0 <= result.probability <= 1.0
    assert result.cam.shape == (SIZE, SIZE)
    assert result.cam.min() >= 0.0 and result.cam.max() <= 1.0 + 1e-6
    with Image.open(result.out_png) as png:
        assert png.size == (SIZE, SIZE) and png.mode == "RGB"
    assert all(p.requires_grad for p in model.parameters())  # weights unfrozen again
    assert set(result.to_dict()) == {
        "image",
        "out_png",
        "class_name",
        "probability",
        "predicted",
        "target_layer",
    }


def _opponent_model() -> BlockClassifier:
    """A hand-built colour-opponent classifier (a random-init backbone with a trained head
    does not localize: its per-cell activations differ for reasons unrelated to the classes, and
    Grad-CAM shows those). Stage 'opponent' maps each pixel to (R - B, B - R) > 0, 'grid'
    averages 8x8 cells, and the head calls an image red when red outweighs blue over the image.
    Noise carries as much red as blue, so the decision rests on the square alone."""
    conv = nn.Conv2d(3, 2, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 0, -1], [-1, 0, 1]]).view(2, 3, 1, 1))
        conv.bias.zero_()
    head = nn.Linear(2, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[4.0, -4.0], [-4.0, 4.0]]))
        head.bias.zero_()
    stages = [
        ("opponent", nn.Sequential(conv, nn.ReLU())),
        ("grid", nn.AvgPool2d(8)),
        ("pool", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))),
    ]
    return BlockClassifier(stages, head).eval()


@pytest.mark.parametrize(
    ("colour", "corner"),
    [((230, 30, 30), "tl"), ((30, 30, 230), "tl"), ((230, 30, 30), "br"), ((30, 30, 230), "tr")],
)
def test_cam_finds_the_planted_square(colour: tuple, corner: str, tmp_path: Path) -> None:
    model = _opponent_model()
    meta = CheckpointMeta(CLASSES, ModelConfig("resnet18", 2), PRE, "hand-built", False)
    image = _noise_image(tmp_path / "in.png", colour, corner)
    result = explain_model(model, meta, image, tmp_path / "cam.png")
    assert result.target_layer == "grid"
    assert result.predicted == ("red" if colour[0] > colour[2] else "blue")
    quadrants = _quadrant_means(result.cam)
    others = [v for k, v in quadrants.items() if k != corner]
    assert quadrants[corner] > 2 * max(others), quadrants


def test_explain_a_checkpoint_and_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.manual_seed(0)
    config = ModelConfig("mobilenet_v2", len(CLASSES))
    model, _ = create_model(config, weights="none")
    ckpt = tmp_path / "model.safetensors"
    meta = CheckpointMeta(CLASSES, config, PRE, "random init", random_init=True)
    save_checkpoint(ckpt, model.eval(), meta)
    image = _noise_image(tmp_path / "in.png")
    result = explain(ckpt, image, tmp_path / "a.png")
    assert result.target_layer == "features_18" and Path(result.out_png).is_file()
    with pytest.raises(UnknownClassError, match="green"):
        explain(ckpt, image, tmp_path / "b.png", class_name="green")

    code = main(["explain", str(ckpt), str(image), "--out", str(tmp_path / "c.png"), "--json"])
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)["out_png"] == str(tmp_path / "c.png")
    assert (tmp_path / "c.png").is_file()
    argv = ["explain", str(ckpt), str(image), "--out", str(tmp_path / "d.png"), "--class", "x"]
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 2 and "unknown class 'x'" in err
