"""What the single-process, DDP and FSDP2 scripts share.

* ``TrainConfig``: the hyperparameters, one command-line flag per field.
* ``MLP`` and ``load_digits_split``: a small model on scikit-learn's bundled 8x8 digits
  (nothing is downloaded), so a 2-process run on a laptop CPU takes seconds.
* ``process_group``: join the process group that ``torchrun`` describes through the
  environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` ...), or build a one-process
  group when the script is started with plain ``python``; always leave it cleanly,
  also on error.
* ``make_loader`` / ``global_steps``: ``DistributedSampler`` with ``set_epoch``; the
  step counter alone decides which batch comes next, so a restarted job resumes exactly.
* ``save_file_atomic`` / ``write_json_atomic``: write to a temporary file, then rename,
  so a crash never leaves a half-written checkpoint behind.

Choices: gloo on CPU, nccl on CUDA (``snippets.device.dist_backend``); a short timeout,
so a missing peer fails with a message instead of hanging; a fresh key prefix in the
rendezvous store per torchrun attempt, so restarts (``--max-restarts``) reconnect.

This module is imported by the scripts; it runs nothing by itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import itertools
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from snippets.device import dist_backend, pick_device


@dataclass
class TrainConfig:
    steps: int = 48  # optimizer steps in total (not epochs), for any world size
    global_batch: int = 64  # examples per optimizer step, summed over all processes
    accum: int = 1  # micro-batches per optimizer step on each process (accumulation)
    lr: float = 1e-2  # AdamW learning rate
    hidden: int = 64  # width of the MLP's hidden layers
    seed: int = 0  # seeds the initial weights and the sampler's shuffle
    save_every: int = 0  # checkpoint every N steps (0: never); a restart resumes there
    log_every: int = 8  # rank 0 prints the loss every N steps
    out: str = "runs/dist"  # model.safetensors, metrics.json and checkpoints go here
    device: str = "auto"  # auto, cpu, cuda, ... (snippets.device.pick_device)
    timeout_s: float = 60.0  # give up on a missing peer after this long, don't hang
    fault_rank: int = -1  # testing only: this rank kills itself on the first attempt...
    fault_step: int = -1  # ...right after this step (see maybe_inject_fault)


def parse_config(argv: list[str] | None = None, description: str = "") -> TrainConfig:
    """Build a ``TrainConfig`` from command-line flags (``--global-batch 64`` ...)."""
    parser = argparse.ArgumentParser(description=description)
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        parser.add_argument(flag, type=type(field.default), default=field.default)
    return TrainConfig(**vars(parser.parse_args(argv)))


# --8<-- [start:model]
class MLP(nn.Module):
    """``n_layers`` blocks of ``Linear -> ReLU``, then a linear head.

    Each block is a separate submodule so that FSDP2 can shard (and later gather) the
    model one block at a time.

    Args:
        n_in: features per example.
        n_hidden: width of every hidden layer.
        n_out: number of classes.
        n_layers: number of hidden blocks.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, n_layers: int = 2) -> None:
        super().__init__()
        if min(n_in, n_hidden, n_out, n_layers) < 1:
            raise ValueError(
                f"MLP sizes must be >= 1, got n_in={n_in}, n_hidden={n_hidden}, "
                f"n_out={n_out}, n_layers={n_layers}"
            )
        widths = [n_in] + [n_hidden] * n_layers
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(a, b), nn.ReLU())
            for a, b in itertools.pairwise(widths)
        )
        self.head = nn.Linear(n_hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)  # (B, n_hidden)
        return self.head(x)  # (B, n_out)
# --8<-- [end:model]


def build_model(cfg: TrainConfig) -> MLP:
    """The model every script trains; seeded: every process builds the same weights."""
    torch.manual_seed(cfg.seed)
    return MLP(n_in=64, n_hidden=cfg.hidden, n_out=10)


def load_digits_split(n_test: int = 297) -> tuple[TensorDataset, TensorDataset]:
    """scikit-learn's 1797 handwritten digits (8x8 pixels, values 0..16), split in two.

    The CSV that ships inside scikit-learn is read directly: the same numbers as
    ``sklearn.datasets.load_digits()``, without the seconds it takes to import sklearn
    in every process.  Returns ``(train, test)``: 1500 and 297 examples with a fixed
    split; pixels are scaled to [0, 1].
    """
    package = Path(importlib.util.find_spec("sklearn").origin).parent  # no import
    table = np.loadtxt(package / "datasets" / "data" / "digits.csv.gz",
                       delimiter=",", dtype=np.float32)  # (1797, 65): pixels, label
    x = torch.from_numpy(table[:, :64]) / 16.0  # (1797, 64)
    y = torch.from_numpy(table[:, 64]).long()  # (1797,)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(1234))
    train, test = order[n_test:], order[:n_test]
    return TensorDataset(x[train], y[train]), TensorDataset(x[test], y[test])


