"""LoRA: low-rank adapters on frozen ``nn.Linear`` layers (Hu et al., 2021).

The names follow Hugging Face PEFT's ``tuners/lora/layer.py`` (``base_layer``,
``lora_A``, ``lora_B``, ``r``, ``lora_alpha``, ``scaling``, ``merge``, ``unmerge``,
``merge_and_unload``) so that code written against this module reads like code written
against PEFT, and the unit tests check that both compute the same outputs and gradients.

Choices: ``lora_A`` is initialised like PEFT's default (Kaiming-uniform) and ``lora_B``
with zeros, so an adapted model starts exactly equal to its base; only adapter weights
are trainable and only they are saved (safetensors, written atomically), with the LoRA
config in the file's header, as PEFT keeps ``adapter_config.json`` beside its weights.
A merged layer refuses what would corrupt its base weight: a backward pass (its adapter
gets no gradient) and loading another adapter (``unmerge`` would subtract the new one).

Run ``python -m snippets.lora`` to wrap a tiny GPT and print what becomes trainable.
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from snippets.checkpoint import atomic_write


# --8<-- [start:validate]
def check_lora_args(base: nn.Module, r: int, lora_alpha: float, dropout: float) -> None:
    """Refuse, before anything is built, a LoRA layer that cannot be what was meant.

    Raises TypeError for a wrong kind of value, ValueError for one out of range.
    """
    if not isinstance(base, nn.Linear):
        raise TypeError(f"LoRA wraps an nn.Linear, got {type(base).__name__}")
    if isinstance(r, bool) or not isinstance(r, numbers.Integral):
        raise TypeError(f"LoRA rank r must be an integer, got {r!r}")
    max_r = min(base.in_features, base.out_features)
    if not 1 <= r <= max_r:  # B A has rank <= min(in, out): a larger r only costs
        raise ValueError(f"LoRA rank r must be in [1, {max_r}] for {base}, got {r}")
    if isinstance(lora_alpha, bool) or not isinstance(lora_alpha, numbers.Real):
        raise TypeError(f"LoRA lora_alpha must be a number, got {lora_alpha!r}")
    if not (math.isfinite(lora_alpha) and lora_alpha > 0):
        raise ValueError(f"LoRA lora_alpha must be finite and > 0, got {lora_alpha}")
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise TypeError(f"LoRA lora_dropout must be a number, got {dropout!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"LoRA lora_dropout must be in [0, 1), got {dropout!r}")


class _MergedGuard(torch.autograd.Function):
    """Identity forward; a backward pass through a merged layer is an error."""

    @staticmethod
    def forward(ctx, y: torch.Tensor, adapter_weight: torch.Tensor) -> torch.Tensor:
        return y.view_as(y)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> None:
        raise RuntimeError(
            "backward through a merged LoRALinear: its adapter is folded into the "
            "base weight and would get no gradient; call unmerge() before training"
        )
        # --8<-- [end:validate]


# --8<-- [start:lora_linear]
class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update.

    h = W_0 x + (lora_alpha / r) B A x,  A in R^{r x in}, B in R^{out x r}

    Args:
        base: the pretrained ``nn.Linear`` (its weights are frozen, not copied).
        r: rank of the update, an integer in [1, min(in, out)].
        lora_alpha: scale numerator, > 0; ``scaling = lora_alpha / r``.
        lora_dropout: dropout on the adapter's input only, in [0, 1).
    """

    def __init__(
        self, base: nn.Linear, r: int, lora_alpha: float, lora_dropout: float = 0.0
    ) -> None:
        super().__init__()
        check_lora_args(base, r, lora_alpha, lora_dropout)
        self.base_layer = base
        self.base_layer.requires_grad_(False)
        self.r, self.lora_alpha, self.scaling = int(r), lora_alpha, lora_alpha / r
        self.lora_dropout = (
            nn.Dropout(lora_dropout) if lora_dropout > 0 else nn.Identity()
        )
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Linear(base.in_features, self.r, bias=False, **kw)
        self.lora_B = nn.Linear(self.r, base.out_features, bias=False, **kw)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))  # PEFT's default
        nn.init.zeros_(self.lora_B.weight)  # B A = 0: training starts from the base
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base_layer(x)  # (..., out)
        if not self.merged:
            return y + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling
        if torch.is_grad_enabled() and self.lora_A.weight.requires_grad:
            y = _MergedGuard.apply(y, self.lora_A.weight)  # backward would raise
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
    target_modules: Sequence[str],
    r: int,
    lora_alpha: float,
    lora_dropout: float = 0.0,
) -> int:
    """Freeze ``model`` and wrap every matching ``nn.Linear`` in a :class:`LoRALinear`.

    A module matches a target ``t`` when its name is ``t`` or ends with ``"." + t``
    (PEFT's rule), e.g. ``"c_attn"`` matches ``blocks.0.attn.c_attn``.

    Args:
        model: a model without adapters, adapted in place.
        target_modules: a non-empty list of names of the linear layers to adapt.
        r, lora_alpha, lora_dropout: see :class:`LoRALinear`.

    Returns:
        the number of trainable parameters afterwards (the adapters').
    """
    if isinstance(target_modules, str) or not target_modules:
        raise ValueError(
            "target_modules must be a non-empty list of names, "
            f"e.g. ['c_attn'], got {target_modules!r}"
        )
    adapted = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    if adapted:
        raise ValueError(
            f"model already has {len(adapted)} LoRA layers, e.g. "
            f"{adapted[0]!r}; call merge_and_unload(model) first"
        )
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    chosen = {
        n: m
        for n, m in linears.items()
        if any(n == t or n.endswith("." + t) for t in target_modules)
    }
    for target in target_modules:
        if not any(n == target or n.endswith("." + target) for n in chosen):
            leaves = sorted({n.rsplit(".", 1)[-1] for n in linears})
            raise ValueError(
                f"target module {target!r} matches no nn.Linear in the model; "
                f"linear layers are named {leaves}"
            )
    for linear in chosen.values():  # every layer checked before any is changed
        check_lora_args(linear, r, lora_alpha, lora_dropout)
    model.requires_grad_(False)
    for name, linear in chosen.items():
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
def lora_config(model: nn.Module) -> dict:
    """What the adapter weights mean: r, lora_alpha, dropout and the adapted layers."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}
    if not layers:
        raise ValueError("the model has no LoRA layers: nothing to save")
    kinds = {
        (m.r, m.lora_alpha, getattr(m.lora_dropout, "p", 0.0)) for m in layers.values()
    }
    if len(kinds) > 1:
        raise ValueError(f"LoRA layers differ in (r, lora_alpha, dropout): {kinds}")
    ((r, alpha, dropout),) = kinds
    return {
        "peft_type": "LORA",
        "r": r,
        "lora_alpha": alpha,
        "lora_dropout": dropout,
        "target_modules": sorted(layers),
    }


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter weights: the keys containing ``lora_``."""
    return {k: v for k, v in model.state_dict().items() if "lora_" in k}


