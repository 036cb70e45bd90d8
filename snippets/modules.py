"""Composable ``nn.Module`` building blocks and a forward-hook helper.

The pieces a model is made of, each one small and each one an ``nn.Module`` subclass
exactly once (no base-class hierarchy, no mixins):

* ``MLP``: ``Linear -> GELU -> Dropout -> Linear``, the feed-forward half of a
  transformer block.
* ``Block``: a pre-norm residual block, ``x + MLP(LayerNorm(x))``, built by composing
  submodules rather than by inheriting from ``MLP``.
* ``Standardize``: ``(x - mean) / std`` with the statistics stored as *buffers*: they
  travel with ``.to()`` and ``state_dict`` but the optimizer never sees them.
* ``TinyNet``: ``Standardize -> Linear -> n x Block -> Linear`` for tabular
  classification, configured by ``TinyNetConfig``; its blocks live in an
  ``nn.ModuleList`` so that they are registered.
* ``ActivationRecorder``: a context manager that registers forward hooks on named
  submodules, keeps their outputs, and removes every hook on exit.

Run ``python -m snippets.modules`` to print a ``TinyNet`` and its parameter count.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


# --8<-- [start:mlp]
class MLP(nn.Module):
    """Two linear layers with a GELU between them.

    MLP(x) = W2 dropout(GELU(W1 x + b1)) + b2

    Args:
        d_model: input and output width.
        hidden: width of the hidden layer (transformers use 4 * d_model).
        dropout: probability of zeroing a hidden unit while training.
    """

    def __init__(self, d_model: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model < 1 or hidden < 1:
            raise ValueError(
                f"MLP widths must be >= 1, got d_model={d_model}, hidden={hidden}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.fc1 = nn.Linear(d_model, hidden)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.act(self.fc1(x))))
        # --8<-- [end:mlp]


# --8<-- [start:block]
class Block(nn.Module):
    """Pre-norm residual block.

    Block(x) = x + MLP(LayerNorm(x))

    The residual path lets the block start close to the identity, which keeps deep
    stacks trainable; normalizing *before* the MLP (pre-norm) is what GPT-2 and most
    later transformers do.

    Args:
        d_model: width of the residual stream.
        hidden: hidden width of the MLP.
        dropout: dropout inside the MLP.
    """

    def __init__(self, d_model: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, hidden, dropout)  # composed, not inherited

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(x))
        # --8<-- [end:block]


# --8<-- [start:standardize]
class Standardize(nn.Module):
    """Feature standardization with statistics kept as buffers.

    y = (x - mean) / std

    Args:
        num_features: size of the last dimension of the input.
        eps: smallest std allowed, so that a constant feature does not divide by zero.
    """

    def __init__(self, num_features: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        # Buffers, not parameters: saved and moved with the module, never trained.
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("std", torch.ones(num_features))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> Standardize:
        """Set mean and std from the training data ``x`` of shape (N, num_features)."""
        if x.ndim != 2 or x.shape[1] != self.mean.numel():
            raise ValueError(
                f"expected data of shape (N, {self.mean.numel()}), got {tuple(x.shape)}"
            )
        self.mean.copy_(x.mean(dim=0))
        self.std.copy_(x.std(dim=0).clamp_min(self.eps))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
        # --8<-- [end:standardize]


# --8<-- [start:tinynet]
@dataclass
class TinyNetConfig:
    in_features: int = 10  # features per example
    d_model: int = 32  # width of the residual stream
    hidden: int = 64  # hidden width of each block's MLP
    n_blocks: int = 2  # residual blocks in the stack
    n_classes: int = 2  # outputs (class logits)
    dropout: float = 0.1  # dropout inside the MLPs while training


class TinyNet(nn.Module):
    """Standardize -> Linear -> n_blocks x Block -> Linear, composed from parts.

    Args:
        cfg: the sizes; see ``TinyNetConfig``.
    """

    def __init__(self, cfg: TinyNetConfig) -> None:
        super().__init__()
        if cfg.n_blocks < 1:
            raise ValueError(f"TinyNet needs n_blocks >= 1, got {cfg.n_blocks}")
        self.cfg = cfg
        self.scale = Standardize(cfg.in_features)
        self.embed = nn.Linear(cfg.in_features, cfg.d_model)
        # ModuleList, not a Python list: only registered submodules have their
        # parameters in .parameters(), state_dict() and .to().
        self.blocks = nn.ModuleList(
            Block(cfg.d_model, cfg.hidden, cfg.dropout) for _ in range(cfg.n_blocks)
        )
        self.head = nn.Linear(cfg.d_model, cfg.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(self.scale(x))  # (B, d_model)
        for block in self.blocks:
            h = block(h)  # (B, d_model)
        return self.head(h)  # (B, n_classes)
        # --8<-- [end:tinynet]


# --8<-- [start:recorder]
class ActivationRecorder:
    """Keep the outputs of named submodules, using forward hooks.

    Hooks are registered on ``__enter__`` and removed on ``__exit__``, so the model
    is exactly as before once the ``with`` block ends.

    Args:
        model: the module to observe.
        names: submodule names as ``model.named_modules()`` spells them,
            e.g. ``"blocks.0.mlp"``.
    """

    def __init__(self, model: nn.Module, names: list[str]) -> None:
        modules = dict(model.named_modules())
        for name in names:
            if name not in modules:
                raise KeyError(
                    f"no submodule named {name!r}; choose from "
                    f"{[n for n in modules if n]}"
                )
        self.modules = {name: modules[name] for name in names}
        self.activations: dict[str, torch.Tensor] = {}
        self._handles: list[RemovableHandle] = []

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(
            module: nn.Module, args: tuple[Any, ...], output: torch.Tensor
        ) -> None:
            # detach: keep the values without keeping the whole autograd graph alive
            self.activations[name] = output.detach()

        return hook

    def __enter__(self) -> ActivationRecorder:
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        # --8<-- [end:recorder]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``model`` (only trainable ones if asked)."""
    return sum(
        p.numel() for p in model.parameters() if p.requires_grad or not trainable_only
    )


def main(cfg: TinyNetConfig) -> None:
    model = TinyNet(cfg)
    print(model)
    print("parameters:", count_parameters(model))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-blocks", type=int, default=TinyNetConfig.n_blocks)
    parser.add_argument("--d-model", type=int, default=TinyNetConfig.d_model)
    args = parser.parse_args()
    main(TinyNetConfig(n_blocks=args.n_blocks, d_model=args.d_model))
