"""snippets/models/rope.py: rotation keeps norms; q_m . k_n depends only on m - n."""

import pytest
import torch

from snippets.models.rope import apply_rope, rope_tables


def test_dot_product_depends_only_on_the_offset() -> None:
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 32, generator=g)
    cos, sin = rope_tables(torch.arange(64), 32)

    def score(m: int, n: int) -> float:
        return (apply_rope(q, cos[m], sin[m]) @ apply_rope(k, cos[n], sin[n])).item()

    for offset in (0, 1, 5):
        scores = [score(n + offset, n) for n in range(0, 50, 7)]
        assert max(scores) - min(scores) < 1e-4
    assert abs(score(3, 0) - score(4, 0)) > 1e-3  # but it does depend on the offset


def test_rotation_keeps_the_norm_and_position_zero_is_identity() -> None:
    x = torch.randn(2, 4, 10, 16, generator=torch.Generator().manual_seed(1))
    cos, sin = rope_tables(torch.arange(10), 16)
    y = apply_rope(x, cos, sin)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(y[..., 0, :], x[..., 0, :])
    with pytest.raises(ValueError, match="RoPE needs an even head_dim, got 7"):
        rope_tables(torch.arange(3), 7)
