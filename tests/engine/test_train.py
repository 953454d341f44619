"""Training runs end to end on tiny images: run files, resume, feature cache, bad input."""

from __future__ import annotations

import csv
import logging
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from landrec import api
from landrec.data.decode import load_image
from landrec.data.layout import DataLayoutError, load_splits
from landrec.data.transforms import eval_transform
from landrec.engine import checkpoint as ckpt
from landrec.engine.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint
from landrec.engine.config import ConfigError, TrainConfig, apply_overrides, config_to_dict
from landrec.engine.runs import RunFolder
from landrec.engine.training.features import Extractor
from landrec.engine.training.optim import plan_stages
from landrec.engine.training.train import build_trainer
from landrec.models.factory import ModelConfig, create_model
from landrec.models.net import BlockClassifier

RUN_FILES = [  # the on-disk layout (RunFolder names them): spelled out to pin it
    "best.safetensors",
    "last.safetensors",
    "state.pt",
    "config.yaml",
    "history.csv",
    "curves.png",
    "skipped.csv",
    "test_metrics.json",
    "test_report.md",
    "test_confusion.png",
]
# torchvision's random-init MobileNetV2 maps every image to ~1e-10 features (constant logits);
# random-init ResNet18's outputs still depend on the image, so runs that agree mean something.
LIVELY = {"model": "resnet18", "lr": 0.01, "finetune_lr": 0.01}
COMPARED = ["stage", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"]


def _history(rows: list[dict]) -> list[dict]:
    return [{k: row[k] for k in COMPARED} for row in rows]


def _assert_close_history(a: list[dict], b: list[dict], rel: float = 1e-4) -> None:
    """Same stages and epochs, accuracies equal, losses and learning rates close."""
    a, b = _history(a), _history(b)
    assert [(r["stage"], r["epoch"]) for r in a] == [(r["stage"], r["epoch"]) for r in b]
    for key in ("train_loss", "val_loss", "lr"):
        assert [r[key] for r in a] == pytest.approx([r[key] for r in b], rel=rel, abs=1e-6)
    for key in ("train_accuracy", "val_accuracy"):
        assert [r[key] for r in a] == pytest.approx([r[key] for r in b])


def _val_logits(run_dir: Path, root: Path) -> torch.Tensor:
    model, meta = load_checkpoint(run_dir)
    transform = eval_transform(meta.preprocessing)
    files = sorted((root / "val").rglob("*.jpg"))
    batch = torch.stack([transform(load_image(f)) for f in files])
    with torch.inference_mode():
        return model(batch)


def _count_computes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many files each Extractor._compute call decodes."""
    calls: list[int] = []
    original = Extractor._compute

    def counting(self: Extractor, paths: list[Path], *args: object) -> dict:
        calls.append(len(paths))
        return original(self, paths, *args)

    monkeypatch.setattr(Extractor, "_compute", counting)
    return calls


def _cache_file(tiny: dict) -> Path:
    (path,) = Path(tiny["cache_dir"]).glob("*.sqlite")
    return path


def test_run_writes_every_file_and_a_staged_history(make_data, tiny: dict, tmp_path: Path) -> None:
    root = make_data()
    result = api.train(root, tmp_path / "run", **{**tiny, "head_epochs": 2, "finetune_epochs": 1})
    run = result.train.run_dir
    assert sorted(p.name for p in run.iterdir()) == sorted(RUN_FILES)
    assert [(h["stage"], h["epoch"]) for h in result.train.history] == [
        ("head", 1),
        ("head", 2),
        ("finetune", 1),
    ]
    with RunFolder(run).history.open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["stage"], int(r["epoch"])) for r in rows] == [
        ("head", 1),
        ("head", 2),
        ("finetune", 1),
    ]
    assert [float(r["val_loss"]) for r in rows] == pytest.approx(
        [h["val_loss"] for h in result.train.history]
    )
    assert result.train.weights_source == "random init" and result.train.random_init
    assert result.train.checkpoint == RunFolder(run).best
    assert result.train.notes == [] and result.train.skipped == []
    assert result.train.cache_bytes > 0
    assert result.test is not None
    assert result.test.n_images == 12 and result.test.classes == ["coast", "desert", "forest"]
    assert result.test.weights == "random init" and result.test.random_init
    assert load_checkpoint(result.train.checkpoint)[1].random_init


def test_config_yaml_round_trips(make_data, tiny: dict, tmp_path: Path) -> None:
    root = make_data(per_class=2)
    result = api.train(root, tmp_path / "run", test=False, **tiny)
    saved = api.load_config(RunFolder(tmp_path / "run").config)
    assert saved == apply_overrides(TrainConfig(), tiny)
    _, meta = load_checkpoint(result.train.checkpoint)
    assert meta.train_config == config_to_dict(saved)
    # Resolving from the saved file reproduces the run's configuration exactly.
    assert api.load_config(RunFolder(tmp_path / "run").config) == saved


def test_yaml_then_keyword_overrides(make_data, tiny: dict, tmp_path: Path) -> None:
    root = make_data(per_class=2)
    config = tmp_path / "recipe.yaml"
    config.write_text(yaml.safe_dump({**tiny, "head_epochs": 3, "lr": 0.02}))
    result = api.train(root, tmp_path / "run", config, test=False, head_epochs=1, finetune_epochs=0)
    saved = api.load_config(RunFolder(tmp_path / "run").config)
    assert (saved.head_epochs, saved.finetune_epochs, saved.head_lr) == (1, 0, 0.02)
    assert len(result.train.history) == 1


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ({"model": "mobilenet_v2", "learning_rate": 0.1}, "learning_rate"),
        ({"head_epochs": "many"}, "head_epochs"),
    ],
)
def test_bad_yaml_is_a_config_error_naming_the_key(
    make_data, tmp_path: Path, content: dict, named: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError, match=named):
        api.train(make_data(per_class=1), tmp_path / "run", config)
    assert not RunFolder(tmp_path / "run").state.exists()


def test_checkpoint_round_trip_gives_identical_logits(tmp_path: Path) -> None:
    from landrec.data.transforms import Preprocessing

    torch.manual_seed(0)
    model, resolved = create_model(ModelConfig("mobilenet_v2", 4), "none")
    for m in model.modules():  # non-default BatchNorm statistics must travel too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    meta = CheckpointMeta(
        ["a", "b", "c", "d"],
        ModelConfig("mobilenet_v2", 4),
        Preprocessing(32, (0.5, 0.5, 0.5), (0.2, 0.2, 0.2)),
        resolved.source,
        not resolved.pretrained,
    )
    ckpt.save_checkpoint(RunFolder(tmp_path).best, model, meta)
    loaded, loaded_meta = load_checkpoint(tmp_path)  # a run folder resolves to best
    x = torch.randn(3, 3, 32, 32)
    model.eval()
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))
    assert not loaded.training
    assert loaded_meta.to_json() == meta.to_json()
    assert isinstance(loaded, BlockClassifier)


def test_last_shares_the_best_file_and_survives_the_next_best(tmp_path: Path) -> None:
    from landrec.data.transforms import Preprocessing

    pre = Preprocessing(32, (0.5, 0.5, 0.5), (0.2, 0.2, 0.2))
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model, _ = create_model(ModelConfig("resnet18", 2), "none")
        models.append(model)
    meta = CheckpointMeta(["a", "b"], ModelConfig("resnet18", 2), pre, "random init", True)
    best, last = RunFolder(tmp_path).best, RunFolder(tmp_path).last
    ckpt.save_checkpoint(best, models[0], meta)
    ckpt.save_same(best, last)  # an epoch that improved: one write, two names
    assert last.read_bytes() == best.read_bytes()
    ckpt.save_checkpoint(best, models[1], meta)  # a later best must not rewrite `last`
    first = load_checkpoint(last)[0].state_dict()
    for key, tensor in models[0].state_dict().items():
        assert torch.equal(first[key], tensor), key
    assert not torch.equal(
        load_checkpoint(best)[0].state_dict()["head.3.weight"], first["head.3.weight"]
    )


def test_checkpoint_errors(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    with pytest.raises(CheckpointError, match="holds no"):
        load_checkpoint(tmp_path)
    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="no landrec metadata"):
        load_checkpoint(tmp_path / "plain.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk" * 10)
    with pytest.raises(CheckpointError, match=r"junk\.safetensors"):
        load_checkpoint(tmp_path / "junk.safetensors")


@pytest.mark.parametrize("interrupt_at", [2, 4])  # mid head stage; first fine-tuning epoch
def test_resume_equals_uninterrupted(
    make_data, tiny: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interrupt_at: int
) -> None:
    root = make_data()
    options = {**tiny, **LIVELY, "head_epochs": 3, "finetune_epochs": 2}
    whole = api.train(root, tmp_path / "whole", test=False, **options)

    import landrec.engine.training.train as engine_train

    real, calls = engine_train.train_one_epoch, []

    def interrupted(*args: object, **kwargs: object):
        calls.append(1)
        if len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(engine_train, "train_one_epoch", interrupted)
        with pytest.raises(KeyboardInterrupt):
            api.train(root, tmp_path / "split", test=False, **options)
    assert len(calls) == interrupt_at
    resumed = api.train(root, tmp_path / "split", resume=True, test=False, **options)

    assert _history(resumed.train.history) == _history(whole.train.history)
    one, two = RunFolder(tmp_path / "whole"), RunFolder(tmp_path / "split")
    for a_path, b_path in ((one.best, two.best), (one.last, two.last)):
        a, b = load_file(str(a_path)), load_file(str(b_path))
        assert list(a) == list(b)
        assert all(torch.equal(a[k], b[k]) for k in a), a_path.name
    assert ckpt.read_meta(tmp_path / "whole").extra == ckpt.read_meta(tmp_path / "split").extra


def test_resume_of_a_finished_run_trains_nothing(make_data, tiny: dict, tmp_path: Path) -> None:
    root = make_data(per_class=2)
    first = api.train(root, tmp_path / "run", test=False, **tiny)
    again = api.train(root, tmp_path / "run", resume=True, test=False)  # the saved options
    assert _history(again.train.history) == _history(first.train.history)


def test_cached_and_uncached_training_agree(make_data, tiny: dict, tmp_path: Path) -> None:
    root = make_data()
    # PyTorch computes the cached features here, so both paths run the very same kernels.
    options = {**tiny, **LIVELY, "head_epochs": 2, "finetune_epochs": 2, "feature_backend": "torch"}
    cached = api.train(root, tmp_path / "cached", test=False, cache=True, **options)
    uncached = api.train(root, tmp_path / "uncached", test=False, cache=False, **options)
    assert uncached.train.cache_bytes == 0 < cached.train.cache_bytes
    _assert_close_history(cached.train.history, uncached.train.history)
    la, lb = _val_logits(tmp_path / "cached", root), _val_logits(tmp_path / "uncached", root)
    assert la.std(0).max() > 1e-3  # the logits depend on the image, so agreement means something
    torch.testing.assert_close(la, lb, atol=1e-4, rtol=0)


def test_onnx_runtime_features_match_pytorch(make_data, tiny: dict, tmp_path: Path) -> None:
    """The default extractor (ONNX Runtime) caches what PyTorch computes, to float precision."""
    root = make_data()
    options = {**tiny, **LIVELY, "finetune_epochs": 1, "augment": "flip", "aug_views": 2}
    feats = {}
    for backend in ("torch", "onnx"):
        config = apply_overrides(TrainConfig(), {**options, "feature_backend": backend})
        trainer = build_trainer(config, root, tmp_path / backend)
        plans = plan_stages(config, trainer.model)
        trainer.sources(plans[-1])
        feats[backend] = trainer._cached["train"].features
    assert feats["torch"].shape == feats["onnx"].shape
    assert feats["torch"].shape[0] == 2  # two augmented views, identical in both backends
    torch.testing.assert_close(feats["onnx"], feats["torch"], atol=1e-4, rtol=1e-4)
    assert len(list(Path(tiny["cache_dir"]).glob("*.sqlite"))) == 2  # the backend is in the key


def test_second_run_reuses_the_feature_cache(
    make_data, tiny: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_data()
    calls = _count_computes(monkeypatch)
    api.train(root, tmp_path / "first", test=False, **tiny)
    assert sum(calls) == 24  # 12 train + 12 val images, each decoded once
    calls.clear()
    api.train(
        root,
        tmp_path / "second",
        test=False,
        **{**tiny, "lr": 0.05, "head_epochs": 2, "finetune_lr": 1e-3, "finetune_epochs": 2},
    )
    assert calls == []
    assert len(list(Path(tiny["cache_dir"]).glob("*.sqlite"))) == 1


def test_cache_point_finetune_shares_one_cache_between_head_and_finetune_runs(
    make_data, tiny: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_data()
    options = {**tiny, **LIVELY, "finetune_epochs": 0, "head_epochs": 2, "feature_backend": "torch"}
    auto = api.train(root, tmp_path / "auto", test=False, **options)  # caches pooled features
    shared = {**options, "cache_point": "finetune", "cache_dir": str(tmp_path / "shared")}
    calls = _count_computes(monkeypatch)
    head = api.train(root, tmp_path / "head", test=False, **shared)
    assert sum(calls) == 24  # 12 train + 12 val images, at the fine-tune boundary
    # the head trained on boundary features pushed through the frozen deepest group: the same
    _assert_close_history(head.train.history, auto.train.history)
    calls.clear()
    finetune = {
        **shared,
        "head_epochs": 0,
        "finetune_epochs": 1,
        "weights": "auto",  # the head run's checkpoint supplies every weight
        "init_checkpoint": str(tmp_path / "head"),
    }
    api.train(root, tmp_path / "finetune", test=False, **finetune)
    assert calls == []  # the fine-tune run found everything in the head run's cache
    assert len(list((tmp_path / "shared").glob("*.sqlite"))) == 1


def test_dataset_statistics_are_computed_once_per_split_content(
    make_data, tiny: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from landrec.engine.training import prepare

    root = make_data()
    calls: list[int] = []
    original = prepare.channel_stats

    def counting(split: object, size: int) -> object:
        calls.append(size)
        return original(split, size)  # type: ignore[arg-type]

    monkeypatch.setattr(prepare, "channel_stats", counting)
    config = apply_overrides(TrainConfig(), {**tiny, "normalize": "dataset"})
    data = load_splits(root)
    first = prepare.preprocessing_for(config, data)
    assert prepare.preprocessing_for(config, data) == first and calls == [32]
    one = next((root / "train").rglob("*.jpg"))
    later = one.stat().st_mtime_ns + 10**9
    os.utime(one, ns=(later, later))  # same pixels, another modification time: computed again
    assert prepare.preprocessing_for(config, data) == first and len(calls) == 2


def test_garbage_cache_file_is_rebuilt(
    make_data, tiny: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_data(per_class=2)
    options = {**tiny, **LIVELY, "finetune_epochs": 0}
    first = api.train(root, tmp_path / "first", test=False, **options)
    _cache_file(tiny).write_bytes(b"this is not a database" * 100)
    calls = _count_computes(monkeypatch)
    again = api.train(root, tmp_path / "again", test=False, **options)
    assert sum(calls) == 12  # everything recomputed
    _assert_close_history(again.train.history, first.train.history)
    calls.clear()
    api.train(root, tmp_path / "third", test=False, **options)
    assert calls == []  # and the rebuilt cache is trusted again


def test_damaged_blob_is_recomputed(
    make_data, tiny: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_data(per_class=2)
    options = {**tiny, **LIVELY, "finetune_epochs": 0}
    first = api.train(root, tmp_path / "first", test=False, **options)
    with sqlite3.connect(_cache_file(tiny)) as db:
        rowid, data = db.execute("SELECT rowid, data FROM feats ORDER BY rowid LIMIT 1").fetchone()
        damaged = bytearray(data)
        damaged[len(damaged) // 2] ^= 0xFF
        db.execute("UPDATE feats SET data = ? WHERE rowid = ?", (bytes(damaged), rowid))
    db.close()
    calls = _count_computes(monkeypatch)
    again = api.train(root, tmp_path / "again", test=False, **options)
    assert calls == [1]  # only the damaged entry
    _assert_close_history(again.train.history, first.train.history)


@pytest.mark.parametrize("cache", [True, False])
def test_corrupt_images_are_skipped_and_listed(
    make_data, tiny: dict, tmp_path: Path, cache: bool, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_data(per_class=2, corrupt=True)
    with caplog.at_level(logging.WARNING, logger="landrec.data.dataset"):
        result = api.train(root, tmp_path / "run", **{**tiny, "cache": cache})
    logged = [r.getMessage() for r in caplog.records if r.name == "landrec.data.dataset"]
    assert sorted(Path(m.split(": ")[0]).name for m in logged) == ["empty.jpg", "truncated.jpg"]
    skipped = {Path(s["path"]).name: s["reason"] for s in result.train.skipped}
    assert sorted(skipped) == ["empty.jpg", "truncated.jpg"]
    assert all(reason for reason in skipped.values())
    assert "empty" in skipped["empty.jpg"] or "0 bytes" in skipped["empty.jpg"]
    assert len(result.train.history) == 2
    assert result.test is not None and result.test.n_images == 6


def test_without_val_split_a_held_out_split_is_noted(make_data, tiny: dict, tmp_path: Path) -> None:
    root = make_data(val=False)
    result = api.train(root, tmp_path / "run", **tiny)
    (note,) = result.train.notes
    assert "no validation split" in note and "held out 3" in note
    assert result.test is not None


def test_kaggle_nested_layout_with_capitalised_classes(
    make_data, tiny: dict, tmp_path: Path
) -> None:
    root = make_data(kaggle=True, nested=True, per_class=2)
    assert (
        root / "Landscape Classification" / "Landscape Classification" / "Training Data" / "Coast"
    ).is_dir()
    result = api.train(root, tmp_path / "run", **tiny)
    _, meta = load_checkpoint(result.train.checkpoint)
    assert meta.classes == ["coast", "desert", "forest"]
    assert result.train.notes == []
    assert result.test is not None and result.test.n_images == 6


def test_test_split_with_an_extra_class_is_refused(make_data, tiny: dict, tmp_path: Path) -> None:
    root = make_data(per_class=1)
    (root / "test" / "glacier").mkdir()
    shutil.copy(root / "test" / "coast" / "coast_0.jpg", root / "test" / "glacier" / "ice.jpg")
    with pytest.raises(DataLayoutError, match="glacier"):
        api.train(root, tmp_path / "run", **tiny)
