"""NumPy preprocessing (what ONNX prediction runs) gives what `eval_transform` gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landrec.data.decode import load_image
from landrec.data.preprocess import (
    Preprocessing,
    centre_crop,
    crop_box,
    load_array,
    normalise,
    resized_size,
    to_array,
)
from landrec.data.transforms import eval_transform

IMAGENET = Preprocessing(224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), resize_size=256)
SMALL = Preprocessing(32, (0.5, 0.4, 0.3), (0.2, 0.3, 0.25))
PADDED = Preprocessing(40, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), resize_size=33)  # crop > resize


def _image(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    """A noisy image of `mode` (16-bit for I;16, alpha for RGBA/LA)."""
    rng = np.random.default_rng(seed)
    width, height = size
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    rgba = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
    return rgba.convert(mode) if mode != "P" else rgba.convert("RGB").convert("P")


@pytest.mark.parametrize("pre", [IMAGENET, SMALL, PADDED], ids=["imagenet", "small", "padded"])
@pytest.mark.parametrize(
    ("mode", "size"),
    [
        ("RGB", (150, 150)),
        ("L", (333, 121)),
        ("RGBA", (97, 401)),
        ("P", (20, 17)),
        ("LA", (257, 256)),
        ("I;16", (31, 50)),
        ("CMYK", (64, 300)),
    ],
)
def test_to_array_matches_eval_transform(
    tmp_path: Path, pre: Preprocessing, mode: str, size: tuple[int, int]
) -> None:
    path = tmp_path / ("image.tif" if mode in ("CMYK", "I;16") else "image.png")
    _image(mode, size, seed=sum(size)).save(path)
    image = load_image(path)
    got, want = to_array(image, pre), eval_transform(pre)(image).numpy()
    assert got.shape == want.shape == (3, pre.input_size, pre.input_size)
    assert got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-5


def test_normalise_gives_torchvision_values_channel_first() -> None:
    """Every 8-bit level of every channel, normalised as ToTensor + Normalize compute it (to
    float32 rounding), laid out (3, H, W) and C-contiguous, as ONNX Runtime takes it."""
    levels = np.arange(256, dtype=np.uint8)
    pixels = np.stack([levels, levels[::-1], np.roll(levels, 85)], axis=-1).reshape(16, 16, 3)
    got = normalise(pixels, IMAGENET)
    mean, std = np.array(IMAGENET.mean)[:, None, None], np.array(IMAGENET.std)[:, None, None]
    want = (pixels.transpose(2, 0, 1) / 255.0 - mean) / std
    assert got.shape == (3, 16, 16) and got.dtype == np.float32 and got.flags.c_contiguous
    assert np.abs(got - want).max() < 1e-6


def test_load_array_decodes_jpeg_in_draft_mode_as_evaluation_does(tmp_path: Path) -> None:
    """A large JPEG is decoded shrunk (draft mode at the short side), as `ImageDataset` does; the
    full-size decode would give other pixels, so the test can tell the two apart."""
    path = tmp_path / "large.jpg"
    _image("RGB", (700, 520), seed=3).save(path, quality=90)
    loaded = load_array(path, SMALL)
    drafted = eval_transform(SMALL)(load_image(path, draft_size=SMALL.short_side)).numpy()
    full = eval_transform(SMALL)(load_image(path)).numpy()
    assert loaded.array is not None and loaded.error is None
    assert np.abs(loaded.array - drafted).max() < 1e-5
    assert np.abs(loaded.array - full).max() > 1e-3


def test_load_array_reports_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    loaded = load_array(path, SMALL)
    assert loaded.array is None
    assert loaded.error


@pytest.mark.parametrize(
    ("size", "boxed"),
    [
        ((150, 150), True),  # 150/256 exact: only the 224 x 224 the crop keeps is computed
        ((300, 150), True),  # 2:1, both scales exact
        ((512, 512), True),  # shrinking
        ((320, 240), False),  # 320/341: inexact, the whole axis is resized
        ((300, 600), False),  # 1:2: exact, but Pillow would run the passes in the other order
        ((256, 256), False),  # not resized
    ],
)
def test_resizing_only_the_crop_gives_the_whole_resizes_pixels(
    size: tuple[int, int], boxed: bool
) -> None:
    image = _image("RGB", size, seed=size[0]).convert("RGB")
    resized = resized_size(*size, IMAGENET.short_side)
    kept = crop_box(size, resized, IMAGENET.input_size)[1]
    assert (kept == (224, 224)) is boxed
    whole = np.asarray(image.resize(resized, resample=Image.Resampling.BILINEAR))
    want = normalise(centre_crop(whole, IMAGENET.input_size), IMAGENET)
    np.testing.assert_array_equal(to_array(image, IMAGENET), want)


def test_the_box_is_refused_where_pillow_would_round_otherwise() -> None:
    """1:2 portrait: the crop's box alone would make Pillow run the vertical pass first, which
    rounds differently; `crop_box` keeps the whole resize there."""
    image = _image("RGB", (300, 600), seed=1).convert("RGB")
    whole = np.asarray(image.resize((256, 512), resample=Image.Resampling.BILINEAR))
    naive = image.resize((224, 224), Image.Resampling.BILINEAR, box=(18.75, 168.75, 281.25, 431.25))
    assert not np.array_equal(centre_crop(whole, 224), np.asarray(naive))
    assert crop_box((300, 600), (256, 512), 224)[1] == (256, 512)
