"""Launch the distributed scripts for real: this venv's torchrun, gloo, loopback only.

Every launch has a subprocess timeout (and every test a pytest-timeout), so a hung
collective fails a test instead of stalling CI.  Runs that need one process only are
made in this process (``in_process``): the same code path as ``python -m ...``, without
the seconds of start-up a new interpreter costs.
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

from snippets.distributed.config import DistConfig, config_parser

HERE = Path(__file__).resolve().parent
TORCHRUN = Path(sys.executable).parent / "torchrun"
FAULTY = HERE / "faulty.py"  # test-only wrapper: kills one rank part-way
LAUNCH_TIMEOUT_S = 150  # one launch; a hang beyond this is a failure, not a wait
# The small configuration every run shares: 24 steps of 64 examples cross one epoch
# boundary (1257 // 64 = 19 steps per epoch); 2 micro-batches exercise no_sync;
# checkpoints at steps 8, 16, 19 (epoch end) and 24, the newest 2 kept.
COMMON_ARGS = [
    "--steps",
    "24",
    "--global-batch",
    "64",
    "--grad-accum-steps",
    "2",
    "--save-every",
    "8",
    "--log-every",
    "8",
    "--timeout-s",
    "30",
]
TORCHRUN_VARS = {
    "RANK",
    "LOCAL_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RESTART_COUNT",
    "TORCHELASTIC_RUN_ID",
    "TORCHELASTIC_ERROR_FILE",
    "GROUP_RANK",
}


@dataclass
class Run:
    out: Path
    proc: subprocess.CompletedProcess | None = None

    @property
    def weights(self) -> dict[str, torch.Tensor]:
        return load_file(self.out / "model.safetensors")

    @property
    def metrics(self) -> dict:
        return json.loads((self.out / "metrics.json").read_text())


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any torchrun variables a parent may have set."""
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARS}
    env["OMP_NUM_THREADS"] = "1"  # torchrun sets this per worker; match it everywhere
    env.update(extra)
    return env


def launch(
    module: str,
    out: Path,
    args: list[str],
    nproc: int = 2,
    torchrun_args: list[str] = (),
    env: dict[str, str] | None = None,
    check: bool = True,
    fault: tuple[int, int] | None = None,
    launcher: bool = False,
) -> Run:
    """Run ``snippets.distributed.<module>`` under torchrun with ``nproc`` processes.

    ``fault=(rank, step)``: through ``faulty.py``, which kills that rank after that
    many steps on torchrun's first attempt.  ``launcher``: through
    ``python -m snippets.distributed.launch`` instead of the torchrun command.
    """
    flags = ["--run-dir", str(out), *args]
    script = ["-m", f"snippets.distributed.{module}", *flags]
    env = env or clean_env()
    if fault is not None:
        script = [str(FAULTY), module, *flags]
        env = {**env, "FAULT_RANK": str(fault[0]), "FAULT_STEP": str(fault[1])}
    runner = (
        [sys.executable, "-m", "snippets.distributed.launch"]
        if launcher
        else [str(TORCHRUN)]
    )
    cmd = [
        *runner,
        "--standalone",
        f"--nproc-per-node={nproc}",
        *torchrun_args,
        *script,
    ]
    proc = subprocess.run(
        cmd,
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=LAUNCH_TIMEOUT_S,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stderr[-4000:]}")
    return Run(out, proc)


def in_process(main, out: Path | None, args: list[str]) -> dict:
    """Run a script's ``main`` here, as ``python -m`` would, with one thread."""
    argv = [*args, "--run-dir", str(out)] if out is not None else list(args)
    cfg = DistConfig(**vars(config_parser().parse_args(argv)))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as torchrun's workers (OMP_NUM_THREADS=1)
    try:
        return main(cfg)
    finally:
        torch.set_num_threads(threads)
