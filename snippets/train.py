"""A visible training loop: one function, no framework, runs on CPU, CUDA, MPS or XPU.

``train`` does what every training loop does (forward, loss, backward, optimizer step)
plus what a real run needs: a warmup + cosine learning-rate schedule, gradient
accumulation, gradient clipping, mixed precision with ``torch.autocast`` (bf16 on any
device; fp16 with a ``torch.amp.GradScaler`` on CUDA only), optional ``torch.compile``,
evaluation after every epoch, a metrics history, a tqdm progress bar and checkpoints
from which a killed run resumes *exactly* (same parameters and optimizer state, bit for
bit, as a run that was never interrupted).

Choices worth knowing:

* the loss is kept on the device and read with ``.item()`` only every ``log_every``
  steps: a per-step ``.item()`` waits for the GPU and a per-step postfix redraw costs
  more than the step on small models;
* the scheduler counts optimizer steps, not micro-batches;
* a checkpoint stores the data loader's generator state at the start of the epoch and
  the number of batches consumed; resuming replays that order and skips those batches;
* with ``compile=True`` only the forward pass goes through the compiled wrapper; the
  original module is what is saved, so state_dict keys carry no ``_orig_mod.`` prefix.

Run ``python -m snippets.train`` for a digits run (``python -m snippets train --help``
shows the full command line).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, RandomSampler
from tqdm.auto import tqdm

from snippets.checkpoint import (
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from snippets.device import seed_everything

AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# Settings a resumed run must share with the checkpoint, or it would not continue the
# same run (a different schedule, batch composition or numerics).
RESUME_MUST_MATCH = (
    "epochs",
    "lr",
    "min_lr_ratio",
    "warmup_steps",
    "weight_decay",
    "grad_accum_steps",
    "max_grad_norm",
    "amp",
    "seed",
)


# --8<-- [start:config]
@dataclass
class TrainConfig:
    """Hyperparameters and run settings of ``train``."""

    epochs: int = 10  # passes over the training set
    lr: float = 1e-2  # peak learning rate, reached at the end of warmup
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio
    warmup_steps: int = 20  # optimizer steps of linear warmup from ~0 to lr
    weight_decay: float = 0.01  # AdamW's decoupled weight decay
    grad_accum_steps: int = 1  # micro-batches whose gradients make one optimizer step
    max_grad_norm: float | None = (
        1.0  # clip the global gradient norm; None: no clipping
    )
    amp: str = "off"  # "off", "bf16" (CPU and GPUs) or "fp16" (CUDA, with GradScaler)
    compile: bool = False  # run forward/backward through torch.compile
    seed: int = 0  # a fresh run seeds Python, NumPy, torch and the loader from it
    run_dir: str | None = None  # checkpoints go to run_dir/checkpoints; None: no saving
    save_every: int = (
        0  # also checkpoint every N optimizer steps (0: at epoch ends only)
    )
    keep_last: int = 2  # complete checkpoints kept on disk
    resume: bool = False  # continue from the newest complete checkpoint in run_dir
    stop_at_step: int | None = None  # end early after this step (a time-boxed job)
    progress: bool = True  # show a tqdm progress bar on stderr
    log_every: int = 50  # steps between updates of the bar's loss / lr readout

    def __post_init__(self) -> None:
        positive = {
            "epochs": self.epochs,
            "grad_accum_steps": self.grad_accum_steps,
            "log_every": self.log_every,
            "keep_last": self.keep_last,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {value}")
        for name, value in {
            "warmup_steps": self.warmup_steps,
            "save_every": self.save_every,
        }.items():
            if value < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {value}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(
                f"TrainConfig.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}"
            )
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(
                "TrainConfig.max_grad_norm must be > 0 or None, "
                f"got {self.max_grad_norm}"
            )
        if self.amp not in AMP_DTYPES:
            raise ValueError(
                f"TrainConfig.amp must be one of {', '.join(AMP_DTYPES)}, "
                f"got {self.amp!r}"
            )
        if self.stop_at_step is not None and self.stop_at_step < 1:
            raise ValueError(
                "TrainConfig.stop_at_step must be >= 1 or None, "
                f"got {self.stop_at_step}"
            )
        if self.resume and self.run_dir is None:
            raise ValueError("TrainConfig.resume needs a run_dir to resume from")


# --8<-- [end:config]


# --8<-- [start:lr_factor]
def lr_factor(
    step: int, warmup_steps: int, total_steps: int, min_ratio: float
) -> float:
    """Multiplier of the peak learning rate after ``step`` optimizer steps.

    Linear warmup for ``w = warmup_steps`` steps, then a cosine from 1 down to
    ``m = min_ratio`` at ``T = total_steps``:

        f(s) = (s + 1) / w                                   for s < w
        f(s) = m + (1 - m) / 2 * (1 + cos(pi * (s - w) / (T - w)))   otherwise
    """
    if step < warmup_steps:
        return (
            step + 1
        ) / warmup_steps  # never exactly 0: the first step does something
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


# --8<-- [end:lr_factor]


# --8<-- [start:evaluate]
@torch.no_grad()
def evaluate(
    model: nn.Module, loader: DataLoader, device: torch.device
) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``loader``.

    Args:
        model: a classifier returning logits ``(B, C)``; its train/eval mode is kept.
        loader: batches of ``(inputs, int64 labels)``.
        device: where the model lives.
    """
    was_training = model.training
    model.eval()  # dropout off, batch norm uses its running statistics
    loss_sum, correct, count = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)  # (B, C)
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(dim=1) == y).sum().item()
        count += y.numel()
    model.train(was_training)
    return {"loss": loss_sum / count, "accuracy": correct / count}


