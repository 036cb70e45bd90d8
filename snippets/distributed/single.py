"""Step 1 of 3: train in one process: the reference the distributed runs must match.

No ``torch.distributed`` at all.  Each optimizer step uses one global batch: the next
``global_batch`` indices of a permutation drawn from ``seed + epoch``, which is exactly
the permutation ``DistributedSampler`` draws; so a DDP or FSDP run over W processes sees
the same global batches, split W ways.  With a ``run_dir`` it writes
``RUN_DIR/model.safetensors`` and ``RUN_DIR/metrics.json``.

Run: ``python -m snippets.distributed.single --steps 48 --run-dir runs/single``
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from snippets.checkpoint import save_weights, write_json
from snippets.device import pick_device
from snippets.distributed.common import (
    build_model,
    load_data,
    run_script,
    samples_per_second,
    test_accuracy,
)
from snippets.distributed.config import DistConfig


# --8<-- [start:train]
def main(cfg: DistConfig) -> dict:
    """Train ``cfg.steps`` steps on global batches; return (and save) the metrics."""
    device = pick_device(cfg.device)
    train, test = load_data()
    x_all, y_all = train.tensors
    per_epoch = len(train) // cfg.global_batch
    if per_epoch == 0:
        raise ValueError(f"global batch {cfg.global_batch} exceeds the data set size")
    model = build_model(cfg).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    losses, step_ends = [], []
    for step in range(cfg.steps):
        epoch, k = divmod(step, per_epoch)
        shuffle = torch.Generator().manual_seed(cfg.seed + epoch)  # as the sampler's
        order = torch.randperm(len(train), generator=shuffle)
        idx = order[k * cfg.global_batch : (k + 1) * cfg.global_batch]
        x, y = x_all[idx].to(device), y_all[idx].to(device)  # (B, 1, 8, 8), (B,)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step_ends.append(time.perf_counter())
        losses.append(loss.item())
        if (step + 1) % cfg.log_every == 0:
            print(f"step {step + 1:3d}  loss {loss.item():.4f}")
    metrics = {
        "world_size": 1,
        "steps": cfg.steps,
        "losses": losses,
        "test_accuracy": test_accuracy(model, test, device),
        "samples_per_s": samples_per_second(step_ends, cfg.global_batch),
    }
    if cfg.run_dir is not None:
        save_weights(model, Path(cfg.run_dir) / "model.safetensors")
        write_json(Path(cfg.run_dir) / "metrics.json", metrics)
    return metrics
    # --8<-- [end:train]


if __name__ == "__main__":
    run_script(main, __doc__)
