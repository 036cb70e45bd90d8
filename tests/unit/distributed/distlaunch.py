"""Launch the distributed scripts for real: this venv's torchrun, gloo, loopback only.

Every launch has a subprocess timeout (and every test a pytest-timeout), so a hung
collective fails a test instead of stalling CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

TORCHRUN = Path(sys.executable).parent / "torchrun"
LAUNCH_TIMEOUT_S = 150  # one launch; a hang beyond this is a failure, not a wait
# The small configuration every run shares: 24 steps of 64 examples cross one epoch
# boundary (1500 // 64 = 23 steps per epoch); accum 2 exercises no_sync.
COMMON_ARGS = ["--steps", "24", "--global-batch", "64", "--accum", "2",
               "--save-every", "8", "--log-every", "8", "--timeout-s", "30"]


@dataclass
class Run:
    out: Path
    proc: subprocess.CompletedProcess

    @property
    def weights(self) -> dict[str, torch.Tensor]:
        return load_file(self.out / "model.safetensors")

    @property
    def metrics(self) -> dict:
        return json.loads((self.out / "metrics.json").read_text())


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any torchrun variables a parent may have set."""
    drop = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
            "MASTER_PORT", "TORCHELASTIC_RESTART_COUNT", "GROUP_RANK"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["OMP_NUM_THREADS"] = "1"  # torchrun sets this per worker; match it everywhere
    env.update(extra)
    return env


def launch(module: str, out: Path, args: list[str], nproc: int | None = 2,
           torchrun_args: list[str] = (), env: dict[str, str] | None = None,
           check: bool = True) -> Run:
    """Run ``module`` under torchrun (``nproc`` processes) or plain python (None)."""
    script = ["-m", f"snippets.distributed.{module}", "--out", str(out), *args]
    if nproc is None:
        cmd = [sys.executable, *script]
    else:
        cmd = [str(TORCHRUN), "--standalone", f"--nproc-per-node={nproc}",
               *torchrun_args, *script]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env or clean_env(),
                          timeout=LAUNCH_TIMEOUT_S)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stderr[-4000:]}")
    return Run(out, proc)


