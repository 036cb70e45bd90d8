"""Command line of the handbook's code: ``python -m snippets COMMAND ...``.

``python -m snippets`` lists the commands.  ``train digits`` trains ``DigitsCNN`` on
scikit-learn's bundled digits with the loop of ``snippets.train`` and writes
``RUN_DIR/metrics.json`` and ``RUN_DIR/model.safetensors``; ``bench NAME`` runs one of
the benchmarks under ``snippets/bench/``.  Bench modules are imported only when asked
for, so a benchmark whose optional dependency is missing breaks nothing else.

Examples::

    python -m snippets train digits --epochs 10 --run-dir runs/digits
    python -m snippets train digits --run-dir runs/digits --resume
    python -m snippets bench train --json
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

# name -> (module with main(argv) -> int, what it measures).  Adding a benchmark is
# one line here plus its module.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "train": ("snippets.bench.train", "loop overhead, bf16 and compile speedups"),
    "distributed": ("snippets.bench.distributed", "DDP samples/s, 1 vs 2 processes"),
    "gpt": ("snippets.bench.gpt", "GPT tokens/s and MFU, SDPA vs naive, KV cache"),
}


def train_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m snippets train``.

    It converts types only; the values are checked by ``TrainConfig``, ``pick_device``
    and ``make_loader``, whose messages reach the user unchanged (``parser.error``).
    """
    from snippets.device import AMP_CHOICES, DEVICE_CHOICES

    parser = argparse.ArgumentParser(
        prog="python -m snippets train",
        description="Train DigitsCNN on scikit-learn's digits (no download); write "
        "RUN_DIR/metrics.json and RUN_DIR/model.safetensors.",
    )
    parser.add_argument("task", choices=["digits"], help="what to train")
    add = parser.add_argument
    add("--epochs", type=int, default=10, help="passes over the training set (10)")
    add("--batch-size", type=int, default=64, help="examples per step (64)")
    add("--lr", type=float, default=1e-2, help="peak learning rate, <= 1 (0.01)")
    add(
        "--device",
        choices=DEVICE_CHOICES,
        default="auto",
        help="auto: the current accelerator if any, else cpu",
    )
    add(
        "--amp",
        choices=AMP_CHOICES,
        default="off",
        help="mixed precision: bf16 autocast (any device) or fp16 autocast with a "
        "GradScaler (CUDA GPUs without bf16)",
    )
    add("--compile", action="store_true", help="run the model through torch.compile")
    add("--seed", type=int, default=0, help="seeds the split, weights and data order")
    add(
        "--run-dir",
        default="runs/digits",
        help="checkpoints, metrics.json and model.safetensors (runs/digits); one "
        "run at a time owns it",
    )
    add(
        "--resume",
        action="store_true",
        help="continue from the newest intact checkpoint in --run-dir",
    )
    add(
        "--save-every",
        type=int,
        default=0,
        help="also checkpoint every N optimizer steps (0: at epoch ends only)",
    )
    add("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def train_main(argv: list[str]) -> int:
    """``python -m snippets train digits [flags]``; returns the exit status."""
    parser = train_parser()
    args = parser.parse_args(argv)
    # Heavy imports only here: `python -m snippets` itself should answer at once.
    import torch

    from snippets.checkpoint import (
        CheckpointError,
        RunDirError,
        claim_run_dir,
        save_weights,
        write_json,
    )
    from snippets.data import digits_datasets, make_loader
    from snippets.device import amp_dtype, pick_device
    from snippets.models.cnn import DigitsCNN
    from snippets.train import (
        NonFiniteLossError,
        TrainConfig,
        evaluate,
        loader_config,
        train,
    )

    try:  # every value is checked before any work, by the code that owns it
        cfg = TrainConfig(
            epochs=args.epochs,
            lr=args.lr,
            amp=args.amp,
            compile=args.compile,
            seed=args.seed,
            run_dir=args.run_dir,
            resume=args.resume,
            save_every=args.save_every,
            progress=not args.no_progress,
        )
        device = pick_device(args.device)
        amp_dtype(cfg.amp, device)
        train_set, val_set, test_set = digits_datasets(seed=cfg.seed)
        train_loader = make_loader(train_set, args.batch_size, True, seed=cfg.seed)
        loader_config(train_loader, cfg)
    except (ValueError, TypeError, RuntimeError) as err:
        parser.error(str(err))
    run_dir = Path(cfg.run_dir)
    try:
        with claim_run_dir(run_dir, cfg.resume):  # held until the files are written
            torch.manual_seed(cfg.seed)  # the initial weights (a resume loads its own)
            model = DigitsCNN().to(device)
            started = time.perf_counter()
            history = train(
                model, train_loader, make_loader(val_set, 256, False), cfg, device
            )
            seconds = time.perf_counter() - started
            test = evaluate(model, make_loader(test_set, 256, False), device)
            metrics = {
                "task": "digits",
                "test_accuracy": test["accuracy"],
                "test_loss": test["loss"],
                "epochs": cfg.epochs,
                "steps": history[-1]["step"] if history else 0,
                "batch_size": args.batch_size,
                "lr": cfg.lr,
                "seed": cfg.seed,
                "device": str(device),
                "amp": cfg.amp,
                "compile": cfg.compile,
                "torch": torch.__version__,
                "train_seconds": seconds,  # this invocation only (a resume: the rest)
                "epoch_seconds": [row["seconds"] for row in history],
                "history": history,
            }
            save_weights(model, run_dir / "model.safetensors")
            write_json(run_dir / "metrics.json", metrics)  # strict JSON: no NaN
    except (RunDirError, CheckpointError) as err:
        parser.error(str(err))
    except NonFiniteLossError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    print(
        f"test accuracy {test['accuracy']:.4f} after {metrics['steps']} steps on "
        f"{device}; wrote {run_dir / 'metrics.json'} and "
        f"{run_dir / 'model.safetensors'}"
    )
    return 0


def bench_main(argv: list[str]) -> int:
    """``python -m snippets bench NAME [args]``: run one benchmark's ``main(argv)``."""
    parser = argparse.ArgumentParser(
        prog="python -m snippets bench",
        description="Run a benchmark; figures are measured in this process.",
        epilog="benchmarks: "
        + "; ".join(f"{n}: {h}" for n, (_, h) in BENCHMARKS.items()),
    )
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    parser.add_argument(
        "args", nargs=argparse.REMAINDER, help="passed to the benchmark (e.g. --json)"
    )
    args = parser.parse_args(argv)
    module_name = BENCHMARKS[args.name][0]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:  # an optional dependency of that benchmark is missing
        parser.error(f"benchmark {args.name!r} cannot run: {err}")
    return module.main(args.args)


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "train": (train_main, "train a model, e.g. `train digits --epochs 10`"),
    "bench": (bench_main, "run a benchmark, e.g. `bench train --json`"),
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``python -m snippets COMMAND``; without a command, list them."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m snippets COMMAND [ARGS]\n\ncommands:")
        for name, (_, help_text) in COMMANDS.items():
            print(f"  {name:8s}{help_text}")
        print("\nbenchmarks (python -m snippets bench NAME):")
        for name, (_, help_text) in BENCHMARKS.items():
            print(f"  {name:8s}{help_text}")
        return 0
    if argv[0] not in COMMANDS:
        print(
            f"python -m snippets: unknown command {argv[0]!r}; choose one of "
            f"{', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    return COMMANDS[argv[0]][0](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
