"""Figures of "The math of a layer": activation functions, and the signal through depth.

``activations`` plots ReLU, sigmoid and GELU with the derivatives autograd computes for
them. ``init-depth`` follows E[x^2] through 20 random Linear + ReLU layers for the three
weight scales of the chapter (``snippets.linear_math``'s Kaiming and Xavier, and
``nn.Linear``'s default), the run the page checks against (1/2)^20 and (1/6)^20.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from figures.style import new_figure, text
from snippets.linear_math import kaiming_std, xavier_std

ACTIVATIONS = {"ReLU": F.relu, "sigmoid": torch.sigmoid, "GELU": F.gelu}


@functools.cache
def activation_curves() -> dict[str, tuple[list[float], list[float], list[float]]]:
    """``name -> (z, f(z), f'(z))``, the derivative taken by autograd."""
    curves = {}
    for name, fn in ACTIVATIONS.items():
        z = torch.linspace(-4, 4, 401, dtype=torch.float64, requires_grad=True)
        y = fn(z)
        (dy,) = torch.autograd.grad(y.sum(), z)  # element-wise: the sum gives f'(z_i)
        curves[name] = (z.detach().tolist(), y.detach().tolist(), dy.tolist())
    return curves


def activations(lang: str) -> Figure:
    fig, (ax_f, ax_d) = new_figure(ncols=2, width=7.0, height=2.8, sharex=True)
    for name, (z, y, dy) in activation_curves().items():
        ax_f.plot(z, y, label=name)
        ax_d.plot(z, dy, label=name)
    ax_f.set_title(text(lang, "激活函数 f(z)", "activation f(z)"), fontsize=10)
    title = text(lang, "导数 f′(z)（autograd 计算）", "derivative f′(z) (autograd)")
    ax_d.set_title(title, fontsize=10)
    for ax in (ax_f, ax_d):
        ax.set_xlabel("z")
    ax_f.legend(frameon=False)
    return fig


@functools.cache
def mean_squares(depth: int = 20, width: int = 256) -> dict[str, list[float]]:
    """E[x^2] after each Linear + ReLU layer, the same random draws for every scale."""
    stds = {
        "Kaiming": kaiming_std(width),
        "Xavier": xavier_std(width, width),
        "nn.Linear": (1 / (3 * width)) ** 0.5,
    }
    out = {}
    for name, std in stds.items():
        gen = torch.Generator().manual_seed(0)
        h = torch.randn(256, width, generator=gen)  # E[x_0^2] = 1
        values = [h.pow(2).mean().item()]
        for _ in range(depth):
            h = torch.relu(h @ (torch.randn(width, width, generator=gen) * std).T)
            values.append(h.pow(2).mean().item())
        out[name] = values
    return out


def init_depth(lang: str) -> Figure:
    fig, ax = new_figure(width=7.0, height=3.0)
    for name, values in mean_squares().items():
        ax.plot(range(len(values)), values, marker="o", markersize=3, label=name)
    ax.set_yscale("log")
    ax.set_xlabel(text(lang, "层数", "layer"))
    ax.set_ylabel(text(lang, "E[x²]（对数坐标）", "E[x²] (log scale)"))
    ax.legend(frameon=False, title=text(lang, "权重初始化", "weight init"))
    return fig


FIGURES = {"activations": activations, "init-depth": init_depth}
