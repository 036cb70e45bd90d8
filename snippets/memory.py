"""Where training memory goes: parameters, gradients, optimizer state, activations.

``estimate_training_bytes`` predicts the first three from the parameter count alone
(mixed-precision bookkeeping of ZeRO, Rajbhandari et al. 2020, section 3.1, with fp32
everywhere here): 4 bytes of weights, 4 of gradient and 8 of AdamW moments per trainable
parameter.  ``measured_training_bytes`` counts the bytes of the real tensors after a
step, so the page can check the estimate exactly.  Activations (tensors autograd keeps
for backward) depend on the model's code; ``saved_activation_bytes`` measures them
with ``torch.autograd.graph.saved_tensors_hooks``, which sees every saved tensor.

Run ``python -m snippets.memory`` to print the estimate for a GPT-2-small shaped model.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


# --8<-- [start:estimate]
@dataclass
class MemoryEstimate:
    """Bytes of each kind of training state."""

    params: int  # weights (all, trainable or not)
    grads: int  # one gradient per trainable weight
    optimizer: int  # AdamW: exp_avg and exp_avg_sq per trainable weight

    @property
    def total(self) -> int:
        return self.params + self.grads + self.optimizer


def estimate_training_bytes(
    n_params: int, n_trainable: int, bytes_per_value: int = 4
) -> MemoryEstimate:
    """Training-state bytes of AdamW, without activations.

    M = b N + b N_t + 2 b N_t   (weights, gradients, two Adam moments)

    Args:
        n_params: N, all parameters.
        n_trainable: N_t, parameters with ``requires_grad``.
        bytes_per_value: b, 4 for fp32, 2 for bf16.
    """
    b = bytes_per_value
    return MemoryEstimate(b * n_params, b * n_trainable, 2 * b * n_trainable)
# --8<-- [end:estimate]


# --8<-- [start:measure]
def tensor_bytes(tensors) -> int:
    """Sum of ``numel * element_size`` over tensors, each storage counted once."""
    seen, total = set(), 0
    for t in tensors:
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), t.shape)
        if t.device.type != "meta" and key in seen:
            continue
        seen.add(key)
        total += t.numel() * t.element_size()
    return total


def measured_training_bytes(
    model: nn.Module, optimizer: torch.optim.Optimizer
) -> MemoryEstimate:
    """Bytes of the model's weights, gradients and AdamW moments as they are now."""
    moments = [
        t for state in optimizer.state.values()
        for name, t in state.items() if name in ("exp_avg", "exp_avg_sq")
    ]
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return MemoryEstimate(
        tensor_bytes(model.parameters()), tensor_bytes(grads), tensor_bytes(moments)
    )


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
# --8<-- [end:measure]


def main(argv: list[str] | None = None) -> int:
    from snippets.models.gpt import GPT, GPTConfig

    parser = argparse.ArgumentParser(description="training memory of a GPT, estimated")
    parser.add_argument("--n-layer", type=int, default=12)
    parser.add_argument("--d-model", type=int, default=768)
    args = parser.parse_args(argv)
    cfg = GPTConfig(vocab_size=50304, block_size=1024, n_layer=args.n_layer,
                    n_head=12, d_model=args.d_model)
    with torch.device("meta"):  # shapes only: nothing is allocated
        model = GPT(cfg)
    n = model.num_params(non_embedding=False)
    est = estimate_training_bytes(n, n)
    print(f"{n:,} parameters; fp32 AdamW state {est.total / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
