"""Whether a run may start or resume, decided before anything is written into its folder: the
data set, the model, the weights and teachers (`preflight`), and on `--resume` the folder itself
(the options it was trained with, its state, its last checkpoint), so that a failed or mistaken
call cannot poison a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from landrec.data.layout import load_splits
from landrec.engine.config import (
    ConfigError,
    TrainConfig,
    check_init_weights,
    config_to_dict,
    resolve_config,
)
from landrec.engine.runs import RunFolder
from landrec.models.registry import get_spec

# Options that may change when a run resumes: where and how fast it runs, not what it learns.
RUNTIME_FIELDS = frozenset({"workers", "device", "cache_dir"})


def _recovery(run_dir: Path) -> str:
    """How to go on from a run that cannot resume: afresh, or from its last weights if they load."""
    from landrec.engine import checkpoint as ckpt  # torch: only on this error path

    fresh = "start a fresh run in another --out"
    last = RunFolder(run_dir).last
    try:
        ckpt.read_meta(last)
    except ckpt.CheckpointError:
        return fresh
    return f"{fresh}, or start from its weights with --init-checkpoint {last}"


def check_same_config(run_dir: Path, config: TrainConfig) -> None:
    """Raise ConfigError, listing the options, when `config` differs from the configuration that
    `run_dir` was trained with (RUNTIME_FIELDS aside)."""
    saved_path = RunFolder(run_dir).config
    if not run_dir.is_dir():
        raise ConfigError(f"--resume: {run_dir}: no such run folder (drop --resume to start one)")
    if not saved_path.is_file():
        raise ConfigError(f"--resume: {saved_path} is missing: {_recovery(run_dir)}")
    saved, new = config_to_dict(resolve_config(saved_path, {})), config_to_dict(config)
    changed = [k for k in new if k not in RUNTIME_FIELDS and saved[k] != new[k]]
    if changed:
        was = ", ".join(f"{k}={saved[k]}" for k in changed)
        now = ", ".join(f"{k}={new[k]}" for k in changed)
        raise ConfigError(
            f"--resume: {run_dir} was trained with {was}; now {now}: "
            "start a new --out or drop the changed options"
        )


def resume_state(run_dir: Path, config: TrainConfig) -> dict[str, Any]:
    """The state to resume `run_dir` from, once `config` is known to be the one it was trained
    with and its state and last checkpoint to load; reads only, writes nothing."""
    from landrec.engine import checkpoint as ckpt

    check_same_config(run_dir, config)
    run = RunFolder(run_dir)
    try:
        if not run.state.is_file():
            raise ckpt.CheckpointError(f"{run.state}: missing (no epoch has finished)")
        state = ckpt.load_state(run.state)
        ckpt.read_meta(run.last)  # saved before every state
    except ckpt.CheckpointError as exc:
        raise ckpt.CheckpointError(f"--resume: {exc}: {_recovery(run_dir)}") from exc
    return state


def preflight(data_root: str | Path, run_dir: Path, config: TrainConfig, resume: bool) -> None:
    """Everything a run can be refused for, checked before anything is written (MLflow's store
    in the run folder included): the stored run on resume, the data set's layout, the model's
    name, `weights` together with `init_checkpoint`, and the teachers."""
    if resume:
        check_same_config(run_dir, config)
    data = load_splits(data_root, config.val_fraction, config.seed)
    get_spec(config.model)
    check_init_weights(config.weights, config.init_checkpoint)
    if config.teacher is not None:
        if len(data.views) > 1:  # the teachers' targets are classes, not (view, class) pairs
            raise ConfigError(
                f"teacher: distilling into a model with views ({data.root}) is not supported"
            )
        from landrec.engine.training.distill import check_teachers  # loads models: only here

        check_teachers(config, data)
