"""Figures of "Core concepts: modules": the registration tree of TinyNet.

``module-tree`` draws ``TinyNet(TinyNetConfig())`` as ``named_modules()`` reports it:
one box per registered submodule, named by its attribute, with the parameters and
buffers it holds itself. A module missing from the tree is one that ``parameters()``,
``state_dict()`` and ``.to()`` would not see.
"""

from __future__ import annotations

import functools

from matplotlib.figure import Figure

from figures.style import COLORS, new_figure, text
from snippets.modules import TinyNet, TinyNetConfig


@functools.cache
def tree() -> list[tuple[str, str, int, int]]:
    """``(qualified name, class name, own parameters, own buffers)`` in tree order."""
    model = TinyNet(TinyNetConfig())
    rows = []
    for name, module in model.named_modules():
        own_params = sum(p.numel() for p in module.parameters(recurse=False))
        own_buffers = sum(b.numel() for b in module.buffers(recurse=False))
        rows.append((name, type(module).__name__, own_params, own_buffers))
    return rows


def module_tree(lang: str) -> Figure:
    rows = tree()
    fig, ax = new_figure(width=7.0, height=0.27 * len(rows) + 0.5)
    ax.axis("off")
    ax.grid(False)
    row_y: dict[str, float] = {}
    for i, (name, cls, n_params, n_buffers) in enumerate(rows):
        depth = 0 if not name else name.count(".") + 1
        y = row_y[name] = -i
        parent = name.rsplit(".", 1)[0] if "." in name else ""
        label = f"{name.rsplit('.', 1)[-1] or 'model'}: {cls}"
        ax.text(
            depth * 0.9,
            y,
            label,
            va="center",
            fontsize=8,
            bbox={
                "boxstyle": "round,pad=0.25",
                "facecolor": "#F4F4F4",
                "edgecolor": COLORS[0] if n_params else "#999999",
            },
        )
        if depth:
            x = depth * 0.9 - 0.55  # under the parent's box, down to this row
            ax.plot(
                [x, x, depth * 0.9 - 0.1],
                [row_y[parent] - 0.35, y, y],
                color="#999999",
                linewidth=0.8,
            )
        notes = []
        if n_params:
            notes.append(text(lang, f"{n_params} 个参数", f"{n_params} parameters"))
        if n_buffers:
            notes.append(
                text(lang, f"{n_buffers} 个缓冲区元素", f"{n_buffers} buffer entries")
            )
        if notes:
            ax.text(
                5.6,
                y,
                ", ".join(notes),
                va="center",
                fontsize=8,
                color=COLORS[1] if n_buffers else COLORS[0],
            )
    ax.set_xlim(-0.1, 8.2)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    return fig


FIGURES = {"module-tree": module_tree}
