"""The hands-on project: SimpleNet on the digits, trained by the bare loop.

The handbook's first complete project (the "Hands-on project" chapter): the one digits
split and its loaders from ``snippets.data``, ``SimpleNet`` (two fully connected
layers), a training epoch written as the five steps every training step takes, and a
validation pass after every epoch whose history gives the chapter its loss curve
(``figures/practice.py`` draws it from ``fit``).  The "Training on GPUs" chapter grows
this loop into ``snippets.train`` (mixed precision, accumulation, clipping, exact
resume); evaluation is already the one ``snippets.train.evaluate``.

Run ``python -m snippets.practice`` to train and print the history.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from snippets.data import make_loader
from snippets.device import pick_device
from snippets.models.simplenet import SimpleNet
from snippets.train import evaluate

DIGITS_FEATURES = 64  # an 8 x 8 image, flattened
DIGITS_CLASSES = 10


# --8<-- [start:config]
@dataclass
class PracticeConfig:
    hidden_size: int = 128  # width of SimpleNet's hidden layer
    epochs: int = 30  # passes over the training set
    batch_size: int = 64  # examples per optimizer step
    lr: float = 3e-3  # AdamW learning rate
    weight_decay: float = 0.01  # AdamW's decoupled weight decay (its default)
    seed: int = 0  # seeds the initial weights and the order of the batches

    def __post_init__(self) -> None:
        for name in ("hidden_size", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
            # --8<-- [end:config]


# --8<-- [start:epoch]
def train_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
) -> float:
    """One pass over ``loader``, one optimizer step per batch.

    Every step is the same five moves: forward, loss, clear the old gradients,
    backward, update. The loss is the mean cross-entropy of the batch,
    ``L = -(1/B) sum_i log softmax(model(x_i))[y_i]``.

    Args:
        model: a classifier returning logits ``(B, C)``.
        loader: batches of ``(inputs, int64 labels)``.
        optimizer: updates ``model``'s parameters.
        device: where the model lives.

    Returns:
        The mean training loss over the epoch's examples (measured while the weights
        were still changing, and in training mode).
    """
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)  # 1. forward: (B, C)
        loss = F.cross_entropy(logits, y)  # 2. loss
        optimizer.zero_grad()  # 3. clear last step's gradients
        loss.backward()  # 4. backward: autograd fills p.grad
        optimizer.step()  # 5. update the parameters
        total += loss.item() * len(y)
        count += len(y)
    return total / count
    # --8<-- [end:epoch]


# --8<-- [start:fit]
@dataclass
class History:
    """Per-epoch metrics of a ``fit`` run (index 0 is epoch 1)."""

    train_loss: list[float] = field(default_factory=list)  # mean over the epoch
    val_loss: list[float] = field(default_factory=list)  # after the epoch
    val_accuracy: list[float] = field(default_factory=list)  # after the epoch


def fit(
    cfg: PracticeConfig,
    train_set: Dataset,
    val_set: Dataset,
    device: torch.device | None = None,
) -> tuple[SimpleNet, History]:
    """Train a fresh SimpleNet on ``train_set``, validating after every epoch.

    Args:
        cfg: sizes and optimizer settings; see ``PracticeConfig``.
        train_set: ``(image, label)`` pairs to learn from.
        val_set: held-out pairs, only evaluated, never trained on.
        device: where to train; the current accelerator, else the CPU, if None.
    """
    device = device or pick_device()
    torch.manual_seed(cfg.seed)  # the initial weights
    model = SimpleNet(DIGITS_FEATURES, DIGITS_CLASSES, cfg.hidden_size).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    train_loader = make_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed)
    val_loader = make_loader(val_set, batch_size=256, shuffle=False)
    history = History()
    for _ in range(cfg.epochs):
        history.train_loss.append(train_epoch(model, train_loader, optimizer, device))
        val = evaluate(model, val_loader, device)
        history.val_loss.append(val["loss"])
        history.val_accuracy.append(val["accuracy"])
    return model, history
    # --8<-- [end:fit]


def main(cfg: PracticeConfig) -> None:
    from snippets.data import digits_datasets

    train_set, val_set, _ = digits_datasets()
    _, history = fit(cfg, train_set, val_set)
    for epoch, (tl, vl, va) in enumerate(
        zip(history.train_loss, history.val_loss, history.val_accuracy), start=1
    ):
        print(
            f"epoch {epoch:2d}  train loss {tl:.4f}  val loss {vl:.4f}  "
            f"val accuracy {va:.3f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=PracticeConfig.epochs)
    parser.add_argument("--hidden-size", type=int, default=PracticeConfig.hidden_size)
    parser.add_argument("--lr", type=float, default=PracticeConfig.lr)
    args = parser.parse_args()
    main(PracticeConfig(epochs=args.epochs, hidden_size=args.hidden_size, lr=args.lr))
