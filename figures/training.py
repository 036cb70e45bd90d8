"""Figures of the training chapter: the curves of the chapter's own run.

``curves`` trains ``DigitsCNN`` exactly as the page does (10 epochs, batch 64,
``TrainConfig`` defaults, seed 0, CPU) with ``snippets.train.train`` and plots its
history: the training and validation loss per epoch, and the learning-rate schedule
``lr_factor`` gives for that run's 200 steps, with the rate the run recorded at the end
of each epoch on top of it.
"""

from __future__ import annotations

import functools

import torch
from matplotlib.figure import Figure

from figures.style import new_figure, text
from snippets.data import digits_datasets, make_loader
from snippets.models.cnn import DigitsCNN
from snippets.train import TrainConfig, lr_factor, train


@functools.cache
def run() -> tuple[TrainConfig, list[dict[str, float]]]:
    """The page's run: same data, seed, loaders and config (without saving)."""
    train_set, val_set, _ = digits_datasets(seed=0)
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=10, progress=False)
    history = train(
        DigitsCNN(),
        make_loader(train_set, batch_size=64, shuffle=True, seed=0),
        make_loader(val_set, batch_size=256, shuffle=False),
        cfg,
        torch.device("cpu"),
    )
    return cfg, history


def curves(lang: str) -> Figure:
    cfg, history = run()
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_lr) = new_figure(ncols=2, width=7.0, height=3.0)
    ax_loss.plot(
        epochs,
        [r["train_loss"] for r in history],
        marker="o",
        markersize=3,
        label=text(lang, "训练损失", "training loss"),
    )
    ax_loss.plot(
        epochs,
        [r["val_loss"] for r in history],
        marker="o",
        markersize=3,
        label=text(lang, "验证损失", "validation loss"),
    )
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel(text(lang, "交叉熵（对数坐标）", "cross-entropy (log scale)"))
    ax_loss.legend(frameon=False)
    total = history[-1]["step"]
    steps = range(total)
    schedule = [
        cfg.lr * lr_factor(s, cfg.warmup_steps, total, cfg.min_lr_ratio) for s in steps
    ]
    ax_lr.plot(steps, schedule, label=text(lang, "预热 + 余弦", "warmup + cosine"))
    ax_lr.plot(
        [r["step"] for r in history],
        [r["lr"] for r in history],
        "o",
        markersize=3,
        label=text(lang, "每个 epoch 末记录的值", "recorded per epoch"),
    )
    ax_lr.set_xlabel(text(lang, "优化器步数", "optimizer step"))
    ax_lr.set_ylabel(text(lang, "学习率", "learning rate"))
    ax_lr.legend(frameon=False)
    return fig


FIGURES = {"curves": curves}
