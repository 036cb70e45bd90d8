"""snippets/distributed/fsdp.py: FSDP2 on 2 ranks matches DDP; sharded checkpoints are
committed and verified like any other (every shard's size and SHA-256).

Tolerance: FSDP2 reduce-scatters the same gradients DDP all-reduces; we allow
``atol=1e-6`` (seen: 0.0 on the MLP this chapter used before, ~1e-8 on the CNN).
"""

from __future__ import annotations

import shutil

import pytest
import torch

from snippets.checkpoint import CheckpointError, list_checkpoints, verify_checkpoint
from snippets.distributed import fsdp
from snippets.distributed.common import build_model
from snippets.distributed.config import DistConfig
from snippets.models.cnn import DigitsCNN

from .distlaunch import COMMON_ARGS, in_process

pytestmark = pytest.mark.distributed


@pytest.mark.timeout(300)
def test_fsdp_on_two_ranks_matches_ddp(fsdp_run, ddp_run) -> None:
    fsdp_w, ddp_w = fsdp_run.weights, ddp_run.weights
    assert fsdp_w.keys() == ddp_w.keys()
    for name in fsdp_w:
        torch.testing.assert_close(
            fsdp_w[name], ddp_w[name], atol=1e-6, rtol=0, msg=name
        )
    assert fsdp_run.metrics["world_size"] == 2


@pytest.mark.timeout(200)
def test_sharded_checkpoint_is_committed_and_loads_into_a_plain_model(fsdp_run) -> None:
    kept = list_checkpoints(fsdp_run.out)
    assert [p.name for p in kept] == ["step-00000019", "step-00000024"]
    marker = verify_checkpoint(kept[-1])
    shards = [name for name in marker["files"] if name.endswith(".distcp")]
    assert len(shards) == 2 and ".metadata" in marker["files"]  # one file per rank
    model = fsdp.load_into_plain_model(kept[-1], build_model(DistConfig()))
    for name, value in fsdp_run.weights.items():
        torch.testing.assert_close(model.state_dict()[name], value, atol=0, rtol=0)


@pytest.mark.timeout(200)
def test_damaged_or_foreign_checkpoints_are_refused(fsdp_run, tmp_path) -> None:
    run = tmp_path / "run"
    shutil.copytree(fsdp_run.out, run)
    newest = list_checkpoints(run)[-1]
    with pytest.raises(
        CheckpointError,
        match=r"does not fit this model: .*"
        r"features.0.bias: saved \(32,\) vs model \(16,\)",
    ):
        fsdp.load_into_plain_model(newest, DigitsCNN(channels=(16, 32)))
    shard = sorted(newest.glob("*.distcp"))[1]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])  # truncated
    with pytest.raises(CheckpointError, match=r"__1_0.distcp is truncated or altered"):
        fsdp.load_into_plain_model(newest, build_model(DistConfig()))
    (list_checkpoints(run)[0] / "complete.json").unlink()  # the older: never finished
    with pytest.raises(
        CheckpointError,
        match="resume: no intact checkpoint in .*__1_0.distcp is truncated",
    ):
        in_process(fsdp.main, run, COMMON_ARGS + ["--resume"])
