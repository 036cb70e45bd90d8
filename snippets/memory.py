"""Where training memory goes: parameters, gradients, optimizer state, activations.

``estimate_training_bytes`` predicts the first three from the parameter count alone
(the bookkeeping of ZeRO, Rajbhandari et al. 2020, section 3.1, with one precision
here): ``b`` bytes of weights and of gradient per value, and ``k`` optimizer states
per trainable value (AdamW: ``exp_avg`` and ``exp_avg_sq``, k = 2; AMSGrad adds
``max_exp_avg_sq``, k = 3; SGD with momentum keeps ``momentum_buffer``, k = 1).
``measured_training_bytes`` counts the bytes of the real tensors after a step, so the
page can check the estimate exactly.

One accounting for the whole handbook: fp32 AdamW costs 4 + 4 + 4 + 4 = 16 bytes per
trainable parameter (weights, gradients, two moments).  AdamW's ``step`` counter is one
scalar per *tensor*, not per value (4 bytes per tensor, a few KiB for a 7B model), and
is left out of both the estimate and the measurement.  Sizes are reported in GiB
(2**30 bytes).

Activations (tensors autograd keeps for backward) depend on the model's code;
``saved_activation_bytes`` measures them with
``torch.autograd.graph.saved_tensors_hooks``, which sees every saved tensor.  They
scale with B * T * (L * d + V), plus B * H * T**2 * L when attention keeps its scores.

Run ``python -m snippets.memory`` to print the estimate for a GPT-2-small shaped model.
"""

from __future__ import annotations

import argparse
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn


# --8<-- [start:estimate]
@dataclass
class MemoryEstimate:
    """Bytes of each kind of training state."""

    params: int  # weights (all, trainable or not)
    grads: int  # one gradient per trainable weight
    optimizer: int  # optimizer state per trainable weight (AdamW: 2 moments)

    @property
    def total(self) -> int:
        return self.params + self.grads + self.optimizer


def _count(name: str, value: object, low: int = 0) -> int:
    """``value`` as an int >= ``low``; TypeError or ValueError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def estimate_training_bytes(
    n_params: int, n_trainable: int, bytes_per_value: int = 4, states: int = 2
) -> MemoryEstimate:
    """Training-state bytes, without activations.

    M = b N + b N_t + k b N_t   (weights, gradients, optimizer states)

    Args:
        n_params: N, all parameters.
        n_trainable: N_t <= N, parameters with ``requires_grad``.
        bytes_per_value: b, 4 for fp32, 2 for bf16 (an int, not a dtype name).
        states: k, optimizer values per trainable value: 2 for AdamW (default),
            3 for AMSGrad, 1 for SGD with momentum, 0 for plain SGD.
    """
    n = _count("n_params", n_params)
    n_t = _count("n_trainable", n_trainable)
    if n_t > n:
        raise ValueError(f"n_trainable={n_t} is more than n_params={n}")
    b = _count("bytes_per_value", bytes_per_value, low=1)
    k = _count("states", states)
    return MemoryEstimate(b * n, b * n_t, k * b * n_t)
    # --8<-- [end:estimate]


# --8<-- [start:measure]
def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the storages behind ``tensors``, each storage counted once.

    Views (``w.T``, a slice, ``q``/``k``/``v`` split from one projection) share
    their base tensor's storage; what is allocated is that storage, once.
    """
    seen, total = set(), 0
    for t in tensors:
        if t.is_meta:
            raise ValueError("tensor_bytes counts real storage; got a meta tensor")
        storage = t.untyped_storage()
        key = (t.device, storage.data_ptr())
        if key not in seen:
            seen.add(key)
            total += storage.nbytes()
    return total


def measured_training_bytes(
    model: nn.Module, optimizer: torch.optim.Optimizer
) -> MemoryEstimate:
    """Bytes of the weights, gradients and optimizer state as they are now.

    Optimizer state is every tensor in ``optimizer.state`` except the per-tensor
    ``step`` counters (AdamW's ``exp_avg``, ``exp_avg_sq`` and, with ``amsgrad``,
    ``max_exp_avg_sq``; SGD's ``momentum_buffer``).
    """
    state = [
        t
        for per_param in optimizer.state.values()
        for name, t in per_param.items()
        if isinstance(t, torch.Tensor) and name != "step"
    ]
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return MemoryEstimate(
        tensor_bytes(model.parameters()), tensor_bytes(grads), tensor_bytes(state)
    )
    # --8<-- [end:measure]


# --8<-- [start:activations]


def saved_activation_bytes(
    model: nn.Module, loss_fn: Callable[[], torch.Tensor]
) -> int:
    """Bytes of the tensors autograd saves for backward while ``loss_fn()`` runs.

    Weights saved for backward (a parameter or a view of one, such as ``weight.T``)
    are already counted as parameters and are left out.

    Args:
        model: the model whose parameters are not activations.
        loss_fn: runs the forward pass (and returns the loss).
    """
    if any(p.is_meta for p in model.parameters()):
        # Meta tensors share one (null) address, so weights and activations look alike.
        raise ValueError(
            "saved_activation_bytes measures real tensors; the model is on the meta "
            "device (use estimate_training_bytes for shapes only)"
        )
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.untyped_storage().data_ptr() not in weights:
            saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_fn()
    return tensor_bytes(saved)
    # --8<-- [end:activations]


def main(argv: list[str] | None = None) -> int:
    from snippets.models.gpt import GPT, GPTConfig

    parser = argparse.ArgumentParser(description="training memory of a GPT, estimated")
    parser.add_argument("--n-layer", type=int, default=12)
    parser.add_argument("--d-model", type=int, default=768)
    args = parser.parse_args(argv)
    cfg = GPTConfig(
        vocab_size=50304,
        block_size=1024,
        n_layer=args.n_layer,
        n_head=12,
        d_model=args.d_model,
    )
    with torch.device("meta"):  # shapes only: nothing is allocated
        model = GPT(cfg)
    n = model.num_params(non_embedding=False)
    est = estimate_training_bytes(n, n)
    print(f"{n:,} parameters; fp32 AdamW state {est.total / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
