"""Figures of the optimizers chapter: the warmup + cosine schedule, and the paths that
SGD, SGD with momentum and Adam take on an ill-conditioned quadratic."""

from __future__ import annotations

from functools import cache

import torch
from matplotlib.patches import Ellipse

from figures.style import new_figure, text
from snippets.optim import SGD, Adam, AdamConfig, SGDConfig
from snippets.train import lr_factor

WARMUP, TOTAL, MIN_RATIO, PEAK = 20, 200, 0.1, 1e-2  # TrainConfig's defaults, 200 steps


@cache
def schedule_run() -> tuple[list[float], list[float]]:
    """The formula, and the learning rate torch's LambdaLR really set at each step."""
    formula = [PEAK * lr_factor(s, WARMUP, TOTAL, MIN_RATIO) for s in range(TOTAL + 1)]
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([w], lr=PEAK)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, WARMUP, TOTAL, MIN_RATIO)
    )
    used = []
    for _ in range(TOTAL + 1):
        used.append(opt.param_groups[0]["lr"])
        w.grad = torch.zeros(1)
        opt.step()
        sched.step()
    return formula, used


def schedule(lang: str):
    formula, used = schedule_run()
    fig, ax = new_figure(height=2.8)
    ax.plot(formula, label=text(lang, "lr_factor 公式", "lr_factor formula"))
    ax.plot(
        range(0, len(used), 10),
        used[::10],
        "o",
        ms=4,
        label=text(lang, "LambdaLR 实际设置的值", "set by LambdaLR"),
    )
    ax.axvline(WARMUP, color="#888888", ls="--", lw=1)
    ax.annotate(
        text(lang, f"预热 {WARMUP} 步", f"warmup: {WARMUP} steps"),
        (WARMUP, PEAK),
        xytext=(WARMUP + 8, PEAK * 0.3),
    )
    ax.set_xlabel(text(lang, "优化器步数", "optimizer step"))
    ax.set_ylabel(text(lang, "学习率", "learning rate"))
    ax.legend(loc="upper right")
    return fig


# f(x, y) = (x² + 25 y²) / 2: curvature 25x larger along y than along x.
CURVATURE = torch.tensor([1.0, 25.0], dtype=torch.float64)
START = (-4.0, 1.0)


@cache
def paths(steps: int = 40) -> dict[str, list[tuple[float, float]]]:
    makers = {
        "sgd": lambda p: SGD(p, SGDConfig(lr=0.07, momentum=0.0)),
        "momentum": lambda p: SGD(p, SGDConfig(lr=0.02, momentum=0.8)),
        "adam": lambda p: Adam(p, AdamConfig(lr=0.3)),
    }
    out = {}
    for name, make in makers.items():
        theta = torch.nn.Parameter(torch.tensor(START, dtype=torch.float64))
        opt, trace = make([theta]), [START]
        for _ in range(steps):
            opt.zero_grad()
            (0.5 * CURVATURE * theta**2).sum().backward()
            opt.step()
            trace.append(tuple(theta.tolist()))
        out[name] = trace
    return out


def trajectories(lang: str):
    fig, ax = new_figure(height=3.0)
    # level sets f = c: ellipses, half-axes sqrt(2c) along x and sqrt(2c/25) along y
    for c in (0.1, 0.5, 1.5, 3.0, 5.0, 8.0, 12.0):
        ax.add_patch(
            Ellipse(
                (0, 0),
                2 * (2 * c) ** 0.5,
                2 * (2 * c / 25) ** 0.5,
                fill=False,
                color="#bbbbbb",
                lw=0.7,
            )
        )
    labels = {
        "sgd": text(lang, "SGD（η=0.07）", "SGD (η=0.07)"),
        "momentum": text(
            lang, "SGD + 动量（η=0.02, μ=0.8）", "SGD + momentum (η=0.02, μ=0.8)"
        ),
        "adam": text(lang, "Adam（η=0.3）", "Adam (η=0.3)"),
    }
    for name, trace in paths().items():
        ax.plot(
            [p[0] for p in trace],
            [p[1] for p in trace],
            "o-",
            ms=2.5,
            lw=1,
            label=labels[name],
        )
    ax.plot([0], [0], "k*", ms=9)
    ax.set_xlim(-4.5, 4.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(
        text(lang, "在 f = (x² + 25y²)/2 上走 40 步", "40 steps on f = (x² + 25y²)/2")
    )
    ax.legend(loc="upper right", fontsize=8)
    return fig


FIGURES = {"schedule": schedule, "trajectories": trajectories}
