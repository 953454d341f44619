"""Shared fixtures: tiny image-folder data sets written into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from landrec.data.transforms import Preprocessing
from landrec.engine.checkpoint import CheckpointMeta, save_checkpoint
from landrec.engine.runs import RunFolder
from landrec.models.factory import ModelConfig, create_model

# The real photos sit beside the checkout: <repo>/../shared/data/landscapes.
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "landscapes"

# Visually distinct classes: a dominant colour each, plus per-image noise.
COLOURS: dict[str, tuple[int, int, int]] = {
    "coast": (30, 90, 220),
    "desert": (230, 190, 90),
    "forest": (30, 150, 40),
    "glacier": (235, 245, 250),
    "mountain": (110, 100, 95),
}
KAGGLE_SPLITS = {"train": "Training Data", "val": "Validation Data", "test": "Testing Data"}
KAGGLE_NEST = ("Landscape Classification", "Landscape Classification")

MakeData = Callable[..., Path]


def pytest_configure(config: pytest.Config) -> None:
    # The tests' tensors are tiny: one thread is fastest, and with more threads than free
    # cores (a shared 2-core machine) OpenMP spin-waits and a 32-px forward takes 100x longer.
    torch.set_num_threads(1)


def write_image(path: Path, colour: tuple[int, int, int], seed: int, size: int = 48) -> Path:
    """A JPEG of `colour` with mild noise (so no two images are byte-identical)."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.normal(0, 12, (size, size, 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path, quality=92)
    return path


def write_truncated(
    path: Path, colour: tuple[int, int, int] = (128, 128, 128), seed: int = 999
) -> Path:
    """A JPEG cut after its first 200 bytes: a file that fails to decode, with a reason."""
    whole = write_image(path, colour, seed=seed).read_bytes()
    path.write_bytes(whole[:200])
    return path


def write_corrupt(folder: Path) -> list[Path]:
    """A zero-byte .jpg and a truncated .jpg in `folder`."""
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    return [empty, write_truncated(folder / "truncated.jpg")]


def write_dataset(
    root: Path,
    classes: tuple[str, ...] = ("coast", "desert", "forest"),
    per_class: int = 4,
    kaggle: bool = False,
    nested: bool = False,
    val: bool = True,
    test: bool = True,
    corrupt: bool = False,
    size: int = 48,
) -> Path:
    """An image-folder data set under `root` (returned): train/val/test, or Kaggle's
    `Training Data/...` with capitalised class names, optionally nested two folders deep,
    without val or test, or with a zero-byte and a truncated JPEG in train's first class."""
    base = root.joinpath(*KAGGLE_NEST) if nested else root
    splits = ["train", *(["val"] if val else []), *(["test"] if test else [])]
    for s, split in enumerate(splits):
        folder = base / (KAGGLE_SPLITS[split] if kaggle else split)
        for c, name in enumerate(classes):
            class_dir = folder / (name.capitalize() if kaggle else name)
            for i in range(per_class):
                write_image(
                    class_dir / f"{name}_{i}.jpg", COLOURS[name], 10_000 * s + 100 * c + i, size
                )
    if corrupt:
        train = base / (KAGGLE_SPLITS["train"] if kaggle else "train")
        write_corrupt(train / (classes[0].capitalize() if kaggle else classes[0]))
    return root


@pytest.fixture(autouse=True)
def _cli_tracking_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI tracks runs with MLflow by default; tests opt in (tests/engine/test_tune.py)."""
    monkeypatch.setenv("LANDREC_TRACKING", "0")


@pytest.fixture(scope="session")
def dataset_writer() -> Callable[..., Path]:
    """`write_dataset` for module-scoped fixtures (which cannot use `make_data`)."""
    return write_dataset


@pytest.fixture
def make_data(tmp_path: Path) -> MakeData:
    """Factory: `make_data(**options of write_dataset)` -> a new data-set root in tmp_path."""
    counter = iter(range(1000))
    return lambda **options: write_dataset(tmp_path / f"data{next(counter)}", **options)


@pytest.fixture
def real_data() -> Path:
    """The real photos' root; the test is skipped where they are not beside the checkout."""
    if not (REAL_DATA / "train").is_dir():
        pytest.skip(f"real photos not found at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture(scope="session")
def head_only() -> Callable[..., dict]:
    """Overrides for a head-only run of a random-init ResNet18 (its features still depend on the
    image, unlike random-init MobileNetV2's), cached in `cache_dir`."""

    def options(cache_dir: Path, **overrides: object) -> dict:
        return {
            "model": "resnet18",
            "weights": "none",
            "image_size": 32,
            "finetune_epochs": 0,
            "lr": 0.01,
            "dropout": 0.0,
            "augment": "none",
            "bf16": False,
            "cache_fp16": False,
            "workers": 0,
            "batch_size": 8,
            "cache_dir": str(cache_dir),
            "calibrate": False,  # on by default; tests/engine/test_views.py covers it
            **overrides,
        }

    return options


@pytest.fixture(scope="session")
def tiny_options() -> Callable[[Path], dict]:
    """`tiny` for module-scoped fixtures: `tiny_options(cache_dir)`."""

    def options(cache_dir: Path) -> dict:
        return {
            "model": "mobilenet_v2",
            "weights": "none",
            "image_size": 32,
            "head_epochs": 1,
            "finetune_epochs": 1,
            "augment": "none",
            "bf16": False,
            "cache_fp16": False,
            "workers": 0,
            "batch_size": 8,
            "cache_dir": str(cache_dir),
            "calibrate": False,  # on by default; tests/engine/test_views.py covers it
        }

    return options


@pytest.fixture
def tiny(tmp_path: Path, tiny_options: Callable[[Path], dict]) -> dict:
    """Training overrides that keep a run to a second or two on two CPU cores."""
    return tiny_options(tmp_path / "cache")


@pytest.fixture(scope="session")
def red_blue_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init MobileNetV2 checkpoint: classes red/blue, 32 px, mean/std 0.5."""
    torch.manual_seed(0)
    config = ModelConfig("mobilenet_v2", 2)
    model, _ = create_model(config, weights="none")
    pre = Preprocessing(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    path = RunFolder(tmp_path_factory.mktemp("ckpt")).best
    meta = CheckpointMeta(["red", "blue"], config, pre, "random init", random_init=True)
    save_checkpoint(path, model.eval(), meta)
    return path
