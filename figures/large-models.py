# ruff: noqa: N999  (the file is named after its chapter, large-models)
"""Figures of the large-model chapter: where training memory goes, and attention's T².

Every bar and point is measured with ``snippets.memory`` on the chapter's small GPT
(weights, gradients and AdamW moments after one step; tensors saved for backward).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from figures.style import COLORS, new_figure, text
from snippets.memory import measured_training_bytes, saved_activation_bytes
from snippets.models.attention import naive_causal_attention
from snippets.models.gpt import GPT, GPTConfig

BATCHES = (1, 4, 16)
LENGTHS = (64, 128, 256, 512, 1024)


@functools.cache
def breakdown() -> dict[int, dict[str, int]]:
    """Bytes of weights, gradients, AdamW moments and activations per batch size."""
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=4, d_model=64)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, 256, (1, 64), generator=torch.Generator().manual_seed(0))
    model(x, x)[1].backward()
    optimizer.step()
    state = measured_training_bytes(model, optimizer)
    rows = {}
    for batch in BATCHES:
        xb = x.expand(batch, 64)  # (B, T)
        rows[batch] = {
            "weights": state.params,
            "grads": state.grads,
            "adamw": state.optimizer,
            "activations": saved_activation_bytes(
                model, lambda xb=xb: model(xb, xb)[1]
            ),
        }
    return rows


def memory(lang: str) -> Figure:
    fig, ax = new_figure(height=3.0)
    names = {
        "weights": text(lang, "权重", "weights"),
        "grads": text(lang, "梯度", "gradients"),
        "adamw": text(lang, "AdamW 矩估计", "AdamW moments"),
        "activations": text(lang, "激活值", "activations"),
    }
    rows = breakdown()
    labels = [f"B = {b}" for b in rows]
    left = [0.0] * len(rows)
    for (key, name), color in zip(names.items(), COLORS):
        widths = [rows[b][key] / 2**20 for b in rows]
        ax.barh(labels, widths, left=left, label=name, color=color)
        left = [a + w for a, w in zip(left, widths)]
    ax.set_xlabel(text(lang, "MiB（fp32，T = 64）", "MiB (fp32, T = 64)"))
    ax.legend(loc="lower right")
    return fig


@functools.cache
def attention_bytes() -> dict[str, list[int]]:
    """Bytes saved for backward by one attention call, (B, H, Q) = (1, 4, 16)."""

    def sdpa(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    out = {"naive": [], "sdpa": []}
    g = torch.Generator().manual_seed(0)
    for T in LENGTHS:
        q, k, v = (
            torch.randn(1, 4, T, 16, generator=g, requires_grad=True) for _ in range(3)
        )  # (B, H, T, Q)
        for name, f in (("naive", naive_causal_attention), ("sdpa", sdpa)):
            out[name].append(
                saved_activation_bytes(
                    nn.Module(), lambda f=f, q=q, k=k, v=v: f(q, k, v).sum()
                )
            )
    return out


def activations(lang: str) -> Figure:
    fig, ax = new_figure(height=3.0)
    labels = {
        "naive": text(
            lang, "按公式实现（保存 T×T 分数）", "written out (keeps the T×T scores)"
        ),
        "sdpa": text(
            lang, "F.scaled_dot_product_attention", "F.scaled_dot_product_attention"
        ),
    }
    for (name, values), color in zip(attention_bytes().items(), COLORS):
        ax.loglog(
            LENGTHS,
            [v / 2**20 for v in values],
            "o-",
            base=2,
            label=labels[name],
            color=color,
        )
    ax.set_xlabel(text(lang, "序列长度 T", "sequence length T"))
    ax.set_ylabel(text(lang, "为反向保存的 MiB", "MiB saved for backward"))
    ax.legend()
    return fig


FIGURES = {"memory": memory, "activations": activations}
