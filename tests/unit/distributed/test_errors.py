"""Bad input gets a clear error, not a hang; sampler, resume and atomic-save checks."""

from __future__ import annotations

import socket
import subprocess

import pytest
import torch
from distlaunch import COMMON_ARGS, TORCHRUN, clean_env, launch
from safetensors.torch import load_file

from snippets.distributed import common
from snippets.distributed.common import (
    DistEnv,
    TrainConfig,
    check_devices,
    global_steps,
    load_digits_split,
    local_batch_size,
    make_loader,
    save_file_atomic,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_batch_must_divide_by_world_size_and_accum() -> None:
    assert local_batch_size(64, 2, 2) == 16
    message = "global batch 30 is not divisible by world size 4 x accum 1; pick a"
    with pytest.raises(ValueError, match=message):
        local_batch_size(30, 4, 1)
    with pytest.raises(ValueError, match="must be >= 1, got 64 and 0"):
        local_batch_size(64, 2, 0)


def test_nccl_refuses_more_processes_than_gpus() -> None:
    message = (r"2 processes on this node but only 1 GPU\(s\): nccl needs one GPU per "
               "process; use --nproc-per-node=1")
    with pytest.raises(RuntimeError, match=message):
        check_devices("nccl", local_world_size=2, device_count=1)
    check_devices("gloo", local_world_size=8, device_count=0)  # CPU processes: fine


def test_resumed_steps_see_the_same_batches_as_an_uninterrupted_run() -> None:
    data, _ = load_digits_split()
    cfg = TrainConfig(steps=30, global_batch=64, accum=2)
    env = DistEnv(rank=1, local_rank=1, world_size=2, local_world_size=2,
                  device=torch.device("cpu"))
    full = list(global_steps(make_loader(data, env, cfg), cfg, start=0))
    resumed = list(global_steps(make_loader(data, env, cfg), cfg, start=17))
    assert [s for s, _ in full] == list(range(30)) and len(resumed) == 13
    for (s1, b1), (s2, b2) in zip(full[17:], resumed):
        assert s1 == s2 and all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(b1, b2))
    # set_epoch matters: epoch 1 (steps 23..) is a different order from epoch 0.
    assert not torch.equal(full[0][1][0][0], full[23][1][0][0])


def test_ranks_read_disjoint_halves_that_form_the_global_batch() -> None:
    data, _ = load_digits_split()
    cfg = TrainConfig(global_batch=8, accum=1)
    seen = []
    for rank in range(2):
        env = DistEnv(rank, rank, 2, 2, torch.device("cpu"))
        loader = make_loader(data, env, cfg)
        loader.sampler.set_epoch(0)
        seen.append(list(loader.sampler)[:4])  # rank r: permutation[r::2]
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    assert sorted(seen[0] + seen[1]) == sorted(order[:8].tolist())


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch
                                                           ) -> None:
    path = tmp_path / "checkpoint.safetensors"
    save_file_atomic({"w": torch.zeros(3)}, path)

    def crash(tensors, filename, metadata=None):
        open(filename, "wb").write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(common, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        save_file_atomic({"w": torch.ones(3)}, path)
    assert torch.equal(load_file(path)["w"], torch.zeros(3))


@pytest.mark.distributed
@pytest.mark.timeout(120)
def test_world_size_that_does_not_divide_the_batch_fails_fast(tmp_path) -> None:
    args = [a if a != "64" else "62" for a in COMMON_ARGS]  # 62 = 2 ranks x 2 x 15.5
    run = launch("ddp", tmp_path, args, check=False)
    assert run.proc.returncode != 0
    assert ("ValueError: global batch 62 is not divisible by world size 2 x accum 2"
            in run.proc.stderr)


@pytest.mark.distributed
@pytest.mark.timeout(120)
def test_unreachable_rendezvous_times_out_with_a_message(tmp_path) -> None:
    # Rank 1 of 2, and nobody listens on the port: it must give up after --timeout-s.
    env = clean_env(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
                    RANK="1", WORLD_SIZE="2")
    args = ["--steps", "2", "--timeout-s", "3"]
    run = launch("ddp", tmp_path, args, nproc=None, env=env, check=False)
    assert run.proc.returncode != 0
    expected = "rank 1 of 2 could not join the process group at 127.0.0.1:"
    assert expected in run.proc.stderr
    assert "within 3 s" in run.proc.stderr


@pytest.mark.distributed
@pytest.mark.timeout(120)
def test_torchrun_rendezvous_times_out_when_a_node_is_missing(tmp_path) -> None:
    # --nnodes=2 but only this node joins: torchrun gives up after join_timeout.
    cmd = [str(TORCHRUN), "--nnodes=2", "--nproc-per-node=1", "--rdzv-backend=c10d",
           f"--rdzv-endpoint=127.0.0.1:{free_port()}", "--rdzv-id=test",
           "--rdzv-conf=join_timeout=4", "-m", "snippets.distributed.ddp",
           "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(),
                          timeout=90)
    assert proc.returncode != 0
    assert "RendezvousTimeoutError" in proc.stderr
