"""A run folder cannot be poisoned: a resume with other options, or of a broken state, fails in
one line before anything is written; bad options never create the folder; files are written
whole (temp file + rename) or not at all."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from landrec import api
from landrec.cli.main import main
from landrec.data.atomic import write_atomic, write_text_atomic
from landrec.engine.checkpoint import CheckpointError
from landrec.engine.config import ConfigError, TrainConfig, apply_overrides
from landrec.engine.runs import RunFolder
from landrec.engine.training.train import train

HEAD_EPOCHS, FINETUNE_EPOCHS = 2, 1


@pytest.fixture(scope="module")
def interrupted(
    tmp_path_factory: pytest.TempPathFactory, dataset_writer, tiny_options
) -> tuple[Path, Path]:
    """A data set and a run stopped after its first epoch (resumable)."""
    root = tmp_path_factory.mktemp("run-folder")
    data = dataset_writer(root / "data", per_class=2)
    epochs = {"head_epochs": HEAD_EPOCHS, "finetune_epochs": FINETUNE_EPOCHS}
    config = apply_overrides(TrainConfig(), {**tiny_options(root / "cache"), **epochs})

    def stop(row: dict) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(data, root / "run", config, on_epoch=stop)
    return data, root / "run"


@pytest.fixture
def run(interrupted: tuple[Path, Path], tmp_path: Path) -> Path:
    """A copy of the interrupted run, for one test to resume or break."""
    return Path(shutil.copytree(interrupted[1], tmp_path / "run"))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def test_resume_with_another_model_writes_nothing_and_a_plain_resume_still_works(
    interrupted: tuple[Path, Path], run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, before = interrupted[0], _files(run)
    args = ["train", str(data), "--out", str(run), "--resume", "--no-tracking", "--json"]
    assert main([*args, "--model", "resnet18"]) == 2
    assert _one_error_line(capsys) == (
        f"landrec: error: --resume: {run} was trained with model=mobilenet_v2; "
        "now model=resnet18: start a new --out or drop the changed options"
    )
    assert _files(run) == before  # config, state, checkpoints: byte-identical

    assert main(args) == 0
    history = RunFolder(run).history.read_text().splitlines()
    assert len(history) == 1 + HEAD_EPOCHS + FINETUNE_EPOCHS
    assert RunFolder(run).config.read_bytes() == before["config.yaml"]  # the on-disk name
    assert [p.name for p in run.iterdir() if p.name.endswith(".tmp")] == []


def test_resume_lists_each_changed_option_and_allows_runtime_ones(
    interrupted: tuple[Path, Path], run: Path, tiny: dict
) -> None:
    data = interrupted[0]
    with pytest.raises(ConfigError) as info:
        api.train(data, run, resume=True, test=False, head_lr=0.5, dropout=0.1, workers=1)
    assert str(info.value) == (
        f"--resume: {run} was trained with dropout=0.3, head_lr=0.001; now dropout=0.1, "
        "head_lr=0.5: start a new --out or drop the changed options"
    )
    other = apply_overrides(
        TrainConfig(), {**tiny, "head_epochs": HEAD_EPOCHS, "model": "resnet18"}
    )
    saved = RunFolder(run).config.read_bytes()
    with pytest.raises(ConfigError, match="with model=mobilenet_v2; now model=resnet18"):
        train(data, run, other, resume=True)  # the engine checks too, not only the API
    assert RunFolder(run).config.read_bytes() == saved
    result = api.train(data, run, resume=True, test=False, device="cpu")  # runtime: allowed
    assert len(result.train.history) == HEAD_EPOCHS + FINETUNE_EPOCHS


def _truncated(state: bytes) -> bytes:
    return state[: len(state) // 2]


def _random(state: bytes) -> bytes:
    return np.random.default_rng(0).bytes(len(state))


def _saved(value: object) -> bytes:
    def write(path: Path) -> bytes:
        torch.save(value, path)
        return path.read_bytes()

    return write  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        (lambda state, path: b"", "empty file"),
        (lambda state, path: _truncated(state), "not a resume state (RuntimeError)"),
        (lambda state, path: _random(state), "not a resume state (UnpicklingError)"),
        (lambda state, path: _saved([1, 2, 3])(path), "not a resume state (missing: all)"),
        (lambda state, path: _saved({"stage": 0})(path), "missing: bad_epochs, best_val_loss"),
    ],
    ids=["empty", "truncated", "random-bytes", "a-list", "a-foreign-dict"],
)
def test_a_broken_state_is_one_line_saying_how_to_recover(
    interrupted: tuple[Path, Path], run: Path, capsys: pytest.CaptureFixture[str], corrupt, reason
) -> None:
    state = RunFolder(run).state
    state.write_bytes(corrupt(state.read_bytes(), run / "scratch.pt"))
    (run / "scratch.pt").unlink(missing_ok=True)
    before = _files(run)
    args = ["train", str(interrupted[0]), "--out", str(run), "--resume", "--no-tracking"]
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"landrec: error: --resume: {state}: ")
    assert reason in line
    assert line.endswith(
        "start a fresh run in another --out, or start from its weights with "
        f"--init-checkpoint {RunFolder(run).last}"
    )
    assert _files(run) == before
    with pytest.raises(CheckpointError):  # the Python API says the same
        api.train(interrupted[0], run, resume=True, test=False)


def test_the_suggested_recovery_trains(
    interrupted: tuple[Path, Path], run: Path, tiny: dict
) -> None:
    RunFolder(run).state.write_bytes(b"")
    options = {**tiny, "finetune_epochs": 0, "weights": "auto"}  # auto: the checkpoint's
    init = str(RunFolder(run).last)
    result = api.train(
        interrupted[0], run.parent / "fresh", test=False, init_checkpoint=init, **options
    )
    assert len(result.train.history) == 1


def test_a_broken_last_checkpoint_is_not_suggested(
    interrupted: tuple[Path, Path], run: Path
) -> None:
    last = RunFolder(run).last
    last.write_bytes(last.read_bytes()[:100])
    with pytest.raises(CheckpointError) as info:
        api.train(interrupted[0], run, resume=True, test=False)
    assert str(info.value).startswith(f"--resume: {last}: not a safetensors checkpoint")
    assert str(info.value).endswith(": start a fresh run in another --out")
    assert "\n" not in str(info.value)


def test_resume_without_a_state_a_config_or_a_folder(
    interrupted: tuple[Path, Path], run: Path
) -> None:
    data = interrupted[0]
    RunFolder(run).state.unlink()
    with pytest.raises(CheckpointError, match=r"state\.pt: missing \(no epoch has finished\)"):
        api.train(data, run, resume=True, test=False)
    RunFolder(run).config.unlink()
    with pytest.raises(ConfigError, match=r"config\.yaml is missing: start a fresh run"):
        api.train(data, run, resume=True, test=False)
    with pytest.raises(ConfigError, match="no such run folder"):
        api.train(data, run.parent / "never", resume=True, test=False)
    assert not (run.parent / "never").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--batch-size", "0"], "batch_size: 0 is out of range (allowed: integer >= 1)"),
        (["--head-epochs", "-1", "--finetune-epochs", "-1"], "head_epochs: -1 is out of range"),
        (["--head-epochs", "0", "--finetune-epochs", "0"], "head_epochs + finetune_epochs: 0 + 0"),
        (["--head-lr", "-1"], "head_lr: -1.0 is out of range (allowed: number > 0)"),
        (["--device", "gpu"], "device: 'gpu' is not valid"),
    ],
)
def test_bad_training_options_exit_2_and_create_no_folder(
    interrupted: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    out = tmp_path / "new"
    assert main(["train", str(interrupted[0]), "--out", str(out), *options]) == 2
    assert _one_error_line(capsys).startswith(f"landrec: error: {message}")
    assert not out.exists()


def test_atomic_writes_leave_the_old_file_or_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    write_text_atomic(path, "old\n")
    temps: list[Path] = []

    def fail_halfway(tmp: Path) -> None:
        temps.append(tmp)
        tmp.write_text("half")
        raise OSError("disk full")

    for _ in range(2):
        with pytest.raises(OSError, match="disk full"):
            write_atomic(path, fail_halfway)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no temp file left
    assert temps[0] != temps[1] and {t.parent for t in temps} == {tmp_path}  # unique, beside it
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n"