def save_adapter(model: nn.Module, path: str | Path) -> int:
    """Write the adapter weights and their config (in the header), atomically.

    Returns:
        the file's size in bytes.
    """
    meta = {"lora_config": json.dumps(lora_config(model))}
    tensors = {k: v.detach().contiguous() for k, v in lora_state_dict(model).items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))
    return Path(path).stat().st_size
    # --8<-- [end:adapter_io]


# --8<-- [start:read_adapter]
def read_adapter(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The LoRA config and the tensors of an adapter file written by save_adapter."""
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except SafetensorError as err:
        raise ValueError(f"adapter {path} is not a safetensors file: {err}") from None
    if "lora_config" not in meta:
        raise ValueError(f"adapter {path} carries no LoRA config in its header")
    return json.loads(meta["lora_config"]), tensors


def _differences(saved: dict, current: dict) -> list[str]:
    """Each way an adapter file's config differs from the model's."""
    found = [
        f"{k}: file {saved.get(k)!r}, model {current[k]!r}"
        for k in ("r", "lora_alpha")
        if saved.get(k) != current[k]
    ]
    in_file = set(saved.get("target_modules", []))
    in_model = set(current["target_modules"])
    for where, names in (("file", in_file - in_model), ("model", in_model - in_file)):
        if names:
            found.append(f"{len(names)} layers only in the {where}, e.g. {min(names)}")
    return found
    # --8<-- [end:read_adapter]


# --8<-- [start:load_adapter]
def load_adapter(model: nn.Module, path: str | Path) -> None:
    """Load an adapter written by :func:`save_adapter` into a model adapted alike.

    Raises ValueError, naming every difference, when the file's config (r,
    lora_alpha, adapted layers), keys, shapes or dtypes differ from the model's, and
    when a layer is merged (a later unmerge() would subtract the wrong update).
    """
    saved, tensors = read_adapter(path)
    found = _differences(saved, lora_config(model))
    if found:
        raise ValueError(f"adapter {path} has another LoRA config: {'; '.join(found)}")
    merged = [
        n for n, m in model.named_modules() if isinstance(m, LoRALinear) and m.merged
    ]
    if merged:
        raise ValueError(
            f"cannot load adapter {path} into {len(merged)} merged "
            f"layers, e.g. {merged[0]}: call unmerge() first"
        )
    own = lora_state_dict(model)
    both = sorted(own.keys() & tensors.keys())
    problems = {
        "missing keys": sorted(own.keys() - tensors.keys()),
        "unexpected keys": sorted(tensors.keys() - own.keys()),
        "shape mismatches": [
            f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
            for k in both
            if tensors[k].shape != own[k].shape
        ],
        "dtype mismatches": [
            f"{k}: file {tensors[k].dtype} vs model {own[k].dtype}"
            for k in both
            if tensors[k].dtype != own[k].dtype
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
    # --8<-- [end:load_adapter]


def main(argv: list[str] | None = None) -> int:
    from snippets.models.gpt import GPT, GPTConfig

    parser = argparse.ArgumentParser(description="wrap a tiny GPT with LoRA")
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--lora-alpha", type=float, default=16.0)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = GPT(GPTConfig())
    total = sum(p.numel() for p in model.parameters())
    try:
        trainable = apply_lora(
            model, ["c_attn", "c_proj", "c_fc"], args.r, args.lora_alpha
        )
    except ValueError as err:
        parser.error(str(err))
    print(f"trainable {trainable:,} of {total:,} ({100 * trainable / total:.2f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
