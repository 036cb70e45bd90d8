"""Figures of the landing page: what causal attention computes.

``causal-attention`` shows the weights ``softmax(QK^T / sqrt(d))`` of one head with the
causal mask, for random queries and keys: row i is how position i mixes the values of
positions 0..i, and everything above the diagonal is exactly zero.
"""

from __future__ import annotations

import functools
import math

import torch
from matplotlib.figure import Figure

from figures.style import new_figure, text

T, D = 12, 8  # sequence length, head dimension


@functools.cache
def causal_weights() -> list[list[float]]:
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(T, D, generator=gen), torch.randn(T, D, generator=gen)
    scores = q @ k.T / math.sqrt(D)  # (T, T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()  # position i sees positions <= i
    weights = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
    return weights.tolist()


def causal_attention(lang: str) -> Figure:
    weights = torch.tensor(causal_weights())
    shown = weights.masked_fill(weights == 0, float("nan"))  # masked cells left blank
    fig, ax = new_figure(width=4.6, height=3.6)
    image = ax.imshow(shown, cmap="Oranges", vmin=0, vmax=1)
    ax.grid(False)
    ax.set_xlabel(text(lang, "被看的位置 j（键）", "attended position j (key)"))
    ax.set_ylabel(text(lang, "位置 i（查询）", "position i (query)"))
    ax.set_xticks(range(0, T, 2))
    ax.set_yticks(range(0, T, 2))
    fig.colorbar(image, ax=ax, label=text(lang, "注意力权重", "attention weight"))
    return fig


FIGURES = {"causal-attention": causal_attention}