@torch.no_grad()
def accuracy(model: nn.Module, data: TensorDataset) -> float:
    """Fraction of ``data`` that ``model`` classifies correctly (a plain module)."""
    x, y = data.tensors
    device = next(model.parameters()).device
    return (model(x.to(device)).argmax(dim=1).cpu() == y).float().mean().item()


# --8<-- [start:env]
@dataclass
class DistEnv:
    rank: int  # this process's index among all processes, 0 .. world_size - 1
    local_rank: int  # index among the processes on this machine: picks the GPU
    world_size: int  # number of processes in the job
    local_world_size: int  # processes on this machine
    device: torch.device  # where this process computes

    @property
    def is_main(self) -> bool:
        return self.rank == 0  # only rank 0 prints and writes files


def check_devices(backend: str, local_world_size: int, device_count: int) -> None:
    """nccl drives exactly one GPU per process: refuse more processes than GPUs."""
    if backend == "nccl" and local_world_size > device_count:
        raise RuntimeError(
            f"{local_world_size} processes on this node but only {device_count} "
            "GPU(s): nccl needs one GPU per process; use "
            f"--nproc-per-node={device_count} (or make more GPUs visible with "
            "CUDA_VISIBLE_DEVICES)"
        )


def local_batch_size(global_batch: int, world_size: int, accum: int) -> int:
    """Examples per micro-batch on one process: global_batch / (world_size * accum)."""
    if global_batch < 1 or accum < 1:
        raise ValueError(
            f"global batch and accum must be >= 1, got {global_batch} and {accum}"
        )
    if global_batch % (world_size * accum):
        raise ValueError(
            f"global batch {global_batch} is not divisible by world size {world_size} "
            f"x accum {accum}; pick a multiple of {world_size * accum}"
        )
    return global_batch // (world_size * accum)
# --8<-- [end:env]


# --8<-- [start:process_group]
@contextmanager
def process_group(cfg: TrainConfig) -> Iterator[DistEnv]:
    """Join the process group described by torchrun's environment variables.

    Without torchrun (plain ``python -m ...``) there are no such variables: the script
    builds a one-process group, so the same code runs unchanged.  The group is always
    destroyed on the way out; after an error there is no barrier, since the other ranks
    may be gone and a barrier would wait for them until the timeout.
    """
    rank = int(os.environ.get("RANK", 0))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    local_batch_size(cfg.global_batch, world_size, cfg.accum)  # fail before connecting
    device = pick_device(cfg.device)
    backend = dist_backend(device)
    if device.type != "cpu":
        check_devices(backend, local_world_size, torch.accelerator.device_count())
        device = torch.device(device.type, local_rank)  # one accelerator per process
        torch.accelerator.set_device_index(local_rank)
    timeout = timedelta(seconds=cfg.timeout_s)
    try:
        if "MASTER_ADDR" in os.environ:  # torchrun (or you) set the rendezvous address
            rendezvous = dist.rendezvous("env://", rank, world_size, timeout=timeout)
            store, _, _ = next(rendezvous)
            # After a restart torchrun reuses its key-value store: without a fresh
            # prefix, new ranks read the dead ranks' addresses and cannot connect.
            attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
            store = dist.PrefixStore(f"attempt_{attempt}", store)
        else:  # plain python: a private in-memory store for a group of one
            store = dist.HashStore()
        dist.init_process_group(backend, store=store, rank=rank,
                                world_size=world_size, timeout=timeout)
    except (RuntimeError, dist.DistError) as err:
        where = f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
        cause = (str(err).splitlines() or [""])[0]  # the first line says enough
        raise RuntimeError(
            f"rank {rank} of {world_size} could not join the process group at {where} "
            f"within {cfg.timeout_s:g} s: is every rank started, and is the address "
            f"reachable? ({type(err).__name__}: {cause})"
        ) from None
    ok = False
    try:
        yield DistEnv(rank, local_rank, world_size, local_world_size, device)
        ok = True
    finally:
        gc.collect()  # free the model's communication hooks before the group goes
        if ok:
            dist.barrier()  # nobody leaves while a peer still needs them
        dist.destroy_process_group()
