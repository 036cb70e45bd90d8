"""What the single-process, DDP and FSDP2 scripts share.

* ``build_model`` / ``load_data``: the handbook's one ``DigitsCNN`` on its one digits
  split (``snippets.data``), small enough that 2 processes train in seconds on a CPU.
* ``process_group``: join the process group that ``torchrun`` describes through the
  environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` ...), or build a one-process
  group when the script is started with plain ``python``; always leave it cleanly.
* ``distributed_loader`` / ``global_steps``: ``DistributedSampler`` with ``set_epoch``;
  the step counter alone decides which batch comes next, so a restarted job resumes
  exactly.
* ``choose_checkpoint`` / ``on_rank_zero``: the resume rules of the single-process
  trainer (verified checkpoints, the same settings), decided once, on rank 0.
* ``run_script``: a failing rank prints one line, its own, and tells torchrun.

Choices: gloo on CPU, nccl on CUDA (``snippets.device.dist_backend``); a short timeout,
so a missing peer fails with a message instead of hanging; a fresh key prefix in the
rendezvous store per torchrun attempt, so restarts (``--max-restarts``) reconnect
(``tests/unit/distributed/test_restart.py`` shows the failure without it).
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from snippets.checkpoint import (
    CheckpointError,
    intact_checkpoints,
    require_same_config,
    write_json,
)
from snippets.data import digits_train_test, make_loader
from snippets.device import dist_backend, pick_device
from snippets.distributed.config import RESUME_MUST_MATCH, DistConfig, config_parser
from snippets.models.cnn import DigitsCNN
from snippets.train import evaluate


def build_model(cfg: DistConfig) -> DigitsCNN:
    """The model every script trains; seeded: every process builds the same weights."""
    torch.manual_seed(cfg.seed)
    return DigitsCNN()


def load_data() -> tuple[TensorDataset, TensorDataset]:
    """Train and test sets of the handbook's digits split (1257 and 360 images)."""
    return digits_train_test()


def test_accuracy(model: nn.Module, test: TensorDataset, device: torch.device) -> float:
    """Accuracy of a plain (unwrapped) model on ``test``, by ``snippets.train``."""
    loader = make_loader(test, batch_size=512, shuffle=False)
    return evaluate(model, loader, device)["accuracy"]


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
        raise ValueError(
            f"{local_world_size} processes on this node but only {device_count} "
            "GPU(s): nccl needs one GPU per process; use "
            f"--nproc-per-node={device_count} (or make more GPUs visible with "
            "CUDA_VISIBLE_DEVICES)"
        )


def local_batch_size(global_batch: int, world_size: int, accum: int) -> int:
    """Examples per micro-batch on one process: global_batch / (world_size * accum)."""
    if global_batch % (world_size * accum):
        raise ValueError(
            f"global batch {global_batch} is not divisible by world size {world_size} "
            f"x grad_accum_steps {accum}; pick a multiple of {world_size * accum}"
        )
    return global_batch // (world_size * accum)
    # --8<-- [end:env]


class JoinError(RuntimeError):
    """This process could not join the process group (a peer or address is missing)."""


