"""The training and evaluation loop the three application examples share.

A classifier that maps one input tensor ``(B, ...)`` to logits ``(B, C)`` is trained
with AdamW and cross-entropy on mini-batches drawn in a seeded order, so a run is
repeatable on any CPU.  The loop is a visible function on purpose: no trainer class, no
callbacks.  The handbook's GPU training chapter adds what large models need (mixed
precision, ``torch.compile``, gradient accumulation, checkpoints); this one stays short.

Run ``python -m snippets.applications.loop`` to fit a tiny linear problem.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn


# --8<-- [start:fit]
def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int,
        batch_size: int, lr: float, seed: int,
        weight_decay: float = 0.0) -> list[float]:
    """Train ``model`` with AdamW on cross-entropy; return the mean loss of each epoch.

    loss = -(1/B) sum_i log softmax(model(x_i))[y_i]

    Args:
        model: maps a batch ``(B, ...)`` to logits ``(B, C)``.
        x: inputs, first dimension is the example.
        y: integer class labels ``(N,)``.
        epochs: passes over the data.
        batch_size: examples per optimizer step.
        lr: AdamW learning rate.
        seed: seeds the shuffling order (a private generator: other draws cannot
            shift it).
        weight_decay: AdamW's decoupled weight decay.
    """
    if len(x) != len(y):
        raise ValueError(
            f"x and y must have the same length, got {len(x)} and {len(y)}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(
            f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        history.append(total / len(x))
    return history


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of examples whose arg-max logit is the label (model in eval mode)."""
    model.eval()
    return (model(x).argmax(dim=1) == y).float().mean().item()
# --8<-- [end:fit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(512, 4)
    y = (x[:, 0] + x[:, 1] > 0).long()  # a linearly separable rule
    model = nn.Linear(4, 2)
    losses = fit(model, x, y, epochs=args.epochs, batch_size=64, lr=0.05, seed=0)
    acc = accuracy(model, x, y)
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
