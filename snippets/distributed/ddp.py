"""Step 2 of 3: data parallel training, DistributedDataParallel (DDP) under torchrun.

Every process holds a full copy of the model and trains on its own 1/W of each global
batch; during ``backward`` DDP all-reduces (averages) the gradients bucket by bucket, so
after ``optimizer.step()`` all copies are identical again, and equal to single-process
training on the whole batch (up to float rounding).

Notable choices: ``DistributedSampler`` with ``set_epoch``; gradient accumulation with
``model.no_sync()`` (one all-reduce per optimizer step, not per micro-batch); only
rank 0 prints and writes files; checkpoints are the single-process trainer's
(``snippets.checkpoint``: atomic files, ``complete.json`` with SHA-256 last, the same
settings on resume), written by rank 0 and read by every rank after a restart.

Run (2 processes; gloo on CPU, nccl on GPUs):
``torchrun --standalone --nproc-per-node=2 -m snippets.distributed.ddp --run-dir r``
or in one process: ``python -m snippets.distributed.ddp --run-dir r``
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from snippets.checkpoint import (
    load_checkpoint,
    save_checkpoint,
    save_weights,
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


# --8<-- [start:checkpoint]
def save_replicated(
    cfg: DistConfig, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> None:
    """Rank 0 only: every replica is identical, so one copy is the checkpoint."""
    state = {"step": step, "optimizer": optimizer.state_dict()}
    save_checkpoint(
        cfg.run_dir,
        step,
        model,
        state,
        keep_last=cfg.keep_last,
        meta=checkpoint_meta(cfg),
    )


def load_replicated(
    directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> int:
    """Every rank verifies and reads the same checkpoint; returns the steps done."""
    state = load_checkpoint(directory, model)  # CheckpointError unless intact
    optimizer.load_state_dict(state["optimizer"])
    return state["step"]
    # --8<-- [end:checkpoint]


# --8<-- [start:train]
def train(cfg: DistConfig, env: DistEnv) -> dict:
    """The training loop of one process; returns rank 0's metrics (others: {})."""
    train_set, test_set = load_data()
    loader = distributed_loader(train_set, env, cfg)
    model = build_model(cfg).to(env.device)
    ids = [env.device.index] if env.device.type == "cuda" else None
    ddp = DDP(model, device_ids=ids)  # broadcasts rank 0's weights to all ranks
    optimizer = torch.optim.AdamW(
        ddp.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    found = on_rank_zero(lambda: choose_checkpoint(cfg), env)  # same answer on all
    start = load_replicated(found[0], model, optimizer) if found else 0
    if env.is_main and start:
        print(f"resumed from step {start}")
    losses, step_ends, per_epoch = [], [], steps_per_epoch(loader, cfg)
    for step, micro_batches in global_steps(loader, cfg, start):
        step_loss = torch.zeros(())
        for i, (x, y) in enumerate(micro_batches):
            last = i == cfg.grad_accum_steps - 1
            # no_sync: keep the gradient local; the all-reduce runs on the last one only
            with nullcontext() if last else ddp.no_sync():
                loss = F.cross_entropy(ddp(x.to(env.device)), y.to(env.device))
                (loss / cfg.grad_accum_steps).backward()  # averages the micro-batches
            step_loss += loss.detach().cpu() / cfg.grad_accum_steps
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step_ends.append(time.perf_counter())
        losses.append(mean_over_ranks(step_loss, env.device))  # global batch's loss
        if env.is_main and (step + 1) % cfg.log_every == 0:
            print(f"step {step + 1:3d}  loss {losses[-1]:.4f}")
        if env.is_main and checkpoint_due(cfg, step + 1, per_epoch):
            save_replicated(cfg, step + 1, model, optimizer)
    # All replicas must agree: compare every rank's weights with rank 0's.
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    diff = (flat - reference).abs().max()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    if not env.is_main:
        return {}
    accuracy = test_accuracy(model, test_set, env.device)
    metrics = {
        "world_size": env.world_size,
        "steps": cfg.steps,
        "start": start,
        "losses": losses,
        "test_accuracy": accuracy,
        "max_rank_param_diff": diff.item(),
        "samples_per_s": samples_per_second(step_ends, cfg.global_batch),
    }
    if cfg.run_dir is not None:
        save_weights(model, Path(cfg.run_dir) / "model.safetensors")
        write_json(Path(cfg.run_dir) / "metrics.json", metrics)
    return metrics
    # --8<-- [end:train]


def main(cfg: DistConfig) -> dict:
    """Join the process group, train, leave; rank 0 returns the metrics."""
    with process_group(cfg) as env:
        return train(cfg, env)


if __name__ == "__main__":
    run_script(main, __doc__)