# --8<-- [start:process_group]
@contextmanager
def process_group(cfg: DistConfig) -> Iterator[DistEnv]:
    """Join the group torchrun's environment describes (plain ``python``: a group of
    one); always destroy it on the way out, after an error without a barrier, which
    would wait for peers that may be gone."""
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    local_batch_size(cfg.global_batch, world_size, cfg.grad_accum_steps)  # fail early
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
            # torchrun keeps one key-value store across restarts: without a fresh
            # prefix, new ranks read the dead ranks' addresses and cannot connect.
            attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
            store = dist.PrefixStore(f"attempt_{attempt}", store)
        else:  # plain python: a private in-memory store for a group of one
            store = dist.HashStore()
        dist.init_process_group(
            backend, store=store, rank=rank, world_size=world_size, timeout=timeout
        )
    except (RuntimeError, dist.DistError) as err:
        where = f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
        cause = (str(err).splitlines() or [""])[0]  # the first line says enough
        raise JoinError(
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
def distributed_loader(
    data: TensorDataset, env: DistEnv, cfg: DistConfig
) -> DataLoader:
    """Each rank reads a disjoint 1/world_size of every epoch, in micro-batches.

    DistributedSampler shuffles all indices with ``seed + epoch`` (the same permutation
    on every rank) and gives rank r the indices r, r + W, r + 2W, ...; so the ranks'
    micro-batches at one step together form one contiguous slice of the permutation.
    """
    sampler = DistributedSampler(
        data,
        num_replicas=env.world_size,
        rank=env.rank,
        shuffle=True,
        seed=cfg.seed,
        drop_last=True,
    )
    batch = local_batch_size(cfg.global_batch, env.world_size, cfg.grad_accum_steps)
    return DataLoader(data, batch_size=batch, sampler=sampler, drop_last=True)


def steps_per_epoch(loader: DataLoader, cfg: DistConfig) -> int:
    """Optimizer steps in one pass over the data (each takes grad_accum_steps)."""
    per_epoch = len(loader) // cfg.grad_accum_steps
    if per_epoch == 0:
        raise ValueError(f"global batch {cfg.global_batch} exceeds the data set size")
    return per_epoch


def global_steps(
    loader: DataLoader, cfg: DistConfig, start: int
) -> Iterator[tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]]:
    """Yield ``(step, micro_batches)`` for steps ``start .. cfg.steps - 1``.

    The step number alone fixes the epoch and the position in it, so a job restarted at
    ``start`` sees exactly the batches an uninterrupted job would have seen.
    """
    per_epoch, accum = steps_per_epoch(loader, cfg), cfg.grad_accum_steps
    step = start
    while step < cfg.steps:
        epoch, skip = divmod(step, per_epoch)
        loader.sampler.set_epoch(epoch)  # forget it and every epoch repeats epoch 0
        batches = itertools.islice(iter(loader), skip * accum, None)
        for _ in range(min(per_epoch - skip, cfg.steps - step)):
            yield step, [next(batches) for _ in range(accum)]
            step += 1
            # --8<-- [end:sampler]


def checkpoint_due(cfg: DistConfig, done: int, per_epoch: int) -> bool:
    """Save after ``done`` steps? At epoch ends, every ``save_every`` steps, at the end
    (``TrainConfig.save_every``'s meaning); never without a ``run_dir``."""
    every = cfg.save_every and done % cfg.save_every == 0
    return cfg.run_dir is not None and (
        done % per_epoch == 0 or bool(every) or done == cfg.steps
    )


def checkpoint_meta(cfg: DistConfig) -> dict[str, Any]:
    """What ``complete.json`` records besides the files: settings and torchrun job."""
    return {"config": asdict(cfg), "run_id": os.environ.get("TORCHELASTIC_RUN_ID")}


# --8<-- [start:resume]
def choose_checkpoint(cfg: DistConfig) -> tuple[Path, dict] | None:
    """The checkpoint this run continues, as ``(directory, marker)``; None: start fresh.

    The single-process trainer's rules: a fresh run never writes over a run's
    checkpoints; a resume takes the newest intact one (``complete.json`` there, every
    file's size and SHA-256 as recorded) and refuses one made with other settings.
    A torchrun restart of the same job (attempt > 0, same run id) resumes by itself.
    """
    if cfg.run_dir is None:
        return None
    with warnings.catch_warnings(record=True) as skipped:
        warnings.simplefilter("always")
        newest = next(intact_checkpoints(cfg.run_dir), None)
    why = f" ({skipped[0].message})" if skipped else ""
    if newest is None:
        if cfg.resume:
            raise CheckpointError(f"resume: no intact checkpoint in {cfg.run_dir}{why}")
        return None
    directory, marker = newest
    meta = marker["meta"]
    restarted = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
    same_job = restarted and meta.get("run_id") == os.environ.get("TORCHELASTIC_RUN_ID")
    if not (cfg.resume or same_job):
        raise FileExistsError(
            f"{cfg.run_dir} already holds checkpoints (newest: {directory.name}); "
            "pass --resume to continue that run, or choose another --run-dir"
        )
    saved = meta.get("config", {})
    require_same_config(
        {k: saved[k] for k in RESUME_MUST_MATCH if k in saved},
        {k: getattr(cfg, k) for k in RESUME_MUST_MATCH},
        str(directory),
    )
    for warning in skipped:  # an older checkpoint is used: say why the newer were not
        print(f"warning: {warning.message}", file=sys.stderr)
    return directory, marker
    # --8<-- [end:resume]


