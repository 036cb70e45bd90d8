"""A visible training loop: one function, no framework, runs on CPU, CUDA, MPS or XPU.

``train`` does what every training loop does (forward, loss, backward, optimizer step)
plus what a real run needs: a warmup + cosine learning-rate schedule, gradient
accumulation, gradient clipping, mixed precision with ``torch.autocast`` (bf16 on any
device; fp16 with a ``torch.amp.GradScaler`` on CUDA), optional ``torch.compile``,
evaluation after every epoch, a metrics history, a tqdm progress bar and checkpoints
from which a killed run resumes *exactly* (same parameters and optimizer state, bit for
bit, as a run that was never interrupted).

Who does what:

* ``TrainConfig`` validates every setting when it is built: a bad value fails there,
  with its name, before any work;
* ``train_epoch`` is one pass over the data (forward, backward, step), reusable alone;
* ``train`` runs the epochs; ``snippets.checkpoint`` owns the run directory (a lock),
  and saves and restores the training state;
* the data order belongs to the loader (``make_loader(seed=...)``): ``train`` never
  reseeds it, and a resume replays it from the state stored in the checkpoint.

Choices worth knowing:

* the loss is kept on the device and read with ``.item()`` only every ``log_every``
  steps and at checkpoints: a per-step ``.item()`` waits for the GPU;
* a non-finite loss stops the run (``NonFiniteLossError``) before it is saved, so the
  last checkpoint stays a good one;
* the scheduler counts optimizer steps, not micro-batches;
* with ``compile=True`` only the forward pass goes through the compiled wrapper; the
  original module is what is saved, so state_dict keys carry no ``_orig_mod.`` prefix.

Run ``python -m snippets train digits --help`` for the command line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, RandomSampler
from tqdm.auto import tqdm

from snippets.checkpoint import TrainingState, claim_run_dir
from snippets.device import AMP_CHOICES, amp_dtype, seed_everything

MAX_LR = 1.0  # see TrainConfig.lr
MAX_SEED = 2**32 - 1  # NumPy's seed (and the digits split) take 0 .. 2**32 - 1


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite: the run cannot continue."""


# --8<-- [start:config]
@dataclass
class TrainConfig:
    """Hyperparameters and run settings of ``train``, checked when built."""

    epochs: int = 10  # passes over the training set
    lr: float = 1e-2  # peak learning rate, reached at the end of warmup; <= 1
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio
    warmup_steps: int = 20  # optimizer steps of linear warmup from ~0 to lr
    weight_decay: float = 0.01  # AdamW's decoupled weight decay; lr * it < 1
    grad_accum_steps: int = 1  # micro-batches whose gradients make one step
    max_grad_norm: float | None = 1.0  # clip the global gradient norm; None: off
    amp: str = "off"  # "off", "bf16" (any device) or "fp16" (CUDA, GradScaler)
    compile: bool = False  # run the forward pass through torch.compile
    seed: int = 0  # a fresh run seeds Python, NumPy and torch with it
    run_dir: str | None = None  # checkpoints go to run_dir/checkpoints; None: none
    save_every: int = 0  # also checkpoint every N steps (0: at epoch ends only)
    keep_last: int = 2  # intact checkpoints kept on disk
    resume: bool = False  # continue from the newest intact checkpoint in run_dir
    stop_at_step: int | None = None  # end early after this step (a time-boxed job)
    progress: bool = True  # show a tqdm progress bar on stderr
    log_every: int = 50  # steps between updates of the bar's loss / lr readout

    def __post_init__(self) -> None:
        validate(self)

    def result_config(self) -> dict:
        """The settings that decide the trained weights (a resume must match them).

        Left out: where and how often to save, when to stop, what to show, and
        ``compile``, which, like the device, changes rounding but not the run.
        """
        ignored = {"run_dir", "save_every", "keep_last", "resume", "stop_at_step"}
        ignored |= {"progress", "log_every", "compile"}
        return {k: v for k, v in asdict(self).items() if k not in ignored}
        # --8<-- [end:config]


