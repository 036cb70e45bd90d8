"""Rotary position embedding (RoPE, Su et al. 2021, arXiv:2104.09864).

Instead of adding a learned vector per position to the input, RoPE rotates each query
and key: the pair of coordinates ``(x_i, x_{i + d/2})`` at position ``m`` is turned
by the angle ``m * theta_i`` with ``theta_i = base^(-2i/d)``.  A rotation by ``m`` on
the query and by ``n`` on the key leaves their dot product depending on ``m - n``
only, so attention sees relative positions.  The pairing of coordinate ``i`` with
``i + d/2`` ("rotate half") is the layout of GPT-NeoX and Hugging Face's Llama; the
paper pairs neighbours ``(2i, 2i + 1)``, the same rotation with the coordinates
permuted.

Run ``python -m snippets.models.rope`` to check the relative-position property.
"""

from __future__ import annotations

import argparse

import torch


# --8<-- [start:rope]
def rope_tables(
    positions: torch.Tensor, head_dim: int, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the angles ``m * theta_i``, ``theta_i = base^(-2i/d)``.

    Args:
        positions: ``(T,)`` integer positions m.
        head_dim: d, the width of one head; must be even (coordinates go in pairs).
        base: the wavelength scale; 10000 as in the paper.

    Returns:
        ``(cos, sin)``, each ``(T, d)`` (the d/2 angles, repeated for both halves).
    """
    if head_dim % 2 != 0:
        raise ValueError(f"RoPE needs an even head_dim, got {head_dim}")
    i = torch.arange(head_dim // 2, dtype=torch.float32, device=positions.device)
    theta = base ** (-2 * i / head_dim)  # (d/2,)
    angles = positions.float()[:, None] * theta[None, :]  # (T, d/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, d)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair ``(x_i, x_{i + d/2})`` by its angle.

    rope(x) = x * cos + rotate_half(x) * sin,  rotate_half([a, b]) = [-b, a]

    Args:
        x: ``(..., T, d)`` queries or keys.
        cos, sin: ``(T, d)`` from :func:`rope_tables`.
    """
    a, b = x.chunk(2, dim=-1)  # 2 x (..., T, d/2)
    rotated = torch.cat([-b, a], dim=-1)  # (..., T, d)
    return (x * cos + rotated * sin).to(x.dtype)
    # --8<-- [end:rope]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head-dim", type=int, default=16)
    args = parser.parse_args(argv)
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, args.head_dim, generator=g)
    for m, n in [(3, 1), (10, 8), (50, 48)]:
        cos, sin = rope_tables(torch.tensor([m, n]), args.head_dim)
        qm = apply_rope(q, cos[0], sin[0])
        kn = apply_rope(k, cos[1], sin[1])
        print(f"m={m:2d} n={n:2d} m-n={m - n}: q_m . k_n = {(qm @ kn).item():.5f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
