"""Figure of the FAQ: where fp32 AdamW training memory goes, before activations.

The bars come from ``snippets.memory.estimate_training_bytes``, the handbook's one
accounting (4 bytes of weights, 4 of gradient, 8 of Adam moments per trainable
parameter; GiB = 2**30 bytes).
"""

from __future__ import annotations

from figures.style import new_figure, text
from snippets.memory import estimate_training_bytes

GIB = 2**30
MODELS = (("1B", 1e9, 1e9), ("7B", 7e9, 7e9), ("7B LoRA", 7e9, 0.004 * 7e9))


def memory(lang: str):
    fig, ax = new_figure(height=2.6)
    names = [name for name, _, _ in MODELS]
    parts = {
        text(lang, "权重", "weights"): [],
        text(lang, "梯度", "gradients"): [],
        text(lang, "Adam 的 m 和 v", "Adam m and v"): [],
    }
    for _, n, n_trainable in MODELS:
        est = estimate_training_bytes(int(n), int(n_trainable))
        for values, part in zip(parts.values(), (est.params, est.grads, est.optimizer)):
            values.append(part / GIB)
    left = [0.0] * len(MODELS)
    for label, values in parts.items():
        ax.barh(names, values, left=left, label=label)
        left = [a + b for a, b in zip(left, values)]
    for y, total in enumerate(left):
        ax.annotate(
            f"{total:.1f} GiB",
            (total, y),
            xytext=(4, -3),
            textcoords="offset points",
            fontsize=9,
        )
    ax.set_xlim(0, max(left) * 1.2)
    ax.invert_yaxis()
    ax.set_xlabel(
        text(
            lang,
            "fp32 AdamW 训练状态（GiB，不含激活值）",
            "fp32 AdamW training state (GiB, without activations)",
        )
    )
    ax.legend(loc="lower right", fontsize=8)
    return fig


FIGURES = {"memory": memory}
