"""Custom backward rules with ``torch.autograd.Function``.

An ``nn.Module`` never defines ``backward``: autograd records the operations ``forward``
runs and differentiates them itself.  When you need a backward rule autograd cannot
derive (an operation written outside torch, a cheaper formula, a deliberately "wrong"
gradient such as a straight-through estimator), you write a ``torch.autograd.Function``
with a static ``forward`` and ``backward`` and call it with ``.apply``; a Module then
uses it inside its ``forward`` like any other operation.

Two examples:

* ``LinearFunction``: ``Y = X W^T + b`` with the hand-written gradients of
  ``snippets/linear_math.py``; ``torch.autograd.gradcheck`` confirms them in float64.
* ``RoundSTE``: rounding whose backward passes the gradient straight through
  (the straight-through estimator of quantization-aware training); the true derivative
  of ``round`` is 0 almost everywhere, which would stop training.

Run ``python -m snippets.autograd_function`` to gradcheck ``LinearFunction``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


# --8<-- [start:linear_function]
class LinearFunction(torch.autograd.Function):
    """Y = X W^T + b with an explicit backward.

    dL/dX = G W,   dL/dW = G^T X,   dL/db = sum over rows of G,   where G = dL/dY
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        # Save only what backward needs; autograd checks it is not modified in place.
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        y = x @ weight.T  # (B, n_in) @ (n_in, n_out) -> (B, n_out)
        return y + bias if bias is not None else y

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        # Skip the matmuls for inputs that do not need a gradient (e.g. the data X).
        if ctx.needs_input_grad[0]:
            grad_x = grad_y @ weight  # (B, n_out) @ (n_out, n_in) -> (B, n_in)
        if ctx.needs_input_grad[1]:
            grad_w = grad_y.T @ x  # (n_out, B) @ (B, n_in) -> (n_out, n_in)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_y.sum(dim=0)  # (n_out,)
        # One gradient per forward input, in the same order (None for "no gradient").
        return grad_x, grad_w, grad_b
        # --8<-- [end:linear_function]


# --8<-- [start:module]
class MyLinear(nn.Module):
    """A drop-in ``nn.Linear`` whose backward is ``LinearFunction.backward``.

    y = x W^T + b

    Args:
        in_features: n_in.
        out_features: n_out.
        bias: whether to learn b.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"MyLinear sizes must be >= 1, got in_features={in_features}, "
                f"out_features={out_features}"
            )
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Same initialization as nn.Linear: U(-1/sqrt(n_in), 1/sqrt(n_in)).
        bound = 1 / math.sqrt(self.weight.shape[1])
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # No backward method here: autograd calls LinearFunction.backward for us.
        return LinearFunction.apply(x, self.weight, self.bias)
        # --8<-- [end:module]


# --8<-- [start:ste]
class RoundSTE(torch.autograd.Function):
    """round(x) forward, identity backward (straight-through estimator).

    forward: y = round(x);   backward: dL/dx := dL/dy   (instead of 0)
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor) -> torch.Tensor:
        return grad_y


def fake_quantize(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Snap x to the grid scale * Z, letting gradients through unchanged.

    q(x) = scale * round(x / scale)

    Args:
        x: any tensor.
        scale: grid step, > 0.
    """
    if scale <= 0:
        raise ValueError(f"fake_quantize scale must be > 0, got {scale}")
    return RoundSTE.apply(x / scale) * scale
    # --8<-- [end:ste]


@dataclass
class CheckConfig:
    batch: int = 4  # rows of X
    n_in: int = 3  # input features
    n_out: int = 2  # output features
    seed: int = 0  # seeds the random inputs


def main(cfg: CheckConfig) -> None:
    """Gradcheck LinearFunction in float64 and print the result."""
    g = torch.Generator().manual_seed(cfg.seed)
    inputs = tuple(
        torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
        for shape in ((cfg.batch, cfg.n_in), (cfg.n_out, cfg.n_in), (cfg.n_out,))
    )
    ok = torch.autograd.gradcheck(LinearFunction.apply, inputs)
    print("gradcheck(LinearFunction):", ok)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--batch", type=int, default=CheckConfig.batch)
    parser.add_argument("--n-in", type=int, default=CheckConfig.n_in)
    parser.add_argument("--n-out", type=int, default=CheckConfig.n_out)
    parser.add_argument("--seed", type=int, default=CheckConfig.seed)
    args = parser.parse_args()
    main(CheckConfig(args.batch, args.n_in, args.n_out, args.seed))
