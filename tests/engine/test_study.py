"""Comparison studies on tiny images: every experiment kind, the report, resuming, failures,
unknown keys; init_checkpoint; MLflow tracking of a training run."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

from landrec import api
from landrec.data.layout import Split, load_splits
from landrec.engine import checkpoint as ckpt
from landrec.engine.config import ConfigError, TrainConfig, apply_overrides
from landrec.engine.evaluation.evaluate import split_logits
from landrec.engine.experiments import study as study_module
from landrec.engine.experiments.study import load_study, run_study
from landrec.engine.runs import RunFolder
from landrec.engine.training.feature_eval import cached_split_logits
from landrec.engine.training.train import build_trainer

# Random-init ResNet18 still maps images to image-dependent features (see test_train.py).
BASE = {
    "model": "resnet18",
    "weights": "none",
    "image_size": 32,
    "head_epochs": 1,
    "finetune_epochs": 0,
    "augment": "none",
    "bf16": False,
    "cache_fp16": False,
    "workers": 0,
    "batch_size": 8,
    "lr": 0.01,
    "finetune_lr": 0.01,
}
EXPERIMENTS = [
    {"name": "untrained", "kind": "untrained"},
    {"name": "probe", "kind": "linear_probe"},
    {"name": "head", "finalist": True},
    {
        "name": "finetune",
        "based_on": "head",
        "init_from": "head",
        "weights": "auto",  # start from the head's checkpoint alone (none would be an error)
        "head_epochs": 0,
        "finetune_epochs": 1,
        "finalist": True,
    },
]


def _study_file(tmp_path: Path, experiments: list[dict], **extra: object) -> Path:
    path = tmp_path / "study.yaml"
    content = {"title": "tiny", "base": BASE, "experiments": experiments, **extra}
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def _count_train(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record the `resume` flag of every training the study starts."""
    calls: list[bool] = []
    original = study_module.train

    def counting(*args: object, resume: bool = False, **kwargs: object) -> object:
        calls.append(resume)
        return original(*args, resume=resume, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(study_module, "train", counting)
    return calls


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, dataset_writer) -> dict:
    """One study of all four kinds, run once for the tests that read its outputs."""
    tmp = tmp_path_factory.mktemp("study")
    data = dataset_writer(tmp / "data")
    study = _study_file(tmp, EXPERIMENTS, test_finalists_only=True)
    result = run_study(study, data, tmp / "out")
    return {"data": data, "study": study, "out": tmp / "out", "result": result}


def test_study_runs_every_kind_and_records_each(finished: dict) -> None:
    result, out = finished["result"], finished["out"]
    rows = {r.name: r for r in result.results}
    assert list(rows) == ["untrained", "probe", "head", "finetune"]
    assert all(r.ok for r in rows.values()), [r.error for r in rows.values()]
    assert result.ran == list(rows)
    for r in rows.values():
        saved = json.loads((out / "runs" / r.name / "result.json").read_text())
        assert saved["best_val_accuracy"] == r.best_val_accuracy is not None
        weights = "random init"
        if r.init_from is not None:  # a fine-tune names the checkpoint it started from
            parent = RunFolder(out / "runs" / r.init_from).best.resolve()
            weights = f"init_checkpoint {parent} (backbone: random init)"
        assert r.weights == weights and r.random_init
        assert r.wall_seconds is not None and r.wall_seconds >= (r.train_seconds or 0)
        assert r.wall_seconds > 0
    # test_finalists_only: only finalists have test numbers (with throughput and size)
    assert rows["untrained"].test_accuracy is None and rows["probe"].test_accuracy is None
    for name in ("head", "finetune"):
        assert 0.0 <= rows[name].test_accuracy <= 1.0
        assert rows[name].images_per_second > 0 and rows[name].parameters > 0
        assert RunFolder(out / "runs" / name).test_report.confusion.is_file()
    assert rows["head"].stages == "head 1 ep"
    assert rows["finetune"].stages.startswith("finetune last")
    assert rows["finetune"].config["init_checkpoint"].endswith("head/best.safetensors")
    assert rows["probe"].head.startswith("logistic regression, C=")
    assert rows["probe"].epochs == 0 and rows["probe"].train_seconds > 0


def test_study_report_embeds_images_and_flags_random_init(finished: dict) -> None:
    out = finished["out"]
    page = (out / "report.html").read_text()
    markdown = (out / "report.md").read_text()
    # curves of the two trained runs + confusion matrices of the two finalists
    assert page.count("data:image/png;base64,") == 4
    assert "<script" not in page and 'src="runs/' not in page
    assert page.count('<tr class="random">') == 4  # every row ran on random init
    table = markdown.split("## Best configuration")[0]
    assert sum("RANDOM INIT" in line for line in table.splitlines()[4:]) == 4
    assert "![confusion matrix of head](runs/head/test_confusion.png)" in markdown
    assert "| class | precision | recall | F1 | support |" in markdown
    assert "Wall time of the 4 timed experiment(s):" in markdown and "Wall time of the 4" in page


