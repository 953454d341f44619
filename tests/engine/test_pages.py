"""Prediction of every page of multi-page TIFFs: one row per page, `file.tif#page=N`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landrec import api
from landrec.cli.main import main
from landrec.data.transforms import Preprocessing
from landrec.engine.inference.classifier import Classifier
from landrec.engine.inference.predict import ImageRef, image_refs, predict_files

RED = (220, 20, 20)
BLUE = (20, 20, 220)
PRE = Preprocessing(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def colour_classifier() -> Classifier:
    """Classes red/blue/grey from the mean normalised channels: no training needed."""

    def logits(x: np.ndarray) -> np.ndarray:  # (B, 3, H, W) -> (B, 3)
        red, blue = x[:, 0].mean(axis=(1, 2)), x[:, 2].mean(axis=(1, 2))
        grey = 1.0 - np.abs(red - blue)  # equal channels: grey wins
        return 4.0 * np.stack([red, blue, grey], axis=1)

    return Classifier(["red", "blue", "grey"], PRE, logits, "mean colour")


def scan(path: Path) -> Path:
    """A 3-page TIFF: red, blue, then a 16-bit grey page."""
    grey16 = Image.fromarray(np.full((40, 40), 257 * 128, dtype=np.uint16))
    red, blue = (Image.new("RGB", (40, 40), c) for c in (RED, BLUE))
    red.save(path, save_all=True, append_images=[blue, grey16])
    return path


def test_pages_become_rows(tmp_path: Path) -> None:
    path = scan(tmp_path / "scan.tif")
    preds = predict_files(colour_classifier(), [path], workers=0, progress=False, pages=True)
    assert [p.path for p in preds] == [f"{path}#page={n}" for n in (1, 2, 3)]
    assert [p.label for p in preds] == ["red", "blue", "grey"]
    assert all(p.error is None for p in preds)


def test_first_page_only_by_default(tmp_path: Path) -> None:
    path = scan(tmp_path / "scan.tif")
    preds = predict_files(colour_classifier(), [path], workers=0, progress=False)
    assert [(p.path, p.label) for p in preds] == [(str(path), "red")]


def test_only_multipage_tiffs_expand(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), c).convert("P") for c in (RED, BLUE)]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    single = tmp_path / "one.tiff"
    Image.new("RGB", (8, 8), BLUE).save(single)
    broken = tmp_path / "broken.tif"
    broken.write_text("not a tiff")
    tiff = scan(tmp_path / "scan.TIF")
    refs = image_refs([gif, single, broken, tiff], pages=True)
    assert refs == [ImageRef(gif), ImageRef(single), ImageRef(broken)] + [
        ImageRef(tiff, page, 3) for page in range(3)
    ]
    assert [str(r) for r in refs[:3]] == [str(gif), str(single), str(broken)]

    preds = predict_files(
        colour_classifier(), [broken, tiff], workers=0, progress=False, pages=True
    )
    assert len(preds) == 4
    assert preds[0].path == str(broken) and preds[0].label is None and preds[0].error


def test_api_and_cli_all_pages(
    tmp_path: Path, red_blue_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scan(tmp_path / "scan.tif")
    Image.new("RGB", (40, 40), RED).save(tmp_path / "photo.png")
    assert len(api.predict(red_blue_checkpoint, [tmp_path])) == 2
    rows = [p.path for p in api.predict(red_blue_checkpoint, [tmp_path], pages=True)]
    assert rows == [str(tmp_path / "photo.png")] + [f"{path}#page={n}" for n in (1, 2, 3)]
    media = api.predict_media(red_blue_checkpoint, [tmp_path], pages=True)
    assert [p.path for p in media.images] == rows

    assert (
        main(["predict", str(red_blue_checkpoint), str(path), "--format", "json", "--all-pages"])
        == 0
    )
    shown = [r["path"] for r in json.loads(capsys.readouterr().out)]
    assert shown == [f"{path}#page={n}" for n in (1, 2, 3)]
