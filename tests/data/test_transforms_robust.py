"""The `robust` augmentation preset: builds, matches eval_transform's layout, is reproducible
under a seed and actually corrupts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from landrec.data.choices import AugPreset
from landrec.data.preprocess import Preprocessing
from landrec.data.transforms import eval_transform, train_transform

PRE = Preprocessing(64, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), resize_size=73)


def _image(seed: int = 0, size: tuple[int, int] = (150, 150)) -> Image.Image:
    """A smooth gradient with some texture: blur, noise and JPEG all change it."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _view(preset: AugPreset, seed: int, image: Image.Image) -> torch.Tensor:
    torch.manual_seed(seed)  # what ImageDataset does per item
    return train_transform(PRE, preset)(image)


def test_robust_is_an_option() -> None:
    assert AugPreset("robust") is AugPreset.ROBUST


@pytest.mark.parametrize("size", [(150, 150), (97, 301)])
def test_layout_matches_eval(size: tuple[int, int]) -> None:
    image = _image(size=size)
    expected = eval_transform(PRE)(image)
    for seed in range(20):  # many seeds: every branch of the random corruptions runs
        out = _view(AugPreset.ROBUST, seed, image)
        assert out.shape == expected.shape
        assert out.dtype == expected.dtype
        assert torch.isfinite(out).all()


def test_reproducible_under_a_seed() -> None:
    image = _image()
    for seed in (0, 1, 12345):
        assert torch.equal(
            _view(AugPreset.ROBUST, seed, image), _view(AugPreset.ROBUST, seed, image)
        )
    assert not torch.equal(_view(AugPreset.ROBUST, 0, image), _view(AugPreset.ROBUST, 1, image))


def test_differs_from_flip() -> None:
    """Same seed, same geometry draws first: some seed applies a photometric corruption on top."""
    image = _image()
    differing = sum(
        not torch.allclose(_view(AugPreset.ROBUST, s, image), _view(AugPreset.FLIP, s, image))
        for s in range(20)
    )
    assert differing > 0