def test_best_config_is_the_best_trained_experiment(finished: dict) -> None:
    out, result = finished["out"], finished["result"]
    trained = [r for r in result.results if r.kind == "train"]
    assert result.best.best_val_accuracy == max(r.best_val_accuracy for r in trained)
    config = apply_overrides(TrainConfig(), yaml.safe_load((out / "best_config.yaml").read_text()))
    assert config.model == "resnet18" and config.image_size == 32
    assert "best_config.yaml" in (out / "report.md").read_text()


def test_rerun_skips_finished_and_resumes_interrupted(
    finished: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_train(monkeypatch)
    again = run_study(finished["study"], finished["data"], finished["out"])
    assert calls == [] and again.ran == []
    assert [r.to_dict() for r in again.results] == [r.to_dict() for r in finished["result"].results]
    (finished["out"] / "runs" / "finetune" / "result.json").unlink()  # as if cut off at the end
    resumed = run_study(finished["study"], finished["data"], finished["out"])
    assert calls == [True] and resumed.ran == ["finetune"]
    assert "resumed an interrupted run" in resumed.results[-1].notes


def test_a_failing_experiment_is_recorded_and_the_rest_run(make_data, tmp_path: Path) -> None:
    data = make_data()
    experiments = [{"name": "broken", "model": "nosuchnet"}, {"name": "head"}]
    study = _study_file(tmp_path, experiments)
    result = run_study(study, data, tmp_path / "out")
    broken, head = result.results
    assert not broken.ok and "nosuchnet" in broken.error
    assert head.ok and head.test_accuracy is not None
    assert "nosuchnet" in (tmp_path / "out" / "runs" / "broken" / "error.txt").read_text()
    assert not (tmp_path / "out" / "runs" / "broken" / "result.json").exists()
    assert '<tr class="failed">' in (tmp_path / "out" / "report.html").read_text()
    assert run_study(study, data, tmp_path / "out").ran == ["broken"]  # retried, not skipped


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ({"base": BASE, "experiments": [{"name": "a"}], "epochz": 3}, "epochz"),
        ({"base": {**BASE, "lrr": 0.1}, "experiments": [{"name": "a"}]}, "lrr"),
        ({"base": BASE, "experiments": [{"name": "a", "head_epoch": 2}]}, "head_epoch"),
        ({"base": BASE, "experiments": [{"name": "a", "based_on": "b"}]}, "based_on 'b'"),
        ({"base": BASE, "experiments": [{"name": "a", "kind": "zero_shot"}]}, "kind"),
        ({"base": BASE, "experiments": [{"name": "a"}, {"name": "a"}]}, "twice"),
    ],
)
def test_study_file_errors_name_the_key(tmp_path: Path, content: dict, named: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError, match=named):
        load_study(path)


def test_based_on_inherits_the_overrides(tmp_path: Path) -> None:
    experiments = [
        {"name": "a", "optimizer": "sgd", "lr": 0.05},
        {"name": "b", "based_on": "a", "lr": 0.2},
        {"name": "c", "based_on": "b", "augment": "flip"},
    ]
    study = load_study(_study_file(tmp_path, experiments))
    a, b, c = study.experiments
    assert (c.config.optimizer.value, c.config.head_lr, c.config.augment.value) == (
        "sgd",
        0.2,
        "flip",
    )
    assert b.config.augment.value == "none" and a.config.head_lr == 0.05


def test_init_checkpoint_loads_the_weights(finished: dict, tmp_path: Path) -> None:
    source = RunFolder(finished["out"] / "runs" / "head").best
    overrides = {**BASE, "weights": "auto", "init_checkpoint": str(source)}
    config = apply_overrides(TrainConfig(), overrides)
    trainer = build_trainer(config, finished["data"], tmp_path / "run")
    expected, meta = ckpt.load_checkpoint(source)
    for key, tensor in expected.state_dict().items():
        assert torch.equal(trainer.model.state_dict()[key].cpu(), tensor), key
    assert meta.weights_source == "random init" and meta.random_init
    assert trainer.meta.weights_source == f"init_checkpoint {source} (backbone: random init)"
    assert trainer.meta.random_init
    wrong = apply_overrides(config, {"head": "linear"})
    with pytest.raises(ConfigError, match="does not fit"):
        build_trainer(wrong, finished["data"], tmp_path / "run2")


def test_mlflow_tracks_params_epochs_and_artifacts(make_data, tmp_path: Path, tiny: dict) -> None:
    mlflow = pytest.importorskip("mlflow")
    run = tmp_path / "run"
    api.train(make_data(), run, tracking=True, **{**tiny, "head_epochs": 2})
    client = mlflow.MlflowClient(f"sqlite:///{run / 'mlflow.db'}")
    (found,) = client.search_runs([client.get_experiment_by_name("landrec-train").experiment_id])
    assert found.info.status == "FINISHED"
    assert found.data.params["model"] == tiny["model"] and found.data.params["head_epochs"] == "2"
    history = client.get_metric_history(found.info.run_id, "val_accuracy")
    assert [m.step for m in history] == [1, 2, 3]  # 2 head epochs + 1 fine-tuning epoch
    assert "test_accuracy" in found.data.metrics
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"config.yaml", "curves.png", "test_confusion.png"} <= artifacts
    assert (run / "mlartifacts").is_dir()


