"""Normalization layers written from their formulas: LayerNorm and RMSNorm.

Both rescale each position's vector over its last dimension, independently of the batch
and of other positions (unlike BatchNorm), which is what a variable-length sequence
model needs.  LayerNorm (Ba et al. 2016) centres and scales; RMSNorm (Zhang and Sennrich
2019), used by Llama, only scales, which is cheaper and works as well in practice.
They match ``nn.LayerNorm`` and ``nn.RMSNorm``; the GPT uses ``nn.LayerNorm`` itself.

Run ``python -m snippets.models.norm`` to compare both with PyTorch's layers.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn


# --8<-- [start:norms]
class LayerNorm(nn.Module):
    """LN(x) = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta, over the last dim.

    ``var`` is the biased variance (divide by d, not d - 1), as ``nn.LayerNorm``.

    Args:
        d: the width of the normalised (last) dimension.
        eps: added to the variance so a constant vector does not divide by zero.
        bias: learn beta as well as gamma.
    """

    def __init__(self, d: int, eps: float = 1e-5, bias: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))  # gamma
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None  # beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1)
        y = (x - mean) / torch.sqrt(var + self.eps) * self.weight
        return y if self.bias is None else y + self.bias


class RMSNorm(nn.Module):
    """RMSNorm(x) = x / sqrt(mean(x^2) + eps) * gamma, over the last dim.

    Args:
        d: the width of the normalised (last) dimension.
        eps: added to the mean square (``nn.RMSNorm``'s default, None, means the
            dtype's machine epsilon: pass the same eps to both to compare them).
    """

    def __init__(self, d: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))  # gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # (..., 1)
        return x / rms * self.weight
        # --8<-- [end:norms]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64)
    args = parser.parse_args(argv)
    x = torch.randn(4, 8, args.width, generator=torch.Generator().manual_seed(0))
    pairs = [
        (LayerNorm(args.width), nn.LayerNorm(args.width)),
        (RMSNorm(args.width), nn.RMSNorm(args.width, eps=1e-6)),
    ]
    for ours, ref in pairs:
        diff = (ours(x) - ref(x)).abs().max().item()
        print(f"{type(ref).__name__}: max |ours - torch| = {diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
