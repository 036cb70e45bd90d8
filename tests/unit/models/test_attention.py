"""snippets/models/attention.py: formula vs SDPA, heads, vs nn.MultiheadAttention."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snippets.models.attention import (
    CausalSelfAttention,
    merge_heads,
    naive_causal_attention,
    split_heads,
)


def test_formula_matches_sdpa_in_values_and_gradients() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (
        torch.randn(2, 3, 17, 8, generator=g, requires_grad=True) for _ in range(3)
    )
    w = torch.randn(2, 3, 17, 8, generator=g)  # a loss that weights every output
    ours = naive_causal_attention(q, k, v)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    g_ours = torch.autograd.grad((ours * w).sum(), (q, k, v))
    g_ref = torch.autograd.grad((ref * w).sum(), (q, k, v))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # the first query sees only the first key: its output is v[0]
    torch.testing.assert_close(ours[:, :, 0], v[:, :, 0])


def test_split_and_merge_heads_are_inverse_and_slice_the_width() -> None:
    x = torch.arange(2 * 5 * 12.0).view(2, 5, 12)
    h = split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    torch.testing.assert_close(h[:, 1], x[..., 4:8])  # head 1 = channels 4..7
    torch.testing.assert_close(merge_heads(h), x)


def test_module_matches_nn_multihead_attention() -> None:
    torch.manual_seed(0)
    C, H, T = 16, 4, 9
    ours = CausalSelfAttention(C, H)
    ref = nn.MultiheadAttention(C, H, bias=False, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.c_attn.weight)  # rows: W_q, W_k, W_v
        ref.out_proj.weight.copy_(ours.c_proj.weight)
    x = torch.randn(2, T, C)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)  # True = may not attend
    expected, _ = ref(x, x, x, attn_mask=future, need_weights=False)
    torch.testing.assert_close(ours(x)[0], expected, rtol=1e-5, atol=1e-6)


def test_heads_must_divide_the_width() -> None:
    with pytest.raises(ValueError, match="d_model=10 is not divisible by n_head=4"):
        CausalSelfAttention(10, 4)
