"""Figures of the Transformer chapter: the tensor shapes through multi-head attention,
and the attention weights of a small GPT trained for a moment on the site's pages."""

from __future__ import annotations

import math
from functools import cache

import torch
from matplotlib.patches import FancyBboxPatch

from figures.style import COLORS, new_figure, text
from snippets.corpus import ByteTokenizer, get_batch, site_text
from snippets.models.attention import split_heads
from snippets.models.gpt import GPT, GPTConfig

SENTENCE = "the model reads the model"  # repeats, so a head can look back at a match


@cache
def trained_model() -> GPT:
    """A 2-layer GPT after 120 AdamW steps on the English pages (about a second)."""
    cfg = GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=4, d_model=64)
    ids = ByteTokenizer().encode(site_text("en"))
    torch.manual_seed(0)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(120):
        x, y = get_batch(ids, cfg.block_size, 8, g)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@cache
def attention_weights() -> torch.Tensor:
    """``(H, T, T)`` softmax(q k^T / sqrt(d) + M) of the last block for SENTENCE."""
    model = trained_model()
    idx = ByteTokenizer().encode(SENTENCE).unsqueeze(0)  # (1, T)
    T = idx.size(1)
    with torch.no_grad():
        x = model.wte(idx) + model.wpe(torch.arange(T))  # (1, T, C)
        for block in model.blocks[:-1]:
            x, _ = block(x)
        last = model.blocks[-1]
        q, k, _ = last.attn.c_attn(last.ln_1(x)).split(x.size(-1), dim=2)
        q, k = split_heads(q, model.cfg.n_head), split_heads(k, model.cfg.n_head)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (1, H, T, T)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        return scores.masked_fill(~mask, float("-inf")).softmax(-1)[0]  # (H, T, T)


def attention(lang: str):
    weights = attention_weights()
    H = weights.size(0)
    fig, axes = new_figure(ncols=H, width=7.0, height=2.4)
    labels = [c if c != " " else "␣" for c in SENTENCE]
    for h, ax in enumerate(axes):
        ax.imshow(weights[h].numpy(), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(text(lang, f"头 {h}", f"head {h}"), fontsize=9)
        ax.grid(False)
        ticks = range(0, len(labels), 4)
        ax.set_xticks(list(ticks), [labels[i] for i in ticks], fontsize=7)
        ax.set_yticks(list(ticks), [labels[i] for i in ticks], fontsize=7)
        ax.set_xlabel(text(lang, "键位置", "key"), fontsize=8)
    axes[0].set_ylabel(text(lang, "查询位置", "query"), fontsize=8)
    return fig


def _box(ax, x, y, label, shape, color):
    ax.add_patch(
        FancyBboxPatch(
            (x - 0.62, y - 0.32),
            1.24,
            0.64,
            boxstyle="round,pad=0.02",
            fc="white",
            ec=color,
            lw=1.6,
        )
    )
    ax.text(x, y + 0.1, label, ha="center", va="center", fontsize=9, weight="bold")
    ax.text(
        x, y - 0.14, shape, ha="center", va="center", fontsize=8, family="monospace"
    )


def _arrow(ax, start, end, label=""):
    ax.annotate("", end, start, arrowprops={"arrowstyle": "->", "color": "#444444"})
    mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    ax.text(
        mx,
        my + 0.12,
        label,
        ha="center",
        va="bottom",
        fontsize=7.5,
        family="monospace",
        color="#444444",
    )


def heads(lang: str):
    fig, ax = new_figure(height=2.9)
    ax.set_xlim(-0.8, 9.8)
    ax.set_ylim(-0.9, 2.1)
    ax.axis("off")
    top = [
        (0, "x", "(B, T, C)"),
        (2.1, "qkv", "(B, T, 3C)"),
        (4.3, "q, k, v", "(B, T, C)"),
        (6.6, "view", "(B, T, H, C/H)"),
        (9.0, text(lang, "转置", "transpose"), "(B, H, T, C/H)"),
    ]
    bottom = [
        (9.0, text(lang, "注意力", "attention"), "(B, H, T, C/H)"),
        (6.6, text(lang, "转置", "transpose"), "(B, T, H, C/H)"),
        (4.3, text(lang, "合并", "merge"), "(B, T, C)"),
        (2.1, "y", "(B, T, C)"),
    ]
    for x, label, shape in top:
        _box(ax, x, 1.5, label, shape, COLORS[0])
    for x, label, shape in bottom:
        _box(ax, x, -0.2, label, shape, COLORS[1])
    edges = ["W_qkv", "split(C)", "view", "transpose"]
    for (x0, *_), (x1, *_), label in zip(top, top[1:], edges):
        _arrow(ax, (x0 + 0.64, 1.5), (x1 - 0.64, 1.5), label)
    _arrow(ax, (9.0, 1.16), (9.0, 0.14), "")
    ax.text(
        9.1,
        0.65,
        "softmax(qkᵀ/√d+M)v",
        fontsize=7.5,
        family="monospace",
        ha="left",
        va="center",
        color="#444444",
    )
    edges = ["transpose", "view", "W_o"]
    for (x0, *_), (x1, *_), label in zip(bottom, bottom[1:], edges):
        _arrow(ax, (x0 - 0.64, -0.2), (x1 + 0.64, -0.2), label)
    ax.text(
        0.0,
        -0.2,
        text(lang, "每个头：\nC/H 个通道", "each head:\nC/H channels"),
        ha="center",
        va="center",
        fontsize=8,
        color=COLORS[2],
    )
    return fig


FIGURES = {"heads": heads, "attention": attention}