def _integer(name: str, value: object, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"TrainConfig.{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"TrainConfig.{name} must be {bound}, got {value}")


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"TrainConfig.{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"TrainConfig.{name} must be finite, got {value}")
    return float(value)


def validate(cfg: TrainConfig) -> None:
    """Raise a ValueError (TypeError for a wrong type) naming the first bad setting.

    Bounds that are not obvious: ``lr <= 1``, because AdamW moves every weight by
    about ``lr`` per step whatever the gradient's size (it divides by the gradient's
    root mean square), so above 1 each step moves a weight by more than its typical
    size and no run learns; ``lr * weight_decay < 1``, because AdamW multiplies the
    weights by ``1 - lr * weight_decay`` every step; ``seed < 2**32``, NumPy's limit.
    """
    for name in ("epochs", "grad_accum_steps", "keep_last", "log_every"):
        _integer(name, getattr(cfg, name), 1)
    for name in ("warmup_steps", "save_every"):
        _integer(name, getattr(cfg, name), 0)
    _integer("seed", cfg.seed, 0, MAX_SEED)
    if cfg.stop_at_step is not None:
        _integer("stop_at_step", cfg.stop_at_step, 1)
    lr = _number("lr", cfg.lr)
    if not 0 < lr <= MAX_LR:
        raise ValueError(f"TrainConfig.lr must be in (0, {MAX_LR}], got {lr}")
    if not 0 <= _number("min_lr_ratio", cfg.min_lr_ratio) <= 1:
        raise ValueError(
            f"TrainConfig.min_lr_ratio must be in [0, 1], got {cfg.min_lr_ratio}"
        )
    decay = _number("weight_decay", cfg.weight_decay)
    if decay < 0 or lr * decay >= 1:
        raise ValueError(
            "TrainConfig.weight_decay must be >= 0 with lr * weight_decay < 1, "
            f"got {decay} (lr {lr})"
        )
    clip = cfg.max_grad_norm
    if clip is not None and not _number("max_grad_norm", clip) > 0:
        raise ValueError(
            f"TrainConfig.max_grad_norm must be > 0 or None, got {cfg.max_grad_norm}"
        )
    if cfg.amp not in AMP_CHOICES:
        raise ValueError(
            f"TrainConfig.amp must be one of {', '.join(AMP_CHOICES)}, got {cfg.amp!r}"
        )
    for name in ("compile", "resume", "progress"):
        if not isinstance(getattr(cfg, name), bool):
            raise TypeError(f"TrainConfig.{name} must be True or False")
    if cfg.run_dir is not None and not isinstance(cfg.run_dir, str):
        raise TypeError(
            f"TrainConfig.run_dir must be a str or None, got {cfg.run_dir!r}"
        )
    if cfg.run_dir == "":
        raise ValueError("TrainConfig.run_dir must not be empty (None: no saving)")
    if cfg.resume and cfg.run_dir is None:
        raise ValueError("TrainConfig.resume needs a run_dir to resume from")


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
        # never exactly 0: the first step does something
        return (step + 1) / warmup_steps
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


def loader_config(loader: DataLoader, cfg: TrainConfig) -> dict:
    """Check that ``loader`` can feed ``train``; return what decides its batches.

    The result joins ``cfg.result_config()`` in every checkpoint, so a resume with
    another batch size, data set size or data seed is refused even when the number
    of batches per epoch happens to be the same.
    """
    generator = loader.generator
    shuffled = isinstance(loader.sampler, RandomSampler)
    if cfg.run_dir and shuffled and generator is None:
        raise ValueError(
            "exact resume needs a train_loader with its own generator; "
            "use make_loader or DataLoader(generator=...)"
        )
    examples = len(loader.dataset)
    if loader.batch_size is not None and loader.batch_size > examples:
        raise ValueError(
            f"batch size {loader.batch_size} is larger than the training set "
            f"({examples} examples)"
        )
    return {
        "batch_size": loader.batch_size,
        "examples": examples,
        "shuffle": shuffled,
        "drop_last": loader.drop_last,
        "data_seed": generator.initial_seed() if generator is not None else None,
    }


@dataclass
class Progress:
    """Where a run stands; saved in every checkpoint (plain values only)."""

    step: int = 0  # optimizer steps done
    epoch: int = 0  # epochs completed
    batches_done: int = 0  # batches of the current epoch already trained on
    loss_sum: float = 0.0  # sum of this epoch's micro-batch losses so far
    loss_count: int = 0  # micro-batches in loss_sum
    history: list[dict] = field(default_factory=list)  # one record per epoch


# --8<-- [start:train_epoch]
def train_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig,
    progress: Progress,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    scaler: torch.amp.GradScaler | None = None,
    on_step: Callable[[Progress, torch.Tensor], bool] | None = None,
) -> bool:
    """Train on the rest of one epoch, from batch ``progress.batches_done``.

    Args:
        model: a classifier returning logits ``(B, C)``, on its device.
        loader: batches of ``(inputs, labels)``; its order is drawn at ``iter``.
        optimizer, scheduler, scaler: stepped once per ``cfg.grad_accum_steps``.
        cfg: its ``grad_accum_steps``, ``max_grad_norm`` and ``amp`` apply.
        progress: updated in place (step, batches_done, loss_count).
        on_step: called after every optimizer step with ``progress`` and the
            epoch's loss sum (a device tensor); returning True stops the epoch.

    Returns:
        True if ``on_step`` stopped the epoch early.
    """
    device = next(model.parameters()).device
    dtype = amp_dtype(cfg.amp, device)
    scaler = scaler or torch.amp.GradScaler(device.type, enabled=False)
    accum, n = cfg.grad_accum_steps, len(loader)
    model.train()
    batches = iter(loader)  # draws this epoch's order from the loader's generator
    for _ in range(progress.batches_done):  # replay the order up to a checkpoint
        next(batches)
    running = torch.tensor(progress.loss_sum, device=device)  # no sync per step
    for i, (x, y) in enumerate(batches, start=progress.batches_done):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        window = min(accum, n - (i - i % accum))  # micro-batches in this step
        with torch.autocast(device.type, dtype or torch.bfloat16, dtype is not None):
            loss = F.cross_entropy(model(x), y)
        # Dividing by the window makes the accumulated gradient the mean over it.
        scaler.scale(loss / window).backward()
        running += loss.detach().float()
        progress.loss_count += 1
        if (i + 1) % accum != 0 and i + 1 != n:
            continue  # keep accumulating
        scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        if cfg.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        scaler.step(optimizer)  # skipped if fp16 produced inf/nan gradients
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()
        progress.step, progress.batches_done = progress.step + 1, i + 1
        if on_step is not None and on_step(progress, running):
            return True
    progress.loss_sum = running.item()
    return False
    # --8<-- [end:train_epoch]


