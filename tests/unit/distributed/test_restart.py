"""Fault tolerance: kill one rank mid-run under ``torchrun --max-restarts=1``.

Rank 1 SIGKILLs itself after step 12 on the first attempt (``--fault-rank``,
``--fault-step``); torchrun stops rank 0 and restarts both; they resume from the
step-8 checkpoint and must end with exactly the weights of the uninterrupted run (same
batches, same order of floating-point operations: we compare with atol=0).
"""

from __future__ import annotations

import pytest
import torch
from distlaunch import COMMON_ARGS, launch

pytestmark = pytest.mark.distributed

FAULT = ["--fault-rank", "1", "--fault-step", "12"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("module", ["ddp", "fsdp"])
def test_killed_rank_restarts_from_checkpoint_and_matches_clean_run(
    module, tmp_path, request
) -> None:
    clean = request.getfixturevalue(f"{module}_run")
    run = launch(module, tmp_path, COMMON_ARGS + FAULT,
                 torchrun_args=["--max-restarts=1"])
    assert "exitcode: -9" in run.proc.stderr  # the kill really happened
    assert "resumed from step 8" in run.proc.stdout
    assert run.metrics["start"] == 8
    for name, value in clean.weights.items():
        torch.testing.assert_close(run.weights[name], value, atol=0, rtol=0, msg=name)
