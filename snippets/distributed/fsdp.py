"""Step 3 of 3: sharded data parallel training, FSDP2 (``fully_shard``) under torchrun.

DDP keeps a full copy of weights, gradients and optimizer state on every process; FSDP
keeps only a 1/W shard of each.  Before a block's forward (and again in backward) FSDP
all-gathers that block's weights, and after backward it reduce-scatters the gradients,
so each rank updates only its own shard.  The math is the same as DDP's.

Notable choices: one ``fully_shard`` for the convolutional ``features``, then one for
the root (which takes the head), so weights are gathered one block at a time; gradient
accumulation with ``set_requires_gradient_sync(False)``, FSDP2's ``no_sync``;
checkpoints with ``torch.distributed.checkpoint`` (DCP): every rank writes its own
shard in parallel, then rank 0 commits the folder with ``complete.json`` (size and
SHA-256 of every shard, the settings), exactly as a single-process checkpoint is
committed; the final weights are gathered into one ``model.safetensors`` on rank 0.
``load_into_plain_model`` reads a sharded checkpoint into an ordinary single-process
model, with a clear error when it is damaged or the model does not match.

Run (2 processes; gloo on CPU, nccl on GPUs):
``torchrun --standalone --nproc-per-node=2 -m snippets.distributed.fsdp --run-dir r``
or in one process: ``python -m snippets.distributed.fsdp --run-dir r``
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
import torch.nn.functional as F
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)
from torch.distributed.fsdp import fully_shard

from snippets.checkpoint import (
    MARKER,
    CheckpointError,
    commit_checkpoint,
    prune_checkpoints,
    save_weights,
    verify_checkpoint,
    write_json,
)
from snippets.distributed.common import (
    DistEnv,
    build_model,
    checkpoint_due,
    checkpoint_meta,
    choose_checkpoint,
    distributed_loader,
    global_steps,
    load_data,
    mean_over_ranks,
    on_rank_zero,
    process_group,
    run_script,
    samples_per_second,
    steps_per_epoch,
    test_accuracy,
)
from snippets.distributed.config import DistConfig


# --8<-- [start:shard]
def shard(model: nn.Module) -> nn.Module:
    """Shard the feature extractor, then the root (which takes the head's parameters).

    After this, each parameter is a DTensor holding 1/W of its rows on each rank.
    """
    fully_shard(model.features)
    fully_shard(model)
    return model
    # --8<-- [end:shard]


# --8<-- [start:checkpoint]
def save_sharded(
    cfg: DistConfig,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    env: DistEnv,
) -> None:
    """Every rank writes its shards; then rank 0 commits them like any checkpoint."""
    directory = Path(cfg.run_dir) / "checkpoints" / f"step-{step:08d}"
    if env.is_main:
        (directory / MARKER).unlink(
            missing_ok=True
        )  # rewriting: incomplete until marked
    model_sd, optim_sd = get_state_dict(model, optimizer)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=directory)
    if env.is_main:  # dcp.save returned on rank 0: every rank's shard is on disk
        files = [
            p.relative_to(directory).as_posix()
            for p in directory.rglob("*")
            if p.is_file() and p.name != MARKER
        ]
        commit_checkpoint(directory, files, {**checkpoint_meta(cfg), "step": step})
        prune_checkpoints(cfg.run_dir, cfg.keep_last)


def load_sharded(
    directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> None:
    """Every rank reads the pieces of a (verified) checkpoint that it owns."""
    check_matches(directory, model)
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optim": optim_sd}
    dcp.load(state, checkpoint_id=directory)
    set_state_dict(
        model,
        optimizer,
        model_state_dict=state["model"],
        optim_state_dict=state["optim"],
    )
    # --8<-- [end:checkpoint]


# --8<-- [start:plain]
def check_matches(checkpoint: str | Path, model: nn.Module) -> None:
    """Refuse a checkpoint saved from a different model, naming what differs.

    Reads only DCP's metadata file (names and global shapes), not the tensors.
    """
    saved = dcp.FileSystemReader(str(checkpoint)).read_metadata().state_dict_metadata
    saved = {
        k.removeprefix("model."): tuple(v.size)
        for k, v in saved.items()
        if k.startswith("model.")
    }
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = [f"missing {k}" for k in wanted.keys() - saved.keys()]
    problems += [f"unexpected {k}" for k in saved.keys() - wanted.keys()]
    problems += [
        f"{k}: saved {saved[k]} vs model {wanted[k]}"
        for k in wanted.keys() & saved.keys()
        if saved[k] != wanted[k]
    ]
    if problems:
        raise CheckpointError(
            f"checkpoint {checkpoint} does not fit this model: "
            + "; ".join(sorted(problems))
        )


def load_into_plain_model(checkpoint: str | Path, model: nn.Module) -> nn.Module:
    """Load the weights of a sharded checkpoint into an ordinary, unsharded model.

    Works in a single process without a process group: DCP reassembles the shards.
    """
    verify_checkpoint(checkpoint)  # every shard's size and SHA-256, as committed
    check_matches(checkpoint, model)
    state = {"model": model.state_dict()}
    single = not dist.is_initialized()  # then read every shard here, no collectives
    with warnings.catch_warnings():  # DCP warns that it assumes one process: we do
        warnings.filterwarnings("ignore", "torch.distributed is disabled")
        dcp.load(state, checkpoint_id=checkpoint, no_dist=single)
    model.load_state_dict(state["model"])
    return model
    # --8<-- [end:plain]


# --8<-- [start:train]
def train(cfg: DistConfig, env: DistEnv) -> dict:
    """The training loop of one process; returns rank 0's metrics (others: {})."""
    train_set, test_set = load_data()
    loader = distributed_loader(train_set, env, cfg)
    model = shard(build_model(cfg).to(env.device))
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=cfg.lr,  # on the shards
        weight_decay=cfg.weight_decay,
    )
    found = on_rank_zero(lambda: choose_checkpoint(cfg), env)  # same answer on all
    start = 0
    if found:
        load_sharded(found[0], model, optimizer)
        start = found[1]["meta"]["step"]
    if env.is_main and start:
        print(f"resumed from step {start}")
    losses, step_ends, per_epoch = [], [], steps_per_epoch(loader, cfg)
    for step, micro_batches in global_steps(loader, cfg, start):
        step_loss = torch.zeros(())
        for i, (x, y) in enumerate(micro_batches):
            # FSDP2's no_sync: reduce-scatter the gradients on the last micro-batch only
            model.set_requires_gradient_sync(i == cfg.grad_accum_steps - 1)
            loss = F.cross_entropy(model(x.to(env.device)), y.to(env.device))
            (loss / cfg.grad_accum_steps).backward()
            step_loss += loss.detach().cpu() / cfg.grad_accum_steps
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step_ends.append(time.perf_counter())
        losses.append(mean_over_ranks(step_loss, env.device))
        if env.is_main and (step + 1) % cfg.log_every == 0:
            print(f"step {step + 1:3d}  loss {losses[-1]:.4f}")
        if checkpoint_due(cfg, step + 1, per_epoch):  # every rank writes its shard
            save_sharded(cfg, step + 1, model, optimizer, env)
    # Gather the full weights (a collective: every rank calls it), kept on rank 0's CPU.
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    full = get_model_state_dict(model, options=options)
    if not env.is_main:
        return {}
    plain = build_model(cfg)
    plain.load_state_dict(full)
    metrics = {
        "world_size": env.world_size,
        "steps": cfg.steps,
        "start": start,
        "losses": losses,
        "test_accuracy": test_accuracy(plain, test_set, torch.device("cpu")),
        "samples_per_s": samples_per_second(step_ends, cfg.global_batch),
    }
    if cfg.run_dir is not None:
        save_weights(plain, Path(cfg.run_dir) / "model.safetensors")
        write_json(Path(cfg.run_dir) / "metrics.json", metrics)
    return metrics
    # --8<-- [end:train]


def main(cfg: DistConfig) -> dict:
    """Join the process group, train, leave; rank 0 returns the metrics."""
    with process_group(cfg) as env:
        return train(cfg, env)


if __name__ == "__main__":
    run_script(main, __doc__)
