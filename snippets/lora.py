"""LoRA: low-rank adapters on frozen ``nn.Linear`` layers (Hu et al., 2021).

The names follow Hugging Face PEFT's ``tuners/lora/layer.py`` (``base_layer``,
``lora_A``, ``lora_B``, ``r``, ``lora_alpha``, ``scaling``, ``merge``, ``unmerge``,
``merge_and_unload``) so that code written against this module reads like code written
against PEFT, and the unit tests check that both compute the same outputs and gradients.

Choices: ``lora_A`` is initialised like PEFT's default (Kaiming-uniform) and ``lora_B``
with zeros, so an adapted model starts exactly equal to its base; only adapter weights
are trainable and only they are saved (safetensors): a small fraction of the model.

Run ``python -m snippets.lora`` to wrap a tiny GPT and print what becomes trainable.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


# --8<-- [start:lora_linear]
class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update.

    h = W_0 x + (lora_alpha / r) B A x,  A in R^{r x in}, B in R^{out x r}

    Args:
        base: the pretrained ``nn.Linear`` (its weights are frozen, not copied).
        r: rank of the update, >= 1.
        lora_alpha: scale numerator; ``scaling = lora_alpha / r`` keeps the update's
            size roughly independent of ``r``.
        lora_dropout: dropout on the adapter's input only.
    """

    def __init__(
        self, base: nn.Linear, r: int, lora_alpha: float, lora_dropout: float = 0.0
    ) -> None:
        super().__init__()
        if r < 1:
            raise ValueError(f"LoRA rank r must be >= 1, got {r}")
        if lora_alpha <= 0:
            raise ValueError(f"LoRA lora_alpha must be > 0, got {lora_alpha}")
        self.base_layer = base
        self.base_layer.requires_grad_(False)
        self.r, self.lora_alpha, self.scaling = r, lora_alpha, lora_alpha / r
        self.lora_dropout = (
            nn.Dropout(lora_dropout) if lora_dropout > 0 else nn.Identity()
        )
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Linear(base.in_features, r, bias=False, **kw)
        self.lora_B = nn.Linear(r, base.out_features, bias=False, **kw)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))  # PEFT's default
        nn.init.zeros_(self.lora_B.weight)  # B A = 0: training starts from the base
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base_layer(x)  # (..., out)
        if not self.merged:
            y = y + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling
        return y

    def delta_weight(self) -> torch.Tensor:
        """The update the adapter adds to W_0: (lora_alpha / r) B A, shape (out, in)."""
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """W_0 <- W_0 + scaling B A: one matmul per layer again, no adapter overhead."""
        if not self.merged:
            self.base_layer.weight += self.delta_weight()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Undo :meth:`merge` (exact up to floating-point rounding)."""
        if self.merged:
            self.base_layer.weight -= self.delta_weight()
            self.merged = False
# --8<-- [end:lora_linear]


# --8<-- [start:apply_lora]
def apply_lora(
    model: nn.Module,
    target_modules: list[str],
    r: int,
    lora_alpha: float,
    lora_dropout: float = 0.0,
) -> int:
    """Freeze ``model`` and wrap every matching ``nn.Linear`` in a :class:`LoRALinear`.

    A module matches a target ``t`` when its name is ``t`` or ends with ``"." + t``
    (PEFT's rule), e.g. ``"c_attn"`` matches ``blocks.0.attn.c_attn``.

    Args:
        model: the model to adapt in place.
        target_modules: names of the linear layers to adapt.
        r, lora_alpha, lora_dropout: see :class:`LoRALinear`.

    Returns:
        the number of trainable parameters afterwards (the adapters').
    """
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    for target in target_modules:
        if not any(n == target or n.endswith("." + target) for n in linears):
            leaves = sorted({n.rsplit(".", 1)[-1] for n in linears})
            raise ValueError(
                f"target module {target!r} matches no nn.Linear in the model; "
                f"linear layers are named {leaves}"
            )
    model.requires_grad_(False)
    for name, linear in linears.items():
        if any(name == t or name.endswith("." + t) for t in target_modules):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name)
            setattr(parent, child, LoRALinear(linear, r, lora_alpha, lora_dropout))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
# --8<-- [end:apply_lora]


def lora_layers(model: nn.Module) -> list[LoRALinear]:
    """Every :class:`LoRALinear` in ``model``."""
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Merge every adapter and put the plain ``nn.Linear`` back (PEFT's name).

    The result has the base architecture and state_dict keys, with updated weights.
    """
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, module.base_layer)
    return model


# --8<-- [start:adapter_io]
def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter weights: the keys containing ``lora_``."""
    return {k: v for k, v in model.state_dict().items() if "lora_" in k}


def save_adapter(model: nn.Module, path: str | Path) -> int:
    """Write the adapter weights to a safetensors file; return its size in bytes.

    Written to a temporary name and renamed, so a crash never leaves half a file.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tensors = {k: v.detach().contiguous() for k, v in lora_state_dict(model).items()}
    save_file(tensors, str(tmp))
    os.replace(tmp, path)
    return path.stat().st_size


def load_adapter(model: nn.Module, path: str | Path) -> None:
    """Load adapter weights saved by :func:`save_adapter` into an adapted model.

    Raises ValueError naming the keys when the file does not fit the model.
    """
    tensors = load_file(str(path))
    own = lora_state_dict(model)
    problems = {
        "missing keys": sorted(own.keys() - tensors.keys()),
        "unexpected keys": sorted(tensors.keys() - own.keys()),
        "shape mismatches": [
            f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
            for k in sorted(own.keys() & tensors.keys())
            if tensors[k].shape != own[k].shape
        ],
    }
    found = [
        f"{len(items)} {kind}, e.g. {items[0]}"
        for kind, items in problems.items()
        if items
    ]
    if found:
        raise ValueError(f"adapter {path} does not fit the model: {'; '.join(found)}")
    model.load_state_dict(tensors, strict=False)
# --8<-- [end:adapter_io]


def main(argv: list[str] | None = None) -> int:
    from snippets.models.gpt import GPT, GPTConfig

    parser = argparse.ArgumentParser(description="wrap a tiny GPT with LoRA")
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--lora-alpha", type=float, default=16.0)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = GPT(GPTConfig())
    total = sum(p.numel() for p in model.parameters())
    trainable = apply_lora(model, ["c_attn", "c_proj", "c_fc"], args.r, args.lora_alpha)
    print(f"trainable {trainable:,} of {total:,} ({100 * trainable / total:.2f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
