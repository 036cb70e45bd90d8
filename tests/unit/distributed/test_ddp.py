"""snippets/distributed/single.py and ddp.py: 2-process DDP equals one process; its
checkpoints are verified like the single-process trainer's.

Tolerance: DDP on 2 ranks with accumulation sums the gradient in a different order from
one process on the whole batch, so fp32 results are close, not bit-identical.  AdamW
divides by sqrt(v) and so magnifies rounding in tiny gradients; after 24 steps we saw
max abs diffs around 1e-6 and use ``atol=1e-4, rtol=1e-3`` (the weights move by ~0.1
in these steps, so a real bug, e.g. a missed all-reduce or a wrong batch, is far off).
The ranks must agree exactly: DDP applies the same averaged gradient everywhere.
"""

from __future__ import annotations

import shutil

import pytest
import torch

from snippets.checkpoint import CheckpointError, list_checkpoints, verify_checkpoint
from snippets.distributed import ddp

from .distlaunch import COMMON_ARGS, Run, in_process

pytestmark = pytest.mark.distributed

ATOL, RTOL = 1e-4, 1e-3


def assert_same_weights(
    a: dict, b: dict, atol: float = ATOL, rtol: float = RTOL
) -> None:
    assert a.keys() == b.keys()
    for name, value in a.items():
        torch.testing.assert_close(value, b[name], atol=atol, rtol=rtol, msg=name)


@pytest.mark.timeout(300)
def test_two_process_ddp_matches_single_process(single_run, ddp_run) -> None:
    assert ddp_run.metrics["world_size"] == 2
    assert_same_weights(ddp_run.weights, single_run.weights)
    # The logged loss is the global batch's mean loss: the same curve as one process.
    torch.testing.assert_close(
        torch.tensor(ddp_run.metrics["losses"]),
        torch.tensor(single_run.metrics["losses"]),
        atol=1e-4,
        rtol=1e-3,
    )
    # Guards the comparison against two untouched initialisations.
    losses = ddp_run.metrics["losses"]
    assert len(losses) == 24 and losses[-1] < 0.5 * losses[0]
    assert ddp_run.metrics["test_accuracy"] > 0.8


@pytest.mark.timeout(200)
def test_ranks_agree_and_only_rank_zero_prints(ddp_run) -> None:
    assert ddp_run.metrics["max_rank_param_diff"] == 0.0
    lines = ddp_run.proc.stdout.splitlines()
    assert [line.split()[1] for line in lines] == ["8", "16", "24"], lines


@pytest.mark.timeout(200)
def test_checkpoints_are_committed_and_pruned(ddp_run) -> None:
    kept = list_checkpoints(ddp_run.out)
    assert [p.name for p in kept] == ["step-00000019", "step-00000024"]
    marker = verify_checkpoint(kept[-1])
    assert marker["meta"]["step"] == 24
    assert marker["meta"]["config"]["global_batch"] == 64
    assert sorted(marker["files"]) == ["model.safetensors", "state.pt"]


@pytest.mark.timeout(200)
def test_plain_python_runs_the_same_script_in_one_process(tmp_path, single_run) -> None:
    metrics = in_process(ddp.main, tmp_path, COMMON_ARGS)
    assert metrics["world_size"] == 1
    assert_same_weights(Run(tmp_path).weights, single_run.weights)


@pytest.mark.timeout(200)
def test_a_flipped_bit_falls_back_or_is_refused(ddp_run, tmp_path, capsys) -> None:
    # issue 11: a flipped bit in the newest checkpoint used to be resumed silently.
    run = tmp_path / "run"
    shutil.copytree(ddp_run.out, run)
    newest = run / "checkpoints" / "step-00000024" / "model.safetensors"
    data = bytearray(newest.read_bytes())
    data[-2] ^= 0x40  # a high exponent bit of the last weight
    newest.write_bytes(bytes(data))
    metrics = in_process(ddp.main, run, COMMON_ARGS + ["--resume"])
    assert metrics["start"] == 19  # the older intact checkpoint, 5 steps redone
    err = capsys.readouterr()
    assert "step-00000024/model.safetensors is corrupt" in err.err
    assert "resumed from step 19" in err.out
    assert_same_weights(Run(run).weights, ddp_run.weights)
    for path in (run / "checkpoints").glob("step-*/model.safetensors"):
        path.write_bytes(path.read_bytes()[:-1])  # now every checkpoint is damaged
    with pytest.raises(
        CheckpointError,
        match="resume: no intact checkpoint in .* is truncated or altered",
    ):
        in_process(ddp.main, run, COMMON_ARGS + ["--resume"])
