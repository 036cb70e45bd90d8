"""snippets/distributed/fsdp.py: FSDP2 on 2 ranks matches DDP; sharded checkpoints.

Tolerance: FSDP2 reduce-scatters the same gradients DDP all-reduces; we saw identical
weights (max abs diff 0.0) and allow ``atol=1e-6``.
"""

from __future__ import annotations

import shutil

import pytest
import torch
from distlaunch import COMMON_ARGS, launch

from snippets.distributed.common import MLP, TrainConfig, build_model
from snippets.distributed.fsdp import load_into_plain_model

pytestmark = pytest.mark.distributed


@pytest.mark.timeout(300)
def test_fsdp_on_two_ranks_matches_ddp(fsdp_run, ddp_run) -> None:
    fsdp, ddp = fsdp_run.weights, ddp_run.weights
    assert fsdp.keys() == ddp.keys()
    for name in fsdp:
        torch.testing.assert_close(fsdp[name], ddp[name], atol=1e-6, rtol=0, msg=name)
    assert fsdp_run.metrics["world_size"] == 2


@pytest.mark.timeout(200)
def test_sharded_checkpoint_loads_into_a_plain_model(fsdp_run) -> None:
    checkpoint = fsdp_run.out / "checkpoint" / "step_000024"
    assert (fsdp_run.out / "checkpoint" / "latest").read_text() == checkpoint.name
    assert len(list(checkpoint.glob("*.distcp"))) == 2  # one shard file per rank
    # Older checkpoints were removed once "latest" pointed at a newer one.
    kept = sorted(p.name for p in checkpoint.parent.iterdir())
    assert kept == ["latest", checkpoint.name]
    model = load_into_plain_model(checkpoint, build_model(TrainConfig()))
    for name, value in fsdp_run.weights.items():
        torch.testing.assert_close(model.state_dict()[name], value, atol=0, rtol=0)


@pytest.mark.timeout(200)
def test_resuming_with_a_different_model_names_the_mismatch(fsdp_run) -> None:
    checkpoint = fsdp_run.out / "checkpoint" / "step_000024"
    message = r"does not fit this model: .*blocks\.0\.0\.bias: saved \(64,\) vs model"
    with pytest.raises(ValueError, match=message):
        load_into_plain_model(checkpoint, MLP(64, 32, 10))
    with pytest.raises(ValueError, match="missing blocks.2.0.bias"):
        load_into_plain_model(checkpoint, MLP(64, 64, 10, n_layers=3))


@pytest.mark.timeout(200)
def test_plain_python_runs_fsdp_in_one_process(tmp_path, ddp_run) -> None:
    run = launch("fsdp", tmp_path, COMMON_ARGS, nproc=None)
    assert run.metrics["world_size"] == 1
    for name, value in run.weights.items():
        torch.testing.assert_close(value, ddp_run.weights[name], atol=1e-4, rtol=1e-3)


@pytest.mark.timeout(200)
def test_fsdp_script_refuses_to_resume_a_different_model(fsdp_run, tmp_path) -> None:
    out = tmp_path / "resume"
    shutil.copytree(fsdp_run.out, out)  # keep the shared run untouched
    run = launch("fsdp", out, COMMON_ARGS + ["--hidden", "32"], nproc=None, check=False)
    assert run.proc.returncode != 0
    assert "does not fit this model" in run.proc.stderr
    assert "head.weight: saved (10, 64) vs model (10, 32)" in run.proc.stderr
