"""Failures under the real launcher: a clear last line, not a hang or a traceback."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest
from torch.distributed.elastic.rendezvous.api import RendezvousTimeoutError

from snippets.distributed import ddp
from snippets.distributed.common import JoinError

from .distlaunch import COMMON_ARGS, TORCHRUN, clean_env, in_process, launch

pytestmark = pytest.mark.distributed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(200)
def test_other_settings_on_resume_end_with_the_rank_message(ddp_run, tmp_path) -> None:
    # issue 11: `--lr 0.5` or `--global-batch 32` on resume used to be accepted.
    run = tmp_path / "run"
    shutil.copytree(ddp_run.out, run)
    args = [a if a != "64" else "32" for a in COMMON_ARGS]
    result = launch(
        "ddp", run, args + ["--resume", "--lr", "0.5"], check=False, launcher=True
    )
    assert result.proc.returncode == 1
    last = result.proc.stderr.strip().splitlines()[-1]
    assert last.startswith("rank 0: CheckpointError: ")
    assert (
        "step-00000024 was made with other settings (global_batch: saved 64, "
        "given 32; lr: saved 0.01, given 0.5)"
    ) in last
    assert "Traceback" not in result.proc.stderr  # neither the rank's nor torchrun's
    # Printed twice: by rank 0 when it fails, then by the launcher as its last line;
    # rank 1, which only heard of it, prints nothing.
    assert result.proc.stderr.count("CheckpointError") == 2
    assert not result.proc.stdout  # nothing trained


@pytest.mark.timeout(60)
def test_unreachable_rendezvous_times_out_with_a_message(tmp_path, monkeypatch) -> None:
    # Rank 1 of 2, and nobody listens on the port: it must give up after --timeout-s.
    for name, value in {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "RANK": "1",
        "WORLD_SIZE": "2",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(
        JoinError,
        match=r"rank 1 of 2 could not join the process "
        r"group at 127.0.0.1:\d+ within 2 s",
    ):
        in_process(ddp.main, tmp_path, ["--steps", "2", "--timeout-s", "2"])


@pytest.mark.timeout(120)
def test_torchrun_rendezvous_times_out_when_a_node_is_missing(tmp_path) -> None:
    # --nnodes=2 but only this node joins: torchrun gives up after join_timeout.
    cmd = [
        str(TORCHRUN),
        "--nnodes=2",
        "--nproc-per-node=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{free_port()}",
        "--rdzv-id=test",
        "--rdzv-conf=join_timeout=3",
        "-m",
        "snippets.distributed.ddp",
        "--run-dir",
        str(tmp_path),
    ]
    proc = subprocess.run(
        cmd, check=False, capture_output=True, text=True, env=clean_env(), timeout=90
    )
    assert proc.returncode != 0
    assert RendezvousTimeoutError.__name__ in proc.stderr
