"""Step 1 of 3: train in one process: the reference the distributed runs must match.

No ``torch.distributed`` at all.  Each optimizer step uses one global batch: the next
``global_batch`` indices of a permutation drawn from ``seed + epoch``, which is exactly
the permutation ``DistributedSampler`` draws; so a DDP or FSDP run over W processes sees
the same global batches, split W ways.  Writes ``OUT/model.safetensors`` and
``OUT/metrics.json``.

Run: ``python -m snippets.distributed.single --steps 48 --out runs/single``
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from snippets.device import pick_device
from snippets.distributed.common import (
    TrainConfig,
    accuracy,
    build_model,
    load_digits_split,
    parse_config,
    samples_per_second,
    save_file_atomic,
    write_json_atomic,
)


# --8<-- [start:train]
def main(cfg: TrainConfig) -> dict:
    """Train ``cfg.steps`` steps on global batches; return (and save) the metrics."""
    device = pick_device(cfg.device)
    train, test = load_digits_split()
    x_all, y_all = train.tensors
    per_epoch = len(train) // cfg.global_batch
    model = build_model(cfg).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    losses, step_ends = [], []
    for step in range(cfg.steps):
        epoch, k = divmod(step, per_epoch)
        shuffle = torch.Generator().manual_seed(cfg.seed + epoch)  # as the sampler's
        order = torch.randperm(len(train), generator=shuffle)
        idx = order[k * cfg.global_batch:(k + 1) * cfg.global_batch]
        x, y = x_all[idx].to(device), y_all[idx].to(device)  # (B, 64), (B,)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step_ends.append(time.perf_counter())
        losses.append(loss.item())
        if (step + 1) % cfg.log_every == 0:
            print(f"step {step + 1:3d}  loss {loss.item():.4f}")
    metrics = {"world_size": 1, "steps": cfg.steps, "losses": losses,
               "test_accuracy": accuracy(model, test),
               "samples_per_s": samples_per_second(step_ends, cfg.global_batch)}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_file_atomic(model.state_dict(), out / "model.safetensors")
    write_json_atomic(metrics, out / "metrics.json")
    return metrics
# --8<-- [end:train]


if __name__ == "__main__":
    main(parse_config(description=__doc__))
