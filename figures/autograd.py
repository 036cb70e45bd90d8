"""Figures of "Forward and backward passes": the graph autograd records.

``graph`` draws the backward graph of a cross-entropy loss on the two-layer
``SimpleNet``, read from the real ``grad_fn`` objects: every node is a backward
function (``AddmmBackward0`` shown as ``Addmm``), every arrow points where the
gradient flows, and the leaves are ``AccumulateGrad`` nodes named after the parameter
they fill.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from figures.style import COLORS, new_figure, text
from snippets.models.simplenet import SimpleNet


@functools.cache
def backward_graph() -> tuple[dict[int, str], list[tuple[int, int]], dict[int, int]]:
    """Nodes ``{id: label}``, edges ``(from, to)`` in gradient order, node depths."""
    torch.manual_seed(0)
    net = SimpleNet(input_size=10, output_size=2, hidden_size=16)
    loss = F.cross_entropy(net(torch.randn(4, 10)), torch.tensor([0, 1, 1, 0]))
    names = {id(p): name for name, p in net.named_parameters()}
    labels, edges, depth = {}, [], {}
    stack = [(loss.grad_fn, 0)]
    while stack:
        node, d = stack.pop()
        key = id(node)
        depth[key] = max(depth.get(key, 0), d)
        if key in labels:
            continue
        if type(node).__name__ == "AccumulateGrad":
            labels[key] = names[id(node.variable)]
        else:
            labels[key] = type(node).__name__.removesuffix("Backward0")
        for child, _ in node.next_functions:
            if child is not None:
                edges.append((key, id(child)))
                stack.append((child, d + 1))
    # a second pass so that every node sits one column right of its deepest parent
    changed = True
    while changed:
        changed = False
        for a, b in edges:
            if depth[b] < depth[a] + 1:
                depth[b], changed = depth[a] + 1, True
    return labels, list(dict.fromkeys(edges)), depth


def graph(lang: str) -> Figure:
    labels, edges, depth = backward_graph()
    columns: dict[int, list[int]] = {}
    for key in labels:  # insertion order: the order the walk met the nodes
        columns.setdefault(depth[key], []).append(key)
    pos = {}
    for d, keys in columns.items():
        for i, key in enumerate(keys):
            pos[key] = (d, (len(keys) - 1) / 2 - i)
    fig, ax = new_figure(width=7.0, height=2.6)
    ax.axis("off")
    ax.grid(False)
    for a, b in edges:
        ax.annotate(
            "",
            xy=pos[b],
            xytext=pos[a],
            arrowprops={
                "arrowstyle": "->",
                "color": "#666666",
                "shrinkA": 16,
                "shrinkB": 16,
            },
        )
    for key, label in labels.items():
        leaf = "." in label  # parameter names: fc1.weight
        ax.text(
            *pos[key],
            label,
            ha="center",
            va="center",
            fontsize=8,
            bbox={
                "boxstyle": "round,pad=0.3",
                "facecolor": "#E8F1F8" if leaf else "#FBE9DD",
                "edgecolor": COLORS[0] if leaf else COLORS[1],
            },
        )
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.9)
    ax.text(
        min(xs) - 0.5,
        max(ys) + 0.75,
        text(
            lang,
            "loss.backward()：梯度从左往右流向参数",
            "loss.backward(): gradients flow left to right, to the parameters",
        ),
        fontsize=9,
        ha="left",
    )
    return fig


FIGURES = {"graph": graph}
