"""The math of a linear layer, by hand: forward, backward, softmax cross-entropy.

``nn.Linear`` stores ``weight`` with shape ``(n_out, n_in)`` and computes, for a batch
``X`` of shape ``(B, n_in)``, ``Y = X W^T + b``.  This module writes that forward pass,
its three gradients and the gradient of softmax cross-entropy explicitly, so that the
"math" page and the unit tests can compare each formula with what autograd computes.

Choices: plain functions on tensors (no ``nn.Module``), the same argument order and
shapes as ``torch.nn.functional.linear`` and ``torch.nn.functional.cross_entropy``
(mean over the batch), and early ``ValueError``s that name the bad shape.

Run ``python -m snippets.linear_math`` to compare every hand-written gradient with
autograd on a random batch.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch


# --8<-- [start:forward]
def _check_linear_shapes(x: torch.Tensor, weight: torch.Tensor) -> None:
    """Fail early, naming the shapes, unless x is (B, n_in) and weight (n_out, n_in)."""
    if weight.dim() != 2:
        raise ValueError(
            f"weight must be 2-D (n_out, n_in), got shape {tuple(weight.shape)}"
        )
    if x.dim() != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"x must have shape (B, {weight.shape[1]}) to match weight "
            f"{tuple(weight.shape)}, got {tuple(x.shape)}"
        )


def linear_forward(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Batched linear layer, the formula ``nn.Linear`` uses.

    Y = X W^T + b   (b is broadcast over the B rows)

    Args:
        x: inputs, shape (B, n_in), one example per row.
        weight: W, shape (n_out, n_in), as stored in ``nn.Linear.weight``.
        bias: b, shape (n_out,), or None.
    """
    _check_linear_shapes(x, weight)
    y = x @ weight.T  # (B, n_in) @ (n_in, n_out) -> (B, n_out)
    return y if bias is None else y + bias
    # --8<-- [end:forward]


# --8<-- [start:backward]
def linear_backward(
    grad_y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of a scalar loss L through Y = X W^T + b.

    dL/dX = (dL/dY) W,   dL/dW = (dL/dY)^T X,   dL/db = sum over rows of dL/dY

    Args:
        grad_y: dL/dY, shape (B, n_out).
        x: the forward input X, shape (B, n_in).
        weight: W, shape (n_out, n_in).

    Returns:
        (grad_x, grad_weight, grad_bias) with the shapes of x, weight and bias.
    """
    _check_linear_shapes(x, weight)
    if grad_y.shape != (x.shape[0], weight.shape[0]):
        raise ValueError(
            f"grad_y must have shape {(x.shape[0], weight.shape[0])}, "
            f"got {tuple(grad_y.shape)}"
        )
    grad_x = grad_y @ weight  # (B, n_out) @ (n_out, n_in) -> (B, n_in)
    grad_weight = grad_y.T @ x  # (n_out, B) @ (B, n_in) -> (n_out, n_in)
    grad_bias = grad_y.sum(dim=0)  # b was broadcast over B rows: its grads add up
    return grad_x, grad_weight, grad_bias
    # --8<-- [end:backward]


# --8<-- [start:cross_entropy]
def softmax_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy, computed stably with log-sum-exp.

    L = (1/B) sum_i [ logsumexp(z_i) - z_i[y_i] ]

    Args:
        logits: z, shape (B, C).
        target: class indices y, shape (B,), values in [0, C).
    """
    if logits.dim() != 2 or target.shape != (logits.shape[0],):
        raise ValueError(
            f"expected logits (B, C) and target (B,), got {tuple(logits.shape)} "
            f"and {tuple(target.shape)}"
        )
    # Subtracting the row maximum (inside logsumexp) keeps exp() from overflowing.
    log_z = torch.logsumexp(logits, dim=1)  # (B,)
    picked = logits.gather(1, target[:, None]).squeeze(1)  # (B, 1) -> (B,)
    return (log_z - picked).mean()


def softmax_cross_entropy_grad(
    logits: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """dL/dz of the mean softmax cross-entropy.

    dL/dz = (softmax(z) - onehot(y)) / B

    Args:
        logits: z, shape (B, C).
        target: class indices y, shape (B,).
    """
    batch, classes = logits.shape
    onehot = torch.nn.functional.one_hot(target, classes).to(logits.dtype)  # (B, C)
    return (torch.softmax(logits, dim=1) - onehot) / batch
    # --8<-- [end:cross_entropy]


# --8<-- [start:init]
def kaiming_std(fan_in: int, gain: float = 2.0**0.5) -> float:
    """Standard deviation of Kaiming (He) normal initialization.

    Var(W) = gain^2 / n_in   (gain^2 = 2 for ReLU)

    Args:
        fan_in: n_in, inputs per output unit.
        gain: sqrt(2) for ReLU, 1 for a linear or tanh-like layer.
    """
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    return gain / fan_in**0.5


def xavier_std(fan_in: int, fan_out: int) -> float:
    """Standard deviation of Xavier (Glorot) normal initialization.

    Var(W) = 2 / (n_in + n_out)

    Args:
        fan_in: n_in, inputs per output unit.
        fan_out: n_out, outputs per input unit.
    """
    if fan_in < 1 or fan_out < 1:
        raise ValueError(f"fan_in and fan_out must be >= 1, got {fan_in} and {fan_out}")
    return (2.0 / (fan_in + fan_out)) ** 0.5
    # --8<-- [end:init]


@dataclass
class CheckConfig:
    batch: int = 8  # B, rows of X
    n_in: int = 5  # input features
    n_out: int = 3  # output features = classes for the cross-entropy check
    seed: int = 0  # seeds the random batch and weights


def main(cfg: CheckConfig) -> None:
    """Compare every hand-written gradient with autograd and print the max error."""
    g = torch.Generator().manual_seed(cfg.seed)
    x = torch.randn(cfg.batch, cfg.n_in, generator=g, dtype=torch.float64)
    w = torch.randn(cfg.n_out, cfg.n_in, generator=g, dtype=torch.float64)
    b = torch.randn(cfg.n_out, generator=g, dtype=torch.float64)
    target = torch.randint(0, cfg.n_out, (cfg.batch,), generator=g)
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]
    loss = torch.nn.functional.cross_entropy(
        torch.nn.functional.linear(*leaves), target
    )
    loss.backward()
    grad_z = softmax_cross_entropy_grad(linear_forward(x, w, b), target)
    for name, mine, leaf in zip(("X", "W", "b"), linear_backward(grad_z, x, w), leaves):
        error = (mine - leaf.grad).abs().max().item()
        print(f"dL/d{name}: max |manual - autograd| = {error:.2e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--batch", type=int, default=CheckConfig.batch)
    parser.add_argument("--n-in", type=int, default=CheckConfig.n_in)
    parser.add_argument("--n-out", type=int, default=CheckConfig.n_out)
    parser.add_argument("--seed", type=int, default=CheckConfig.seed)
    args = parser.parse_args()
    main(CheckConfig(args.batch, args.n_in, args.n_out, args.seed))
