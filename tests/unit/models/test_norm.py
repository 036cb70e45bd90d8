"""snippets/models/norm.py: LayerNorm and RMSNorm vs nn.LayerNorm and nn.RMSNorm."""

import torch
from torch import nn

from snippets.models.norm import LayerNorm, RMSNorm


def _pair(ours: nn.Module, ref: nn.Module) -> None:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # the same non-trivial gamma (and beta) in both
        for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
            b.copy_(a.copy_(torch.randn(a.shape, generator=g)))
    x = 3 + 2 * torch.randn(4, 7, 24, generator=g, requires_grad=True)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)
    gx = torch.autograd.grad(ours(x).pow(2).sum(), x)[0]
    gr = torch.autograd.grad(ref(x).pow(2).sum(), x)[0]
    torch.testing.assert_close(gx, gr, rtol=1e-4, atol=1e-4)


def test_layer_norm_matches_torch_with_and_without_bias() -> None:
    _pair(LayerNorm(24), nn.LayerNorm(24))
    _pair(LayerNorm(24, bias=False), nn.LayerNorm(24, bias=False))


def test_rms_norm_matches_torch() -> None:
    _pair(RMSNorm(24, eps=1e-6), nn.RMSNorm(24, eps=1e-6))


def test_layer_norm_output_has_zero_mean_unit_variance() -> None:
    x = 5 + 3 * torch.randn(6, 32, generator=torch.Generator().manual_seed(2))
    y = LayerNorm(32)(x).detach()
    torch.testing.assert_close(y.mean(-1), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        y.var(-1, unbiased=False), torch.ones(6), atol=1e-3, rtol=0
    )
