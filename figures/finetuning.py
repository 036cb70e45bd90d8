"""Figures of the fine-tuning chapter: the LoRA layer, and LoRA vs full fine-tuning.

The loss curves come from a real (small) run of ``snippets.finetune``: a tiny GPT is
pretrained on the English pages, then fine-tuned on the Chinese pages in full and with
LoRA, with the learning rates of ``FinetuneConfig``.
"""

from __future__ import annotations

import functools

import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle

from figures.style import COLORS, new_figure, text
from snippets.corpus import ByteTokenizer, site_text, train_val_split
from snippets.finetune import FinetuneConfig, prepare_method, train_lm
from snippets.models.gpt import GPT, GPTConfig

STEPS_PRE, STEPS_FT, BATCH = 40, 40, 8  # small: the figure costs a few CPU seconds


@functools.cache
def loss_curves() -> dict[str, list[float]]:
    """Per-step training loss of full and LoRA fine-tuning from one pretrained base."""
    tok = ByteTokenizer()
    en = tok.encode(site_text("en"))
    zh_train, _ = train_val_split(tok.encode(site_text("zh")), 0.1)
    torch.manual_seed(0)
    base = GPT(
        GPTConfig(vocab_size=256, block_size=32, n_layer=2, n_head=4, d_model=32)
    )
    train_lm(base, en, STEPS_PRE, 3e-3, batch_size=BATCH)
    cfg = FinetuneConfig()
    curves = {}
    for method in ("full", "lora"):
        torch.manual_seed(0)
        model, lr = prepare_method(base, method, cfg)
        curves[method] = train_lm(model, zh_train, STEPS_FT, lr, batch_size=BATCH)[1]
    return curves


def loss(lang: str) -> Figure:
    fig, ax = new_figure(height=3.0)
    labels = {
        "full": text(lang, "全量微调", "full fine-tuning"),
        "lora": text(lang, "LoRA（r = 4）", "LoRA (r = 4)"),
    }
    for (method, curve), color in zip(loss_curves().items(), COLORS):
        steps = range(1, len(curve) + 1)
        ax.plot(steps, curve, color=color, alpha=0.3, linewidth=1)  # every step
        window = [curve[max(0, i - 4) : i + 1] for i in range(len(curve))]
        mean = [sum(w) / len(w) for w in window]  # running mean of 5 steps
        ax.plot(steps, mean, label=labels[method], color=color, linewidth=2)
    ax.set_xlabel(text(lang, "微调步数", "fine-tuning step"))
    ax.set_ylabel(text(lang, "训练损失（中文页面）", "training loss (Chinese pages)"))
    ax.set_title(
        text(
            lang,
            "细线：每一步；粗线：5 步滑动平均",
            "thin: every step; thick: running mean of 5 steps",
        ),
        fontsize=9,
    )
    ax.legend()
    return fig


def _box(ax, x, y, w, h, label, color, fill=0.25) -> None:
    ax.add_patch(
        Rectangle(
            (x, y), w, h, facecolor=color, alpha=fill, edgecolor=color, linewidth=1.5
        )
    )
    ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=10)


def _arrow(ax, start, end) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=12,
            color="#222222",
            linewidth=1.2,
        )
    )


def lora(lang: str) -> Figure:
    fig, ax = new_figure(height=3.2)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6)
    ax.axis("off")
    ax.text(0.5, 3, "$x$", ha="center", va="center", fontsize=14)
    _box(
        ax,
        2.0,
        3.6,
        3.2,
        1.8,
        text(lang, "$W_0$\n冻结（不训练）", "$W_0$\nfrozen"),
        "#888888",
    )
    ax.add_patch(
        Polygon(
            [(2.0, 0.4), (3.3, 1.1), (3.3, 2.3), (2.0, 3.0)],
            facecolor=COLORS[0],
            alpha=0.3,
            edgecolor=COLORS[0],
        )
    )
    ax.text(2.6, 1.7, "$A$\n$r \\times d_{in}$", ha="center", va="center")
    ax.add_patch(
        Polygon(
            [(3.7, 1.1), (5.0, 0.4), (5.0, 3.0), (3.7, 2.3)],
            facecolor=COLORS[1],
            alpha=0.3,
            edgecolor=COLORS[1],
        )
    )
    ax.text(4.4, 1.7, "$B$\n$d_{out} \\times r$", ha="center", va="center")
    ax.text(
        3.5,
        0.1,
        text(lang, "可训练，B 初始为 0", "trainable, B starts at 0"),
        ha="center",
        fontsize=9,
    )
    ax.text(6.1, 1.7, r"$\times\,\alpha / r$", ha="center", va="center")
    ax.add_patch(
        Rectangle((7.2, 2.6), 0.8, 0.8, facecolor="white", edgecolor="#222222")
    )
    ax.text(7.6, 3.0, "+", ha="center", va="center", fontsize=16)
    ax.text(9.2, 3.0, "$h$", ha="center", va="center", fontsize=14)
    for start, end in [
        ((0.8, 3.2), (2.0, 4.4)),
        ((0.8, 2.8), (2.0, 1.7)),
        ((3.3, 1.7), (3.7, 1.7)),
        ((5.0, 1.7), (5.6, 1.7)),
        ((6.6, 1.7), (7.5, 2.6)),
        ((5.2, 4.5), (7.5, 3.4)),
        ((8.0, 3.0), (8.9, 3.0)),
    ]:
        _arrow(ax, start, end)
    ax.text(
        5.0,
        5.75,
        text(
            lang,
            "$h = W_0 x + (\\alpha / r)\\, B A x$",
            "$h = W_0 x + (\\alpha / r)\\, B A x$",
        ),
        ha="center",
        fontsize=11,
    )
    return fig


FIGURES = {"lora": lora, "loss": loss}