# --8<-- [end:evaluate]


# --8<-- [start:resume_point]
def resume_point(cfg: TrainConfig) -> Path | None:
    """The checkpoint to resume from, or None for a fresh run; never clobber a run.

    Refuses a fresh run in a directory that holds complete checkpoints (that would
    overwrite them) and a resume with nothing to resume from.
    """
    if cfg.run_dir is None:
        raise ValueError("resume_point needs cfg.run_dir")
    newest = latest_checkpoint(cfg.run_dir)
    if cfg.resume and newest is None:
        what = "does not exist" if not Path(cfg.run_dir).exists() else "has none"
        raise FileNotFoundError(
            f"resume: no complete checkpoint in {cfg.run_dir} (the directory {what}); "
            "run without resume to start fresh"
        )
    if not cfg.resume and newest is not None:
        raise FileExistsError(
            f"{cfg.run_dir} already holds checkpoints (newest: {newest.name}); "
            "resume to continue that run, or choose another run_dir"
        )
    return newest  # None also when only incomplete leftovers of a killed run exist


# --8<-- [end:resume_point]


# --8<-- [start:train]
def train(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    cfg: TrainConfig,
    device: torch.device | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` with AdamW on cross-entropy; return one metrics dict per epoch.

    Args:
        model: a classifier returning logits ``(B, C)``; trained in place.
        train_loader: batches of ``(inputs, labels)``; to resume exactly it must shuffle
            with its own ``generator`` and ``num_workers=0`` (see ``make_loader``).
        val_loader: evaluated after every epoch (None: skip evaluation).
        cfg: hyperparameters and run settings.
        device: where to train; default: where the model's parameters are.
    """
    device = device if device is not None else next(model.parameters()).device
    if cfg.amp == "fp16" and device.type != "cuda":
        raise ValueError(
            f"amp='fp16' needs CUDA (GradScaler); on {device.type} "
            "use amp='bf16' or 'off'"
        )
    generator = train_loader.generator
    if (
        cfg.run_dir
        and isinstance(train_loader.sampler, RandomSampler)
        and generator is None
    ):
        raise ValueError(
            "exact resume needs a train_loader with its own generator; "
            "use make_loader or DataLoader(generator=...)"
        )
    model.to(device)
    accum, n_batches = cfg.grad_accum_steps, len(train_loader)
    steps_per_epoch = math.ceil(n_batches / accum)
    total_steps = cfg.epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: lr_factor(s, cfg.warmup_steps, total_steps, cfg.min_lr_ratio),
    )
    # The scaler multiplies the fp16 loss so small gradients do not underflow to 0;
    # disabled it is a no-op, so the same code serves every precision.
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")
    forward = torch.compile(model) if cfg.compile else model
    step, start_epoch, skip, loss_sum, loss_count, history = 0, 0, 0, 0.0, 0, []

    checkpoint = resume_point(cfg) if cfg.run_dir else None
    if checkpoint is None:
        seed_everything(cfg.seed)
        if generator is not None:
            generator.manual_seed(cfg.seed)  # the data order depends on cfg.seed alone
    else:
        state = load_checkpoint(checkpoint, model, map_location=device)
        for name in RESUME_MUST_MATCH:
            if state["config"][name] != getattr(cfg, name):
                raise ValueError(
                    f"{checkpoint} was saved with {name}={state['config'][name]!r}, "
                    f"this run has {name}={getattr(cfg, name)!r}; "
                    "resume with the same settings"
                )
        if state["batches_per_epoch"] != n_batches:
            raise ValueError(
                f"{checkpoint} was saved with {state['batches_per_epoch']} batches per "
                f"epoch, this loader has {n_batches}; use the same data and batch size"
            )
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        step, start_epoch, skip = state["step"], state["epoch"], state["batches_done"]
        loss_sum, loss_count = state["epoch_loss_sum"], state["epoch_loss_count"]
        history = state["history"]
        loader_rng = restore_rng_state(state["rng"])
        if generator is not None and loader_rng is not None:
            generator.set_state(loader_rng)

    def save(epoch: int, batches_done: int, loader_rng: torch.Tensor | None) -> None:
        state = {
            "step": step,
            "epoch": epoch,
            "batches_done": batches_done,
            "batches_per_epoch": n_batches,
            "epoch_loss_sum": loss_sum,
            "epoch_loss_count": loss_count,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": capture_rng_state(loader_rng),
            "history": history,
            "config": asdict(cfg),
        }
        save_checkpoint(cfg.run_dir, step, model, state, keep_last=cfg.keep_last)

    autocast = torch.autocast(
        device.type,
        dtype=AMP_DTYPES[cfg.amp] or torch.bfloat16,
        enabled=cfg.amp != "off",
    )
    bar = tqdm(total=total_steps, initial=step, disable=not cfg.progress, unit="step")
    stopped = cfg.stop_at_step is not None and step >= cfg.stop_at_step
    for epoch in range(start_epoch, cfg.epochs):
        if stopped:
            break
        started = time.perf_counter()
        epoch_rng = generator.get_state() if generator is not None else None
        model.train()
        batches = iter(train_loader)  # draws this epoch's order from `generator`
        for _ in range(skip):  # replay the order up to the checkpoint, skip the work
            next(batches)
        running = torch.tensor(loss_sum, device=device)  # stays on device: no sync
        for i, (x, y) in enumerate(batches, start=skip):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            window = min(accum, n_batches - (i - i % accum))  # micro-batches this step
            with autocast:
                loss = F.cross_entropy(forward(x), y)
            # Dividing by the window makes the accumulated gradient the mean over it.
            scaler.scale(loss / window).backward()
            running += loss.detach().float()
            loss_count += 1
            if (i + 1) % accum != 0 and i + 1 != n_batches:
                continue  # keep accumulating
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            if cfg.max_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            scaler.step(optimizer)  # skipped if fp16 produced inf/nan gradients
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            step += 1
            bar.update()
            if step % cfg.log_every == 0:  # a sync and a redraw, but not every step
                bar.set_postfix(
                    loss=f"{running.item() / loss_count:.4f}",
                    lr=f"{scheduler.get_last_lr()[0]:.2e}",
                    refresh=False,
                )
            stopped = cfg.stop_at_step is not None and step >= cfg.stop_at_step
            if cfg.run_dir and (
                stopped or cfg.save_every and step % cfg.save_every == 0
            ):
                loss_sum = running.item()
                save(epoch, i + 1, epoch_rng)
            if stopped:
                break
        if stopped:
            break
        record = {
            "epoch": epoch + 1,
            "step": step,
            "lr": scheduler.get_last_lr()[0],
            "train_loss": running.item() / max(1, loss_count),
        }
        if val_loader is not None:
            metrics = evaluate(model, val_loader, device)
            record.update(val_loss=metrics["loss"], val_accuracy=metrics["accuracy"])
        record["seconds"] = time.perf_counter() - started
        history.append(record)
        skip, loss_sum, loss_count = 0, 0.0, 0
        if cfg.run_dir:
            loader_rng = generator.get_state() if generator is not None else None
            save(epoch + 1, 0, loader_rng)  # the next epoch starts from this state
    bar.close()
    return history


# --8<-- [end:train]


if __name__ == "__main__":
    from snippets.data import digits_datasets, make_loader
    from snippets.device import pick_device
    from snippets.models.cnn import DigitsCNN

    dev = pick_device("auto")
    train_set, val_set, test_set = digits_datasets(seed=0)
    torch.manual_seed(0)
    net = DigitsCNN().to(dev)
    runs = train(
        net,
        make_loader(train_set, 64, shuffle=True),
        make_loader(val_set, 256, shuffle=False),
        TrainConfig(epochs=10),
        dev,
    )
    for row in runs:
        print({k: round(v, 4) for k, v in row.items()})
    print("test:", evaluate(net, make_loader(test_set, 256, shuffle=False), dev))