class PeerError(Exception):
    """Rank 0 failed and says why; this rank stops and passes on the same line."""


def error_line(err: BaseException, rank: str | None) -> str:
    """``rank 1: ValueError: message`` on one line (``rank`` None: no prefix)."""
    line = f"{type(err).__name__}: {' '.join(str(err).splitlines())}"
    return line if rank is None else f"rank {rank}: {line}"


def on_rank_zero(fn: Callable[[], Any], env: DistEnv) -> Any:
    """Run ``fn`` on rank 0 only; every rank returns its result (every rank calls this).

    If ``fn`` raises, rank 0 re-raises the error and the other ranks raise
    ``PeerError`` carrying rank 0's line, so the job stops everywhere with one message.
    """
    box: list[Any] = [None]
    if env.is_main:
        try:
            box = [("ok", fn())]
        except Exception as err:  # noqa: BLE001  sent to the peers, then re-raised
            box = [("error", err)]
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        if env.is_main:
            raise value
        raise PeerError(error_line(value, "0"))
    return value


def mean_over_ranks(value: torch.Tensor, device: torch.device) -> float:
    """Average a scalar over all processes (every rank must call it)."""
    value = value.detach().to(device, copy=True)  # nccl only reduces GPU tensors
    dist.all_reduce(value)  # SUM: gloo has no AVG
    return value.item() / dist.get_world_size()


def samples_per_second(step_ends: list[float], global_batch: int) -> float:
    """Throughput after the first (warm-up) step, from each step's end time.

    ``(len(step_ends) - 1) * global_batch / (step_ends[-1] - step_ends[0])``; 0.0 when
    there are fewer than two steps.
    """
    if len(step_ends) < 2:
        return 0.0
    return (len(step_ends) - 1) * global_batch / (step_ends[-1] - step_ends[0])


# Errors in the user's or the machine's terms (bad settings, a refused checkpoint, a
# missing peer, a full disk): one line each.  Anything else is a bug: full traceback.
EXPECTED_ERRORS = (ValueError, OSError, CheckpointError, JoinError)


# --8<-- [start:report]
def report_failure(line: str, echo: bool = True) -> None:
    """Hand a one-line error to torchrun's agent, and print it (if ``echo``).

    torchrun names each worker's error file in ``TORCHELASTIC_ERROR_FILE``; its failure
    summary shows the file's message as the root cause (else only "To enable
    traceback see ...").  ``python -m snippets.distributed.launch`` then prints
    that message as the very last line.
    """
    error_file = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if error_file:
        stamp = str(int(time.time()))
        info = {
            "message": line,
            "extraInfo": {"py_callstack": line, "timestamp": stamp},
        }
        write_json(error_file, {"message": info})
    if echo:
        print(line, file=sys.stderr, flush=True)


def run_script(
    main: Callable[[DistConfig], dict], description: str, argv: list[str] | None = None
) -> None:
    """Parse the flags into a ``DistConfig`` and run ``main``; exit 1 on failure."""
    args = config_parser(description).parse_args(argv)
    try:
        main(DistConfig(**vars(args)))
    except PeerError as err:  # rank 0 prints it; the agent may pick either file
        report_failure(str(err), echo=False)
        raise SystemExit(1) from None
    except EXPECTED_ERRORS as err:
        report_failure(error_line(err, os.environ.get("RANK")))
        raise SystemExit(1) from None
        # --8<-- [end:report]
