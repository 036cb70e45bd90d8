"""Two machines, simulated: two torchrun agents on this one (``--nnodes=2
--nproc-per-node=1``, c10d rendezvous on 127.0.0.1), each with its own worker process.
The job must equal the one-process run within the DDP tolerance (see test_ddp.py)."""

from __future__ import annotations

import socket
import subprocess
import uuid

import pytest
import torch

from .distlaunch import COMMON_ARGS, LAUNCH_TIMEOUT_S, TORCHRUN, Run, clean_env

pytestmark = pytest.mark.distributed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(300)
def test_two_agents_form_one_job_equal_to_one_process(tmp_path, single_run) -> None:
    endpoint, job = f"127.0.0.1:{free_port()}", uuid.uuid4().hex[:8]
    cmd = [
        str(TORCHRUN),
        "--nnodes=2",
        "--nproc-per-node=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint={endpoint}",
        f"--rdzv-id={job}",
        "-m",
        "snippets.distributed.ddp",
        "--run-dir",
        str(tmp_path),
        *COMMON_ARGS,
    ]
    nodes = [
        subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        for _ in range(2)
    ]
    outputs = [node.communicate(timeout=LAUNCH_TIMEOUT_S) for node in nodes]
    for node, (_, err) in zip(nodes, outputs):
        assert node.returncode == 0, err[-3000:]
    printed = [out for out, _ in outputs if out]
    assert len(printed) == 1  # only global rank 0 prints, on whichever node it is
    run = Run(tmp_path)
    assert run.metrics["world_size"] == 2
    for name, value in single_run.weights.items():
        torch.testing.assert_close(
            run.weights[name], value, atol=1e-4, rtol=1e-3, msg=name
        )
