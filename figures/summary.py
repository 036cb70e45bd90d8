"""Figure of the trends chapter: what one outlier does to a row's int8 codes.

The same symmetric per-row quantization as the page (s_j = max|W_j| / 127): a
typical row spreads its weights over the whole int8 range, a row with one large
weight squeezes all the others into a handful of codes.
"""

from __future__ import annotations

from functools import cache

import torch

from figures.style import COLORS, new_figure, text


@cache
def codes() -> tuple[list[int], list[int], float, float]:
    """int8 codes of a typical row and of the same row with one outlier, and their
    relative errors."""
    torch.manual_seed(0)
    row = torch.randn(1, 512) * 0.02  # a typical initialisation scale
    with_outlier = row.clone()
    with_outlier[0, 0] = 1.0  # one weight 50 standard deviations out

    def quantize(w: torch.Tensor) -> tuple[list[int], float]:
        scale = w.abs().amax(dim=1, keepdim=True) / 127  # (1, 1)
        q = torch.round(w / scale).clamp(-127, 127)
        # the error of the 511 ordinary weights (the outlier itself is exact)
        rest, rest_hat = w[0, 1:], (q * scale)[0, 1:]
        error = ((rest - rest_hat).norm() / rest.norm()).item()
        return q[0, 1:].int().tolist(), error

    q_plain, e_plain = quantize(row)
    q_out, e_out = quantize(with_outlier)
    return q_plain, q_out, e_plain, e_out


def outlier(lang: str):
    q_plain, q_out, e_plain, e_out = codes()
    fig, axes = new_figure(ncols=2, height=2.8, sharey=True)
    bins = range(-128, 129, 4)
    panels = (
        (q_plain, text(lang, "普通的一行", "a typical row"), e_plain, COLORS[0]),
        (
            q_out,
            text(lang, "同一行加一个离群值 1.0", "the same row with one outlier, 1.0"),
            e_out,
            COLORS[1],
        ),
    )
    for ax, (q, title, error, color) in zip(axes, panels):
        ax.hist(q, bins=bins, color=color)
        used = len(set(q))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(text(lang, "int8 编码", "int8 code"))
        ax.annotate(
            text(
                lang,
                f"用到 {used} 个编码\n相对误差 {error:.1%}",
                f"{used} codes used\nrelative error {error:.1%}",
            ),
            (0.03, 0.8),
            xycoords="axes fraction",
            fontsize=9,
        )
    axes[0].set_ylabel(text(lang, "权重个数", "weights"))
    return fig


FIGURES = {"outlier": outlier}
