"""Figures of the hands-on project: the loss curves of the chapter's own run.

``loss-curve`` plots what ``snippets.practice.fit`` records with the chapter's default
``PracticeConfig``: the mean training loss of every epoch, and the validation loss and
accuracy after it. The page prints the same run, so the figure and the numbers agree.
"""

from __future__ import annotations

import functools

import torch
from matplotlib.figure import Figure

from figures.style import new_figure, text
from snippets.data import digits_datasets
from snippets.practice import History, PracticeConfig, fit


@functools.cache
def history() -> History:
    train_set, val_set, _ = digits_datasets()
    _, hist = fit(PracticeConfig(), train_set, val_set, device=torch.device("cpu"))
    return hist


def loss_curve(lang: str) -> Figure:
    hist = history()
    epochs = range(1, len(hist.train_loss) + 1)
    best = min(range(len(hist.val_loss)), key=hist.val_loss.__getitem__) + 1
    fig, (ax_loss, ax_acc) = new_figure(ncols=2, width=7.0, height=3.0)
    ax_loss.plot(epochs, hist.train_loss, label=text(lang, "训练损失", "training loss"))
    ax_loss.plot(epochs, hist.val_loss, label=text(lang, "验证损失", "validation loss"))
    ax_loss.axvline(best, color="#888888", linestyle=":", linewidth=1)
    ax_loss.annotate(
        text(lang, "验证损失最低", "lowest validation loss"),
        xy=(best, hist.val_loss[best - 1]),
        xytext=(best, 1.0),
        ha="center",
        fontsize=8,
        arrowprops={"arrowstyle": "->", "color": "#888888"},
    )
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel(text(lang, "交叉熵（对数坐标）", "cross-entropy (log scale)"))
    ax_loss.legend(frameon=False)
    ax_acc.plot(epochs, hist.val_accuracy, color="#009E73")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel(text(lang, "验证集准确率", "validation accuracy"))
    ax_acc.set_ylim(0.8, 1.0)
    return fig


FIGURES = {"loss-curve": loss_curve}