def check_finite(loss_sum: float, model: nn.Module, step: int) -> None:
    """Raise NonFiniteLossError unless the loss and every parameter are finite."""
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
    if math.isfinite(loss_sum) and not bad:
        return
    raise NonFiniteLossError(
        f"the training loss is {loss_sum} at step {step}"
        + (f" and {len(bad)} parameters are not finite ({bad[0]}...)" if bad else "")
        + "; the run stopped before saving this state (the last checkpoint, if "
        "any, is intact); lower the learning rate or check the data for NaN"
    )


def adamw_with_schedule(
    model: nn.Module, cfg: TrainConfig, total_steps: int
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW and its warmup + cosine schedule (``lr_factor``) over ``total_steps``."""
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: lr_factor(s, cfg.warmup_steps, total_steps, cfg.min_lr_ratio),
    )
    return optimizer, scheduler


def end_epoch(
    progress: Progress,
    model: nn.Module,
    val_loader: DataLoader | None,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    started: float,
) -> None:
    """Record a finished epoch in ``progress.history`` and start the next one."""
    check_finite(progress.loss_sum, model, progress.step)
    record = {
        "epoch": progress.epoch + 1,
        "step": progress.step,
        "lr": scheduler.get_last_lr()[0],
        "train_loss": progress.loss_sum / max(1, progress.loss_count),
    }
    if val_loader is not None:
        device = next(model.parameters()).device
        metrics = evaluate(model, val_loader, device)
        record.update(val_loss=metrics["loss"], val_accuracy=metrics["accuracy"])
    record["seconds"] = time.perf_counter() - started  # started: a perf_counter()
    progress.history.append(record)
    progress.epoch += 1
    progress.batches_done, progress.loss_sum, progress.loss_count = 0, 0.0, 0


def start_or_resume(
    cfg: TrainConfig,
    ckpt: TrainingState,
    generator: torch.Generator | None,
    device: torch.device,
) -> Progress:
    """A fresh run seeds every RNG; a resume restores the newest usable checkpoint
    (weights, optimizer, schedule, RNGs, the loader's generator, the position)."""
    if not cfg.resume:
        seed_everything(cfg.seed)  # not the loader: its order is its own seed's
        return Progress()
    progress, generator_state = ckpt.restore(Progress, device)
    if generator is not None and generator_state is not None:
        generator.set_state(generator_state)
    return progress


# --8<-- [start:train]
def train(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    cfg: TrainConfig,
    device: torch.device | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` with AdamW on cross-entropy; return one metrics dict per epoch.

    Shuffle ``train_loader`` with its own generator (``make_loader``) for exact resume.
    """
    device = device if device is not None else next(model.parameters()).device
    amp_dtype(cfg.amp, device)  # refuse a precision this device should not use
    config = {**cfg.result_config(), **loader_config(train_loader, cfg)}
    steps = cfg.epochs * math.ceil(len(train_loader) / cfg.grad_accum_steps)
    optimizer, scheduler = adamw_with_schedule(model.to(device), cfg, steps)
    # fp16 only: scale the loss so small gradients do not underflow (else a no-op)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")
    if cfg.compile:  # in place: the module and its state_dict keys stay as they are
        model.compile()
    stateful = {"optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}
    ckpt = TrainingState(cfg.run_dir, model, stateful, config, cfg.keep_last)
    gen = train_loader.generator
    with claim_run_dir(cfg.run_dir, cfg.resume) if cfg.run_dir else nullcontext():
        progress = start_or_resume(cfg, ckpt, gen, device)
        bar = tqdm(total=steps, initial=progress.step, disable=not cfg.progress)

        def on_step(p: Progress, loss_sum: torch.Tensor) -> bool:
            bar.update()
            stop = cfg.stop_at_step is not None and p.step >= cfg.stop_at_step
            due = cfg.save_every > 0 and p.step % cfg.save_every == 0
            saving = cfg.run_dir is not None and (stop or due)
            if saving or p.step % cfg.log_every == 0:  # a sync: not every step
                p.loss_sum, lr = loss_sum.item(), scheduler.get_last_lr()[0]
                check_finite(p.loss_sum, model, p.step)  # never save a NaN
                bar.set_postfix(loss=p.loss_sum / p.loss_count, lr=lr, refresh=False)
            if saving:  # a resume replays this epoch's order from epoch_start
                ckpt.save(asdict(p), epoch_start)
            return stop

        stopped = cfg.stop_at_step is not None and progress.step >= cfg.stop_at_step
        while progress.epoch < cfg.epochs and not stopped:
            epoch_start = gen and gen.get_state()
            started = time.perf_counter()
            stopped = train_epoch(
                model,
                train_loader,
                optimizer,
                cfg,
                progress,
                scheduler,
                scaler,
                on_step,
            )
            if not stopped:
                end_epoch(progress, model, val_loader, scheduler, started)
                if cfg.run_dir:  # the next epoch draws its order from here
                    ckpt.save(asdict(progress), gen and gen.get_state())
        bar.close()
    return progress.history
    # --8<-- [end:train]


if __name__ == "__main__":
    import sys

    from snippets.__main__ import main

    sys.exit(main(["train", "digits", *sys.argv[1:]]))
