"""Step 3 of 3: sharded data parallel training, FSDP2 (``fully_shard``) under torchrun.

DDP keeps a full copy of weights, gradients and optimizer state on every process; FSDP
keeps only a 1/W shard of each.  Before a block's forward (and again in backward) FSDP
all-gathers that block's weights, and after backward it reduce-scatters the gradients,
so each rank updates only its own shard.  The math is the same as DDP's.

Notable choices: one ``fully_shard`` per block, then one for the root (gathers one block
at a time); gradient accumulation with ``set_requires_gradient_sync(False)``, FSDP2's
``no_sync``; checkpoints with ``torch.distributed.checkpoint`` (DCP): every rank writes
its own shard in parallel, ``latest`` (written last, atomically, by rank 0) names the
complete one; the final weights are gathered into one ``model.safetensors`` on rank 0.
``load_into_plain_model`` reads a sharded checkpoint into an ordinary single-process
model, with a clear error when the model does not match.

Run (2 processes; gloo on CPU, nccl on GPUs):
``torchrun --standalone --nproc-per-node=2 -m snippets.distributed.fsdp --out run``
or in one process: ``python -m snippets.distributed.fsdp --out run``
"""

from __future__ import annotations

import shutil
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

from snippets.distributed.common import (
    DistEnv,
    TrainConfig,
    accuracy,
    build_model,
    global_steps,
    load_digits_split,
    make_loader,
    maybe_inject_fault,
    mean_over_ranks,
    parse_config,
    process_group,
    samples_per_second,
    save_file_atomic,
    write_json_atomic,
)


# --8<-- [start:shard]
def shard(model: nn.Module) -> nn.Module:
    """Shard every block, then the root (which takes the remaining head parameters).

    After this, each parameter is a DTensor holding 1/W of the rows on each rank.
    """
    for block in model.blocks:
        fully_shard(block)
    fully_shard(model)
    return model
# --8<-- [end:shard]


# --8<-- [start:checkpoint]
def check_matches(checkpoint: str | Path, model: nn.Module) -> None:
    """Refuse a checkpoint saved from a different model, naming what differs.

    Reads only DCP's metadata file (names and global shapes), not the tensors.
    """
    saved = dcp.FileSystemReader(str(checkpoint)).read_metadata().state_dict_metadata
    saved = {k.removeprefix("model."): tuple(v.size) for k, v in saved.items()
             if k.startswith("model.")}
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = [f"missing {k}" for k in wanted.keys() - saved.keys()]
    problems += [f"unexpected {k}" for k in saved.keys() - wanted.keys()]
    problems += [f"{k}: saved {saved[k]} vs model {wanted[k]}"
                 for k in wanted.keys() & saved.keys() if saved[k] != wanted[k]]
    if problems:
        raise ValueError(f"checkpoint {checkpoint} does not fit this model: "
                         + "; ".join(sorted(problems)))


def save_sharded(out: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                 step: int, env: DistEnv) -> None:
    """Every rank writes its shards; then rank 0 points ``latest`` at the new step."""
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optim": optim_sd, "step": torch.tensor(step)}
    name = f"step_{step:06d}"
    dcp.save(state, checkpoint_id=out / "checkpoint" / name)  # collective
    if env.is_main:  # only after every shard is on disk (dcp.save ends with a barrier)
        latest = out / "checkpoint" / "latest"
        latest.with_suffix(".tmp").write_text(name)
        latest.with_suffix(".tmp").replace(latest)  # atomic: old or new, never half
        for old in (out / "checkpoint").glob("step_*"):
            if old.name != name:
                shutil.rmtree(old)  # keep only the checkpoint ``latest`` names


def load_sharded(out: Path, model: nn.Module,
                 optimizer: torch.optim.Optimizer) -> int:
    """Resume from ``out/checkpoint/latest`` if it exists; return the steps done."""
    latest = out / "checkpoint" / "latest"
    if not latest.exists():
        return 0
    path = out / "checkpoint" / latest.read_text().strip()
    check_matches(path, model)
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optim": optim_sd, "step": torch.tensor(0)}
    dcp.load(state, checkpoint_id=path)  # each rank reads the pieces it owns
    set_state_dict(model, optimizer, model_state_dict=state["model"],
                   optim_state_dict=state["optim"])
    return int(state["step"])


def load_into_plain_model(checkpoint: str | Path, model: nn.Module) -> nn.Module:
    """Load the weights of a sharded checkpoint into an ordinary, unsharded model.

    Works in a single process without a process group: DCP reassembles the shards.
    """
    check_matches(checkpoint, model)
    state = {"model": model.state_dict()}
    single = not dist.is_initialized()  # then read every shard here, no collectives
    with warnings.catch_warnings():  # DCP warns that it assumes one process: we do
        warnings.filterwarnings("ignore", "torch.distributed is disabled")
        dcp.load(state, checkpoint_id=checkpoint, no_dist=single)
    model.load_state_dict(state["model"])
    return model
# --8<-- [end:checkpoint]


# --8<-- [start:train]
def train(cfg: TrainConfig, env: DistEnv) -> dict:
    """The training loop of one process; returns rank 0's metrics (others: {})."""
    train_set, test_set = load_digits_split()
    loader = make_loader(train_set, env, cfg)
    model = shard(build_model(cfg).to(env.device))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)  # on the shards
    out = Path(cfg.out)
    start = load_sharded(out, model, optimizer)
    if env.is_main and start:
        print(f"resumed from step {start}")
    losses, step_ends = [], []
    for step, micro_batches in global_steps(loader, cfg, start):
        step_loss = torch.zeros(())
        for i, (x, y) in enumerate(micro_batches):
            # FSDP2's no_sync: reduce-scatter the gradients on the last micro-batch only
            model.set_requires_gradient_sync(i == cfg.accum - 1)
            loss = F.cross_entropy(model(x.to(env.device)), y.to(env.device))
            (loss / cfg.accum).backward()
            step_loss += loss.detach().cpu() / cfg.accum
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step_ends.append(time.perf_counter())
        losses.append(mean_over_ranks(step_loss, env.device))
        if env.is_main and (step + 1) % cfg.log_every == 0:
            print(f"step {step + 1:3d}  loss {losses[-1]:.4f}")
        if cfg.save_every and (step + 1) % cfg.save_every == 0:
            save_sharded(out, model, optimizer, step + 1, env)  # every rank takes part
        maybe_inject_fault(cfg, env, step + 1)
    # Gather the full weights (a collective: every rank calls it), kept on rank 0's CPU.
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    full = get_model_state_dict(model, options=options)
    if not env.is_main:
        return {}
    plain = build_model(cfg)
    plain.load_state_dict(full)
    metrics = {"world_size": env.world_size, "steps": cfg.steps, "start": start,
               "losses": losses, "test_accuracy": accuracy(plain, test_set),
               "samples_per_s": samples_per_second(step_ends, cfg.global_batch)}
    save_file_atomic(full, out / "model.safetensors")
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
