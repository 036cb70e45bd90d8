"""Step 2 of 3: data parallel training, DistributedDataParallel (DDP) under torchrun.

Every process holds a full copy of the model and trains on its own 1/W of each global
batch; during ``backward`` DDP all-reduces (averages) the gradients bucket by bucket, so
after ``optimizer.step()`` all copies are identical again, and equal to single-process
training on the whole batch (up to float rounding).

Notable choices: ``DistributedSampler`` with ``set_epoch``; gradient accumulation with
``model.no_sync()`` (one all-reduce per optimizer step, not per micro-batch); only
rank 0 prints and writes files; rank 0 checkpoints atomically every ``--save-every``
steps and every rank resumes from that file after a restart (``--max-restarts``).

Run (2 processes; gloo on CPU, nccl on GPUs):
``torchrun --standalone --nproc-per-node=2 -m snippets.distributed.ddp --out runs/ddp``
or in one process: ``python -m snippets.distributed.ddp --out runs/ddp``
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors import safe_open
from torch.nn.parallel import DistributedDataParallel as DDP

from snippets.distributed.common import (
    DistEnv,
    TrainConfig,
    accuracy,
    build_model,
    global_steps,
    load_digits_split,
    load_optimizer_tensors,
    make_loader,
    maybe_inject_fault,
    mean_over_ranks,
    optimizer_tensors,
    parse_config,
    process_group,
    samples_per_second,
    save_file_atomic,
    write_json_atomic,
)


# --8<-- [start:checkpoint]
def save_checkpoint(path: Path, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, step: int) -> None:
    """Rank 0 only: weights, optimizer state and the step, in one atomic file."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= optimizer_tensors(optimizer)
    save_file_atomic(tensors, path, metadata={"step": str(step)})


def load_checkpoint(path: Path, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer) -> int:
    """Every rank reads the same file; returns the number of steps already done."""
    with safe_open(path, "pt") as f:  # the step is in the header's metadata
        step = int(f.metadata()["step"])
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    weights = {k.removeprefix("model."): v for k, v in tensors.items()
               if k.startswith("model.")}
    model.load_state_dict(weights)
    load_optimizer_tensors(optimizer, tensors)
    return step
# --8<-- [end:checkpoint]


# --8<-- [start:train]
def train(cfg: TrainConfig, env: DistEnv) -> dict:
    """The training loop of one process; returns rank 0's metrics (others: {})."""
    train_set, test_set = load_digits_split()
    loader = make_loader(train_set, env, cfg)
    model = build_model(cfg).to(env.device)
    ids = [env.device.index] if env.device.type == "cuda" else None
    ddp = DDP(model, device_ids=ids)  # broadcasts rank 0's weights to all ranks
    optimizer = torch.optim.AdamW(ddp.parameters(), lr=cfg.lr)
    out = Path(cfg.out)
    ckpt = out / "checkpoint.safetensors"
    start = load_checkpoint(ckpt, model, optimizer) if ckpt.exists() else 0
    if env.is_main and start:
        print(f"resumed from step {start}")
    losses, step_ends = [], []
    for step, micro_batches in global_steps(loader, cfg, start):
        step_loss = torch.zeros(())
        for i, (x, y) in enumerate(micro_batches):
            last = i == cfg.accum - 1
            # no_sync: keep the gradient local; the all-reduce runs on the last one only
            with nullcontext() if last else ddp.no_sync():
                loss = F.cross_entropy(ddp(x.to(env.device)), y.to(env.device))
                (loss / cfg.accum).backward()  # averages the micro-batches
            step_loss += loss.detach().cpu() / cfg.accum
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step_ends.append(time.perf_counter())
        losses.append(mean_over_ranks(step_loss, env.device))  # global batch's loss
        if env.is_main and (step + 1) % cfg.log_every == 0:
            print(f"step {step + 1:3d}  loss {losses[-1]:.4f}")
        if env.is_main and cfg.save_every and (step + 1) % cfg.save_every == 0:
            save_checkpoint(ckpt, model, optimizer, step + 1)
        maybe_inject_fault(cfg, env, step + 1)
    # All replicas must agree: compare every rank's weights with rank 0's.
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    diff = (flat - reference).abs().max()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    if not env.is_main:
        return {}
    metrics = {"world_size": env.world_size, "steps": cfg.steps, "start": start,
               "losses": losses, "test_accuracy": accuracy(model, test_set),
               "max_rank_param_diff": diff.item(),
               "samples_per_s": samples_per_second(step_ends, cfg.global_batch)}
    out.mkdir(parents=True, exist_ok=True)
    save_file_atomic(model.state_dict(), out / "model.safetensors")
    write_json_atomic(metrics, out / "metrics.json")
    return metrics
# --8<-- [end:train]


def main(cfg: TrainConfig) -> dict:
    """Join the process group, train, leave; rank 0 returns the metrics."""
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    with process_group(cfg) as env:
        return train(cfg, env)


if __name__ == "__main__":
    main(parse_config(description=__doc__))