@pytest.mark.parametrize("name", ["reference", "beyond"])
def test_shipped_study_files_load(name: str) -> None:
    path = Path(__file__).resolve().parents[2] / "studies" / f"{name}.yaml"
    study = load_study(path)
    assert study.test_finalists_only and any(e.finalist for e in study.experiments)
    for exp in study.experiments:
        if exp.init_from is not None and exp.kind.value != "tta":  # a fine-tune starts from a
            # head of the same shape
            parent = next(e for e in study.experiments if e.name == exp.init_from)
            assert (parent.config.model, parent.config.head) == (exp.config.model, exp.config.head)
            assert exp.config.head_epochs == 0 and exp.config.finetune_epochs > 0


def test_tracking_without_mlflow_warns_and_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from landrec.engine.experiments.tracking import open_tracker

    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed: import fails
    warns = pytest.warns(UserWarning, match="mlflow is not installed")
    with warns, open_tracker(True, tmp_path, "x", "run") as tracker:
        tracker.log_params({"a": 1})
        tracker.on_epoch({"val_accuracy": 0.5})
    assert not tracker.enabled and not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize("tta", [False, True])
def test_cached_evaluation_matches_the_eager_pipeline(finished: dict, tta: bool) -> None:
    """Test numbers through the feature cache (the prefix on ONNX Runtime, the fine-tuned
    stages and head in PyTorch) are the logits `landrec evaluate` computes image by image."""
    row = next(r for r in finished["result"].results if r.name == "finetune")
    config = apply_overrides(TrainConfig(), row.config)
    model, meta = ckpt.load_checkpoint(RunFolder(finished["out"] / "runs" / "finetune").best)
    val = load_splits(finished["data"]).get(Split.VAL)
    cached, labels, _ = cached_split_logits(model, meta, val, config, tta)
    eager, eager_labels, _ = split_logits(model, meta, val, tta=tta)
    assert torch.equal(labels, eager_labels) and len(labels) == len(val.samples)
    assert eager.std(0).max() > 1e-3  # image-dependent logits: agreement means something
    torch.testing.assert_close(cached, eager, atol=1e-4, rtol=0)


def test_tta_experiment_tests_its_init_from_checkpoint(finished: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(finished["out"], out)  # the finished study, cache included
    tta = {"name": "tta", "kind": "tta", "based_on": "finetune", "init_from": "finetune"}
    study = _study_file(
        tmp_path, [*EXPERIMENTS, {**tta, "finalist": True}], test_finalists_only=True
    )
    result = run_study(study, finished["data"], out)
    assert result.ran == ["tta"]  # the other four were finished and unchanged
    row = result.results[-1]
    assert row.ok, row.error
    model, meta = ckpt.load_checkpoint(RunFolder(out / "runs" / "finetune").best)
    val = load_splits(finished["data"]).get(Split.VAL)
    logits, labels, _ = cached_split_logits(
        model, meta, val, apply_overrides(TrainConfig(), row.config), True
    )
    assert row.best_val_accuracy == pytest.approx(
        float((logits.argmax(1) == labels).float().mean())
    )
    assert row.test_accuracy is not None and row.images_per_second > 0
    tta_report = RunFolder(out / "runs" / "tta").test_report.markdown
    assert "test-time augmentation" in tta_report.read_text()
    without = {k: v for k, v in tta.items() if k != "init_from"}
    with pytest.raises(ConfigError, match="tta needs init_from"):
        load_study(_study_file(tmp_path, [*EXPERIMENTS, without]))


def test_a_changed_experiment_runs_again_with_what_starts_from_it(
    make_data, tmp_path: Path
) -> None:
    data = make_data()
    experiments = [
        {"name": "a"},
        {"name": "b", "init_from": "a", "weights": "auto", "head_epochs": 0, "finetune_epochs": 1},
        {"name": "c", "head": "linear"},
    ]
    first = run_study(_study_file(tmp_path, experiments), data, tmp_path / "out")
    assert first.ran == ["a", "b", "c"]
    experiments[0]["lr"] = 0.05  # b's own entry is unchanged, but it starts from a's weights
    again = run_study(_study_file(tmp_path, experiments), data, tmp_path / "out")
    assert again.ran == ["a", "b"]
    assert again.results[0].config["head_lr"] == 0.05
    assert first.results[0].config["head_lr"] == 0.01
    assert again.results[2].to_dict() == first.results[2].to_dict()
    replaced = tmp_path / "out" / "runs" / ".replaced"
    assert json.loads((replaced / "a" / "result.json").read_text())["config"]["head_lr"] == 0.01
    assert run_study(_study_file(tmp_path, experiments), data, tmp_path / "out").ran == []
