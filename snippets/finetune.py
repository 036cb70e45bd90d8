"""Fine-tuning: full, with a frozen backbone, and with LoRA, measured side by side.

A small GPT (``snippets.models.gpt``) is pretrained on the handbook's English pages and
then fine-tuned on the Chinese pages three ways:

* **full**: every parameter trains;
* **frozen**: the embeddings and all blocks but the last are frozen;
* **lora**: everything is frozen and low-rank adapters are added (``snippets.lora``).

For each, ``compare_methods`` records the trainable parameters, the optimizer-state
bytes AdamW really allocated, the size of the checkpoint one must keep (only what
trained), the median step time and the held-out loss.  The same module also does
transfer learning on images: the digits CNN pretrained on digits 0-4 gets a new head
for digits 5-9.

The training loop is a visible function (``train_lm``), not a framework.

Run ``python -m snippets.finetune`` for the GPT comparison table with real numbers and
``python -m snippets.finetune --digits`` for the image transfer experiment.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import TensorDataset

from snippets.checkpoint import atomic_write
from snippets.corpus import ByteTokenizer, get_batch, site_text, train_val_split
from snippets.lora import apply_lora
from snippets.memory import measured_training_bytes
from snippets.models.gpt import GPT, GPTConfig


# --8<-- [start:freeze]
def trainable_parameters(model: nn.Module) -> int:
    """Number of scalar parameters with ``requires_grad`` (tied weights count once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def freeze_except(model: nn.Module, trainable: list[str]) -> int:
    """Freeze every parameter whose name does not start with one of ``trainable``.

    Args:
        model: the model, changed in place.
        trainable: name prefixes that keep training, e.g. ``["blocks.1.", "ln_f."]``.

    Returns:
        the number of trainable parameters afterwards.
    """
    names = [n for n, _ in model.named_parameters()]
    for prefix in trainable:
        if not any(n.startswith(prefix) for n in names):
            raise ValueError(
                f"prefix {prefix!r} matches no parameter; parameters start with "
                f"{sorted({n.split('.')[0] for n in names})}"
            )
    for name, p in model.named_parameters():
        p.requires_grad_(any(name.startswith(prefix) for prefix in trainable))
    return trainable_parameters(model)
    # --8<-- [end:freeze]


# --8<-- [start:train_lm]
def train_lm(
    model: GPT,
    ids: torch.Tensor,
    steps: int,
    lr: float,
    batch_size: int = 16,
    seed: int = 0,
) -> tuple[torch.optim.Optimizer, list[float], list[float]]:
    """Train a language model on random windows of ``ids`` with AdamW.

    Only parameters with ``requires_grad`` go to the optimizer, so frozen weights get
    neither gradients nor optimizer state.

    Args:
        model: a GPT, trained in place.
        ids: ``(N,)`` token ids.
        steps: optimizer steps.
        lr: AdamW learning rate (constant: the runs are short).
        batch_size: windows per step.
        seed: seed of the batch sampler.

    Returns:
        the optimizer (to inspect its state), the loss and the seconds of every step.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(
            f"steps and batch_size must be >= 1, got {steps}, {batch_size}"
        )
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be finite and > 0, got {lr}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    losses, seconds = [], []
    model.train()
    for _ in range(steps):
        x, y = get_batch(ids, model.cfg.block_size, batch_size, generator)  # (B, T)
        start = time.perf_counter()
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        seconds.append(time.perf_counter() - start)
        losses.append(loss.item())
    return optimizer, losses, seconds
    # --8<-- [end:train_lm]


# --8<-- [start:evaluate_lm]
@torch.no_grad()
def evaluate_lm(model: GPT, ids: torch.Tensor) -> float:
    """Mean next-token cross-entropy over every full, non-overlapping window of ``ids``.

    Deterministic (no sampling), so two models are compared on exactly the same text.
    """
    T = model.cfg.block_size
    n = (len(ids) - 1) // T
    if n < 1:
        raise ValueError(f"need more than block_size={T} held-out ids, got {len(ids)}")
    x = ids[: n * T].view(n, T)  # (n, T)
    y = ids[1 : n * T + 1].view(n, T)  # (n, T)
    was_training = model.training
    model.eval()
    _, loss = model(x, y)
    model.train(was_training)
    return loss.item()
    # --8<-- [end:evaluate_lm]


# --8<-- [start:costs]
def save_trainable(model: nn.Module, path: str | Path) -> int:
    """Save only the parameters that trained (safetensors, atomically); return bytes.

    With the base model at hand, these are all one needs to rebuild the fine-tuned
    model: all weights for full fine-tuning, the unfrozen block, or the adapters.
    """
    tensors = {
        name: p.detach().contiguous()
        for name, p in model.named_parameters()
        if p.requires_grad
    }
    if not tensors:
        raise ValueError("the model has no trainable parameters: nothing to save")
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))
    return os.path.getsize(path)
    # --8<-- [end:costs]


@dataclass
class FinetuneConfig:
    """The GPT pretrain / fine-tune experiment (small enough for a CPU in seconds)."""

    pretrain_steps: int = 200  # AdamW steps on the English pages
    finetune_steps: int = 100  # AdamW steps on the Chinese pages, per method
    pretrain_lr: float = 3e-3  # learning rate of pretraining
    full_lr: float = 1e-3  # full fine-tuning: small, every weight moves
    frozen_lr: float = 1e-3  # frozen backbone: only the last block and ln_f move
    lora_lr: float = 3e-3  # LoRA: adapters start at zero, a larger lr is usual
    r: int = 4  # LoRA rank
    lora_alpha: float = 8.0  # LoRA scale numerator (scaling = 2)
    batch_size: int = 16  # windows per step
    seed: int = 0  # model initialisation and batch order


@dataclass
class MethodResult:
    """One row of the comparison table."""

    method: str  # "full", "frozen" or "lora"
    trainable: int  # trainable parameters
    optimizer_bytes: int  # bytes of AdamW moments (snippets.memory's accounting)
    checkpoint_bytes: int  # bytes of the safetensors file of what trained
    step_ms: float  # median wall-clock milliseconds per training step
    val_loss: float  # held-out loss after fine-tuning


# --8<-- [start:compare]
def prepare_method(base: GPT, method: str, cfg: FinetuneConfig) -> tuple[GPT, float]:
    """A copy of ``base`` set up for ``method``; return it and its learning rate."""
    model = copy.deepcopy(base)
    if method == "full":
        return model, cfg.full_lr
    if method == "frozen":
        last = f"blocks.{model.cfg.n_layer - 1}."
        freeze_except(model, [last, "ln_f."])
        return model, cfg.frozen_lr
    if method == "lora":
        apply_lora(model, ["c_attn", "c_proj", "c_fc"], cfg.r, cfg.lora_alpha)
        return model, cfg.lora_lr
    raise ValueError(f"unknown method {method!r}; choose full, frozen or lora")


def compare_methods(
    base: GPT,
    train_ids: torch.Tensor,
    val_ids: torch.Tensor,
    cfg: FinetuneConfig,
    workdir: str | Path = ".",
) -> list[MethodResult]:
    """Fine-tune a copy of ``base`` with each method; measure what each costs."""
    rows = []
    for method in ("full", "frozen", "lora"):
        torch.manual_seed(cfg.seed)  # same LoRA init whatever ran before
        model, lr = prepare_method(base, method, cfg)
        optimizer, _, seconds = train_lm(
            model, train_ids, cfg.finetune_steps, lr, cfg.batch_size, cfg.seed
        )
        ckpt = save_trainable(model, Path(workdir) / f"{method}.safetensors")
        rows.append(
            MethodResult(
                method=method,
                trainable=trainable_parameters(model),
                optimizer_bytes=measured_training_bytes(model, optimizer).optimizer,
                checkpoint_bytes=ckpt,
                step_ms=1000
                * statistics.median(seconds[5:] or seconds),  # skip warm-up
                val_loss=evaluate_lm(model, val_ids),
            )
        )
    return rows
    # --8<-- [end:compare]


def format_table(rows: list[MethodResult], base_loss: float) -> str:
    """The comparison as a Markdown table, with every measured number."""
    lines = [
        "| method | trainable | optimizer state | checkpoint | step | held-out loss |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| none (base) | 0 | 0 | 0 | - | {base_loss:.3f} |",
    ]
    for r in rows:
        lines.append(
            f"| {r.method} | {r.trainable:,} | {r.optimizer_bytes / 1024:.1f} KiB "
            f"| {r.checkpoint_bytes / 1024:.1f} KiB | {r.step_ms:.1f} ms "
            f"| {r.val_loss:.3f} |"
        )
    return "\n".join(lines)


def pretrain_and_compare(cfg: FinetuneConfig, workdir: str | Path) -> str:
    """The whole GPT experiment: pretrain on en, fine-tune on zh three ways."""
    tok = ByteTokenizer()
    en = tok.encode(site_text("en"))
    zh_train, zh_val = train_val_split(tok.encode(site_text("zh")), 0.1)
    torch.manual_seed(cfg.seed)
    base = GPT(GPTConfig(vocab_size=tok.vocab_size))
    train_lm(base, en, cfg.pretrain_steps, cfg.pretrain_lr, cfg.batch_size, cfg.seed)
    base_loss = evaluate_lm(base, zh_val)
    rows = compare_methods(base, zh_train, zh_val, cfg, workdir)
    return format_table(rows, base_loss)


# --8<-- [start:digits]
def class_subset(dataset: TensorDataset, classes: list[int]) -> TensorDataset:
    """Only the examples of ``classes``, relabelled 0 .. len(classes) - 1."""
    x, y = dataset.tensors
    keep = torch.isin(y, torch.tensor(classes))
    remap = torch.full((int(y.max()) + 1,), -1, dtype=torch.long)
    remap[torch.tensor(classes)] = torch.arange(len(classes))
    return TensorDataset(x[keep], remap[y[keep]])


def new_head(model: nn.Module, num_classes: int, freeze_backbone: bool) -> int:
    """Replace ``model.head`` by a fresh ``nn.Linear``; optionally freeze the rest.

    Returns the number of trainable parameters.
    """
    model.requires_grad_(not freeze_backbone)
    model.head = nn.Linear(model.head.in_features, num_classes)  # trainable: new
    return trainable_parameters(model)
    # --8<-- [end:digits]


# --8<-- [start:digits_transfer]
def digits_transfer(
    epochs: int = 5, n_target: int = 50, seed: int = 0
) -> dict[str, float]:
    """Pretrain DigitsCNN on 0-4, then fit 5-9 with a frozen backbone vs from scratch.

    Both runs get the same small budget: ``epochs`` over ``n_target`` examples of 5-9.
    Returns the test accuracy on digits 5-9 of each.
    """
    from snippets.data import digits_datasets, make_loader
    from snippets.models.cnn import DigitsCNN
    from snippets.train import TrainConfig, evaluate, train

    train_set, _, test_set = digits_datasets(seed)
    low, high = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
    quiet = {"progress": False, "seed": seed, "warmup_steps": 0}
    torch.manual_seed(seed)
    source = DigitsCNN(num_classes=5)
    train(
        source,
        make_loader(class_subset(train_set, low), 32, True, seed),
        None,
        TrainConfig(epochs=10, **quiet),
    )
    small = class_subset(train_set, high)
    small = TensorDataset(*(t[:n_target] for t in small.tensors))  # a small budget
    test_loader = make_loader(class_subset(test_set, high), 256, False)
    results = {}
    for name in ("frozen backbone", "from scratch"):
        torch.manual_seed(seed)
        if name == "frozen backbone":
            model = copy.deepcopy(source)
            new_head(model, 5, freeze_backbone=True)
        else:
            model = DigitsCNN(num_classes=5)
        train(
            model,
            make_loader(small, 16, True, seed),
            None,
            TrainConfig(epochs=epochs, **quiet),
        )
        results[name] = evaluate(model, test_loader, torch.device("cpu"))["accuracy"]
    return results
    # --8<-- [end:digits_transfer]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="full vs frozen vs LoRA fine-tuning")
    parser.add_argument("--digits", action="store_true", help="image transfer instead")
    parser.add_argument("--pretrain-steps", type=int, default=200)
    parser.add_argument("--finetune-steps", type=int, default=100)
    args = parser.parse_args(argv)
    if args.digits:
        for name, acc in digits_transfer().items():
            print(f"{name:16s} test accuracy on digits 5-9: {acc:.3f}")
        return 0
    cfg = FinetuneConfig(
        pretrain_steps=args.pretrain_steps, finetune_steps=args.finetune_steps
    )
    with tempfile.TemporaryDirectory() as workdir:
        print(pretrain_and_compare(cfg, workdir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
