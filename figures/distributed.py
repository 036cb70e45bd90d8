"""Figures of the distributed chapter: the ring all-reduce step by step (from the
simulation in ``snippets.distributed.ring``), and the memory each rank holds under DDP
and FSDP (the chapter's 16 bytes per parameter accounting)."""

from __future__ import annotations

from functools import cache

import torch

from figures.style import COLORS, new_figure, text
from snippets.distributed.ring import ring_all_reduce

W = 4  # ranks in the ring figure


@cache
def ring_snapshots() -> list[torch.Tensor]:
    """(W, W) contribution counts: the start, then after every step of the ring."""
    snapshots = [torch.ones(W, W, dtype=torch.long)]
    ring_all_reduce([torch.randn(4 * W) for _ in range(W)], snapshots)
    return snapshots


def ring(lang: str):
    snaps = ring_snapshots()
    fig, axes = new_figure(ncols=len(snaps), width=7.0, height=2.0)
    names = [text(lang, "开始", "start")]
    names += [
        text(lang, f"reduce-scatter 第 {s} 步", f"reduce-scatter {s}")
        for s in range(1, W)
    ]
    names += [
        text(lang, f"all-gather 第 {s} 步", f"all-gather {s}") for s in range(1, W)
    ]
    for ax, snap, name in zip(axes, snaps, names):
        ax.imshow(snap.numpy(), cmap="Blues", vmin=0, vmax=W + 1)
        for r in range(W):
            for c in range(W):
                done = snap[r, c].item() == W
                ax.text(
                    c,
                    r,
                    str(snap[r, c].item()),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if done else "#222222",
                )
        ax.set_title(name, fontsize=7)
        ax.set_xticks(range(W), [str(c) for c in range(W)], fontsize=6)
        ax.set_yticks(range(W), [str(r) for r in range(W)], fontsize=6)
        ax.grid(False)
        ax.tick_params(length=0)
    axes[0].set_ylabel(text(lang, "rank", "rank"), fontsize=8)
    axes[0].set_xlabel(text(lang, "块", "chunk"), fontsize=8)
    fig.suptitle(
        text(
            lang,
            f"{W} 个 rank 的环形 all-reduce：每格是该块已累加了几个 "
            f"rank 的值（{W} = 求和完成）",
            f"Ring all-reduce on {W} ranks: how many ranks' values each "
            f"chunk holds ({W} = fully summed)",
        ),
        fontsize=9,
    )
    return fig


PARTS = (
    (4, ("参数", "parameters")),
    (4, ("梯度", "gradients")),
    (8, ("AdamW 的两个矩", "AdamW's two moments")),
)


def sharding(lang: str):
    """Bytes per parameter held by each of 4 ranks: DDP replicates, FSDP shards."""
    fig, ax = new_figure(height=2.8)
    x, labels = 0.0, []
    for scheme in ("DDP", "FSDP"):
        for rank in range(W):
            bottom = 0.0
            for (nbytes, (zh, en)), color in zip(PARTS, COLORS):
                height = nbytes if scheme == "DDP" else nbytes / W
                ax.bar(
                    x,
                    height,
                    bottom=bottom,
                    color=color,
                    width=0.8,
                    label=text(lang, zh, en) if x == 0 else None,
                )
                bottom += height
            labels.append((x, f"{scheme}\nrank {rank}"))
            x += 1
        x += 0.8
    ax.set_xticks([p for p, _ in labels], [name for _, name in labels], fontsize=7)
    ax.set_ylabel(
        text(lang, "每个参数占用的字节（fp32）", "bytes per parameter (fp32)")
    )
    ax.set_title(
        text(
            lang,
            "DDP 每个 rank 存一整份（16 字节/参数），FSDP 每个 rank 存 1/4",
            "DDP: every rank holds it all (16 bytes/param); FSDP: 1/4 each",
        ),
        fontsize=9,
    )
    ax.legend(loc="upper right", fontsize=8)
    return fig


FIGURES = {"ring": ring, "sharding": sharding}
