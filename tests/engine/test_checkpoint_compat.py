"""Checkpoints written before the network's blocks were renamed (keys `stages.*`, no
`random_init` in the metadata) still load, with the same weights."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from landrec.engine.checkpoint import load_checkpoint


def test_a_checkpoint_with_stage_keys_loads_the_same_weights(
    red_blue_checkpoint: Path, tmp_path: Path
) -> None:
    with safe_open(str(red_blue_checkpoint), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
    assert any(k.startswith("blocks.") for k in tensors)
    old_meta = json.loads(metadata["landrec"])
    del old_meta["random_init"]
    old = {
        (f"stages.{k[len('blocks.') :]}" if k.startswith("blocks.") else k): v
        for k, v in tensors.items()
    }
    path = tmp_path / "old.safetensors"
    save_file(old, str(path), metadata={"landrec": json.dumps(old_meta)})

    model, meta = load_checkpoint(path)
    reference, _ = load_checkpoint(red_blue_checkpoint)
    assert meta.random_init  # derived from weights_source "random init"
    for (name, value), (ref_name, ref_value) in zip(
        model.state_dict().items(), reference.state_dict().items(), strict=True
    ):
        assert name == ref_name and torch.equal(value, ref_value), name