# --8<-- [end:process_group]


# --8<-- [start:sampler]
def make_loader(data: TensorDataset, env: DistEnv, cfg: TrainConfig) -> DataLoader:
    """Each rank reads a disjoint 1/world_size of every epoch, in micro-batches.

    DistributedSampler shuffles all indices with ``seed + epoch`` (the same permutation
    on every rank) and gives rank r the indices r, r + W, r + 2W, ...; so the ranks'
    micro-batches at one step together form one contiguous slice of the permutation.
    """
    sampler = DistributedSampler(data, num_replicas=env.world_size, rank=env.rank,
                                 shuffle=True, seed=cfg.seed, drop_last=True)
    batch = local_batch_size(cfg.global_batch, env.world_size, cfg.accum)
    return DataLoader(data, batch_size=batch, sampler=sampler, drop_last=True)


def global_steps(loader: DataLoader, cfg: TrainConfig, start: int
                 ) -> Iterator[tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]]:
    """Yield ``(step, micro_batches)`` for steps ``start .. cfg.steps - 1``.

    The step number alone fixes the epoch and the position in it, so a job restarted at
    ``start`` sees exactly the batches an uninterrupted job would have seen.
    """
    per_epoch = len(loader) // cfg.accum
    if per_epoch == 0:
        raise ValueError(f"global batch {cfg.global_batch} exceeds the data set size")
    step = start
    while step < cfg.steps:
        epoch, skip = divmod(step, per_epoch)
        loader.sampler.set_epoch(epoch)  # forget it and every epoch repeats epoch 0
        batches = itertools.islice(iter(loader), skip * cfg.accum, None)
        for _ in range(min(per_epoch - skip, cfg.steps - step)):
            yield step, [next(batches) for _ in range(cfg.accum)]
            step += 1
# --8<-- [end:sampler]


# --8<-- [start:atomic]
def save_file_atomic(tensors: dict[str, torch.Tensor], path: str | Path,
                     metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file so that ``path`` is either the old or the new file.

    A crash (or ``kill -9``) in the middle leaves only a stray ``.tmp`` file behind;
    ``os.replace`` is atomic on POSIX and Windows within one file system.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    save_file(tensors, tmp, metadata=metadata)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())  # the bytes are on disk before the name points at them
    os.replace(tmp, path)


def write_json_atomic(obj: object, path: str | Path) -> None:
    """Write ``obj`` as JSON to ``path`` via a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
# --8<-- [end:atomic]


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter state as flat ``optim.<index>.<name>`` tensors."""
    return {
        f"optim.{index}.{name}": value
        for index, state in optimizer.state_dict()["state"].items()
        for name, value in state.items()
    }


def load_optimizer_tensors(optimizer: torch.optim.Optimizer,
                           tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of ``optimizer_tensors``; hyperparameters come from ``optimizer``."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    groups = optimizer.state_dict()["param_groups"]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def maybe_inject_fault(cfg: TrainConfig, env: DistEnv, step: int) -> None:
    """For the restart test: ``fault_rank`` dies by SIGKILL after ``fault_step``.

    Only on torchrun's first attempt (``TORCHELASTIC_RESTART_COUNT`` is 0), so the
    restarted job runs to the end.  A no-op unless both fields are set.
    """
    first_attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0)) == 0
    if env.rank == cfg.fault_rank and step == cfg.fault_step and first_attempt:
        os.kill(os.getpid(), signal.SIGKILL)  # like an OOM kill: no cleanup, no message


def samples_per_second(step_ends: list[float], global_batch: int) -> float:
    """Throughput after the first (warm-up) step, from each step's end time.

    ``(len(step_ends) - 1) * global_batch / (step_ends[-1] - step_ends[0])``; 0.0 when
    there are fewer than two steps.
    """
    if len(step_ends) < 2:
        return 0.0
    return (len(step_ends) - 1) * global_batch / (step_ends[-1] - step_ends[0])


def mean_over_ranks(value: torch.Tensor, device: torch.device) -> float:
    """Average a scalar over all processes (every rank must call it)."""
    value = value.detach().to(device, copy=True)  # nccl only reduces GPU tensors
    dist.all_reduce(value)  # SUM: gloo has no AVG
    return value.item() / dist.get_world_size()
