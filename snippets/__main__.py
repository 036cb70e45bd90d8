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
import json
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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def train_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m snippets train``."""
    parser = argparse.ArgumentParser(
        prog="python -m snippets train",
        description="Train DigitsCNN on scikit-learn's digits (no download); write "
        "RUN_DIR/metrics.json and RUN_DIR/model.safetensors.",
    )
    parser.add_argument("task", choices=["digits"], help="what to train")
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=10,
        help="passes over the training set (default 10)",
    )
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=64,
        help="examples per optimizer step (default 64)",
    )
    parser.add_argument(
        "--lr",
        type=_positive_float,
        default=1e-2,
        help="peak learning rate after warmup (default 0.01)",
    )
    parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps", "xpu"],
        default="auto",
        help="auto: the current accelerator if any, else cpu",
    )
    parser.add_argument(
        "--amp",
        choices=["off", "bf16", "fp16"],
        default="off",
        help="mixed precision: bf16 autocast (any device) or fp16 "
        "autocast with a GradScaler (CUDA only)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="run the model through torch.compile (slow first steps)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the split, the initial weights and the data order",
    )
    parser.add_argument(
        "--run-dir",
        default="runs/digits",
        help="where checkpoints, metrics.json and model.safetensors go "
        "(default runs/digits)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest complete checkpoint in --run-dir "
        "(an error if there is none)",
    )
    parser.add_argument(
        "--save-every",
        type=_non_negative_int,
        default=0,
        help="also checkpoint every N optimizer steps (default 0: "
        "at the end of each epoch only)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="hide the progress bar"
    )
    return parser


def train_main(argv: list[str]) -> int:
    """``python -m snippets train digits [flags]``; returns the exit status."""
    parser = train_parser()
    args = parser.parse_args(argv)
    # Heavy imports only here: `python -m snippets` itself should answer at once.
    import torch

    from snippets.checkpoint import atomic_write, save_weights
    from snippets.data import digits_datasets, make_loader
    from snippets.device import pick_device
    from snippets.models.cnn import DigitsCNN
    from snippets.train import TrainConfig, evaluate, train

    try:
        device = pick_device(args.device)
    except RuntimeError as err:
        parser.error(f"argument --device: {err}")
    if args.amp == "fp16" and device.type != "cuda":
        parser.error(
            f"argument --amp: fp16 needs CUDA (GradScaler); on {device.type} "
            "use --amp bf16 or off"
        )
    run_dir = Path(args.run_dir)
    if args.resume and not run_dir.is_dir():
        parser.error(
            f"argument --resume: {run_dir} does not exist; run without --resume "
            "to start fresh"
        )
    cfg = TrainConfig(
        epochs=args.epochs,
        lr=args.lr,
        amp=args.amp,
        compile=args.compile,
        seed=args.seed,
        run_dir=str(run_dir),
        resume=args.resume,
        save_every=args.save_every,
        progress=not args.no_progress,
    )
    train_set, val_set, test_set = digits_datasets(seed=args.seed)
    torch.manual_seed(args.seed)  # the initial weights (a resumed run loads its own)
    model = DigitsCNN().to(device)
    train_loader = make_loader(train_set, args.batch_size, shuffle=True, seed=args.seed)
    val_loader = make_loader(val_set, 256, shuffle=False)
    started = time.perf_counter()
    try:
        history = train(model, train_loader, val_loader, cfg, device)
    except (FileNotFoundError, FileExistsError) as err:
        parser.error(
            str(err)
            .replace("resume:", "--resume:")
            .replace("resume to continue", "pass --resume to continue")
        )
    seconds = time.perf_counter() - started
    test = evaluate(model, make_loader(test_set, 256, shuffle=False), device)
    steps = history[-1]["step"] if history else 0
    metrics = {
        "task": "digits",
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "epochs": args.epochs,
        "steps": steps,
        "batch_size": args.batch_size,
        "device": str(device),
        "amp": args.amp,
        "compile": args.compile,
        "torch": torch.__version__,
        "train_seconds": seconds,  # this invocation only (a resumed run: the rest)
        "epoch_seconds": [row["seconds"] for row in history],
        "history": history,
    }
    save_weights(model, run_dir / "model.safetensors")
    text = json.dumps(metrics, indent=2)
    atomic_write(run_dir / "metrics.json", lambda tmp: tmp.write_text(text))
    print(
        f"test accuracy {test['accuracy']:.4f} after {steps} steps on {device}; "
        f"wrote {run_dir / 'metrics.json'} and {run_dir / 'model.safetensors'}"
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
