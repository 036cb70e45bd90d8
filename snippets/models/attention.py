"""Attention, from its formula to the multi-head module the GPT uses.

* ``naive_causal_attention``: ``softmax(q k^T / sqrt(d) + M) v`` written out, the
  reference that ``F.scaled_dot_product_attention`` is checked against;
* ``split_heads`` / ``merge_heads``: the two reshapes that turn one width-``C`` vector
  per position into ``H`` heads of width ``C / H`` and back;
* ``CausalSelfAttention``: multi-head causal self-attention on
  ``F.scaled_dot_product_attention`` (which picks a fused kernel when the device has
  one), with an optional KV cache for generation and an optional rotary position
  embedding (``snippets.models.rope``).

Run ``python -m snippets.models.attention`` to compare the written-out attention with
PyTorch's on random inputs.
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F
from torch import nn

from snippets.models.rope import apply_rope


# --8<-- [start:naive_attention]
def naive_causal_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """Causal attention written out: softmax(q k^T / sqrt(d) + M) v.

    M is 0 where key j <= query i and -inf above the diagonal, so no position sees
    the future. The reference for ``F.scaled_dot_product_attention(q, k, v,
    is_causal=True)``; it materialises the (T, T) score matrix, which fused kernels
    avoid.

    Args:
        q, k, v: ``(B, H, T, d)`` queries, keys and values.
    """
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, T, T)
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()  # (T, T)
    scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v  # (B, H, T, d)
    # --8<-- [end:naive_attention]


# --8<-- [start:heads]
def split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """``(B, T, C)`` -> ``(B, H, T, C / H)``: each head gets a slice of the width.

    Args:
        x: ``(B, T, C)`` one vector per position.
        n_head: H; must divide C.
    """
    B, T, C = x.shape
    x = x.view(B, T, n_head, C // n_head)  # (B, T, H, C/H)
    return x.transpose(1, 2)  # (B, H, T, C/H): heads act like a batch dimension


def merge_heads(y: torch.Tensor) -> torch.Tensor:
    """``(B, H, T, C / H)`` -> ``(B, T, C)``: the heads' outputs side by side.

    Args:
        y: ``(B, H, T, C/H)`` per-head outputs.
    """
    B, H, T, Q = y.shape
    y = y.transpose(1, 2)  # (B, T, H, C/H)
    return y.contiguous().view(B, T, H * Q)  # (B, T, C)
    # --8<-- [end:heads]


# --8<-- [start:attention]
class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with an optional KV cache.

    MHA(x) = concat_h softmax(q_h k_h^T / sqrt(C/H) + M) v_h  W_o,
    with [q, k, v] = x W_qkv split into H heads.

    Args:
        d_model: C, the width of the residual stream.
        n_head: H heads of width C / H.
        dropout: dropout on the attention weights and the output (training only).
        bias: biases in the two Linear layers.
    """

    def __init__(
        self, d_model: int, n_head: int, dropout: float = 0.0, bias: bool = False
    ) -> None:
        super().__init__()
        if d_model % n_head != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_head={n_head}")
        self.n_head = n_head
        self.c_attn = nn.Linear(d_model, 3 * d_model, bias=bias)  # W_qkv
        self.c_proj = nn.Linear(d_model, d_model, bias=bias)  # W_o
        self.dropout = dropout

    def forward(
        self,
        x: torch.Tensor,
        cache: tuple[torch.Tensor, torch.Tensor] | None = None,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``(B, T, C)`` -> ``(B, T, C)`` and the keys and values ``(k, v)`` so far.

        Args:
            x: ``(B, T, C)`` the new positions.
            cache: ``(k, v)`` of the past positions, each ``(B, H, past, C/H)``.
            rope: ``(cos, sin)`` for the new positions (``rope_tables``), or None.
        """
        q, k, v = self.c_attn(x).split(x.size(-1), dim=2)  # 3 x (B, T, C)
        q, k, v = (split_heads(t, self.n_head) for t in (q, k, v))  # (B, H, T, C/H)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        past = 0 if cache is None else cache[0].size(2)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # (B, H, past + T, C/H)
            v = torch.cat([cache[1], v], dim=2)  # (B, H, past + T, C/H)
        p = self.dropout if self.training else 0.0
        if past == 0:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            # is_causal aligns the mask top-left; with a cache the T new queries sit at
            # the end, so query i may see keys 0 .. past + i (bottom-right alignment).
            T = x.size(1)
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device)
            mask = mask.tril(diagonal=past)  # (T, past + T)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = merge_heads(y)  # (B, T, C)
        return F.dropout(self.c_proj(y), p, self.training), (k, v)
        # --8<-- [end:attention]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=64)
    args = parser.parse_args(argv)
    if args.seq_len < 1:
        parser.error(f"--seq-len must be >= 1, got {args.seq_len}")
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, args.seq_len, 16, generator=g) for _ in range(3))
    ours = naive_causal_attention(q, k, v)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    print(f"max |ours - SDPA| = {(ours - ref).abs().max().item():.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
