"""Figure of the tools chapter: where a training step's CPU time goes, by operator.

A real ``torch.profiler`` run at build time of the page's two-layer MLP (forward,
backward, AdamW step), after warm-up steps that the schedule skips; the bars are the
operators' self CPU time. The numbers differ from machine to machine, so the page quotes
none of them: the figure shows the kind of table the profiler gives.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, schedule

from figures.style import new_figure, text

TOP = 8  # operators shown


@cache
def self_times() -> list[tuple[str, float]]:
    """(operator, self CPU time in ms per step) of the most expensive operators."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    active = 5
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add contention
    try:
        events = _profile(model, opt, x, y, active)
    finally:
        torch.set_num_threads(threads)
    events = [e for e in events if e.key.startswith("aten::")]
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [(e.key, e.self_cpu_time_total / 1000 / active) for e in events[:TOP]]


def _profile(model, opt, x, y, active: int):
    with profile(
        activities=[ProfilerActivity.CPU],
        schedule=schedule(wait=1, warmup=2, active=active),
    ) as prof:
        for _ in range(1 + 2 + active):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            prof.step()
    return list(prof.key_averages())


def profile_bars(lang: str):
    rows = self_times()
    fig, ax = new_figure(height=2.9)
    ax.barh([name for name, _ in rows], [ms for _, ms in rows])
    ax.invert_yaxis()
    ax.set_xlabel(
        text(
            lang,
            "每步的自身 CPU 时间（毫秒，随机器而变）",
            "self CPU time per step (ms, varies by machine)",
        )
    )
    ax.set_title(
        text(
            lang,
            "一个训练步里最耗时的算子",
            "The costliest operators of one training step",
        ),
        fontsize=10,
    )
    return fig


FIGURES = {"profile": profile_bars}
