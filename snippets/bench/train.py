"""Benchmark of the training loop: overhead, bf16 autocast and torch.compile.

Everything is measured in one process, as paired repetitions (the two variants run
back to back, order alternating) and reported as medians over ``--reps`` (>= 7):

* ``loop_overhead``: ``snippets.train.train`` (schedule, autocast context, grad scaler,
  loss bookkeeping, tqdm bar) against a bare ``forward / backward / step`` loop on the
  same batches, clipping off in both; ``loop_overhead_with_clipping`` adds
  ``clip_grad_norm_`` to ``train`` (a feature with a real cost, reported apart).  The
  goal is <= 2 % when a step takes >= 10 ms (``step_ms`` says whether it does).
* ``bf16_speedup``: fp32 step time / bf16-autocast step time (> 1: bf16 is faster).
* ``compile_speedup``: eager / ``torch.compile`` step time after a warm-up that
  compiles (``compile_warmup_s``); < 1 means compile made it slower.
* ``samples_per_s`` of the bare fp32 loop, the device and the torch version.

The data are random tensors shaped like the digits (only the speed matters here), in
batches of ``--batch-size`` with no partial batch (so compile sees one shape).

Run ``python -m snippets bench train [--json] [--batch-size N] [--no-compile]``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from snippets.data import make_loader
from snippets.device import pick_device
from snippets.models.cnn import DigitsCNN
from snippets.train import TrainConfig, train


def cpu_name() -> str:
    """The CPU model (Linux: from /proc/cpuinfo), else the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _sync(device: torch.device) -> None:
    if device.type != "cpu":
        torch.accelerator.synchronize()  # GPU work is asynchronous: wait before timing


def bare_loop(
    model: nn.Module,
    forward: Callable[[torch.Tensor], torch.Tensor],
    loader: DataLoader,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
) -> None:
    """The minimum: forward, loss, backward, AdamW step; no schedule, no bar."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast(
            device.type,
            dtype=amp_dtype or torch.bfloat16,
            enabled=amp_dtype is not None,
        ):
            loss = F.cross_entropy(forward(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def _timed(fn: Callable[[], None], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def paired(
    a: Callable[[], None], b: Callable[[], None], reps: int, device: torch.device
) -> tuple[float, float, float]:
    """Median time of ``a``, of ``b`` and median of the per-pair ratios ``b / a``."""
    times_a, times_b, ratios = [], [], []
    for rep in range(reps):
        if rep % 2 == 0:  # alternate the order so drift does not favour one side
            ta, tb = _timed(a, device), _timed(b, device)
        else:
            tb, ta = _timed(b, device), _timed(a, device)
        times_a.append(ta)
        times_b.append(tb)
        ratios.append(tb / ta)
    return (
        statistics.median(times_a),
        statistics.median(times_b),
        statistics.median(ratios),
    )


def run(
    batch_size: int, steps: int, reps: int, device_name: str, compile_model: bool
) -> dict:
    """Measure everything; return the figures as a dict (see the module docstring)."""
    device = pick_device(device_name)
    torch.manual_seed(0)
    images = torch.rand(batch_size * steps, 1, 8, 8)  # (N, 1, 8, 8) like the digits
    labels = torch.randint(0, 10, (batch_size * steps,))
    loader = make_loader(TensorDataset(images, labels), batch_size, shuffle=True)
    base = DigitsCNN().to(device)

    def fresh() -> nn.Module:
        return copy.deepcopy(base)

    def ours(clip: float | None) -> Callable[[], None]:
        cfg = TrainConfig(epochs=1, max_grad_norm=clip, progress=True, warmup_steps=0)

        def go() -> None:
            with contextlib.redirect_stderr(io.StringIO()):  # the bar draws, unseen
                train(fresh(), loader, None, cfg, device)

        return go

    def bare(amp_dtype: torch.dtype | None = None) -> Callable[[], None]:
        def go() -> None:
            model = fresh()
            bare_loop(model, model, loader, device, amp_dtype)

        return go

    bare(None)()  # warm-up: allocator, kernels, thread pools
    t_bare, _, overhead = paired(bare(), ours(None), reps, device)
    _, _, overhead_clip = paired(bare(), ours(1.0), reps, device)
    t_fp32, t_bf16, bf16_ratio = paired(bare(), bare(torch.bfloat16), reps, device)
    result = {
        "benchmark": "train",
        "device": str(device),
        "device_name": (
            torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
        ),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch_size": batch_size,
        "steps": steps,
        "reps": reps,
        "step_ms": 1000 * t_bare / steps,
        "samples_per_s": batch_size * steps / t_bare,
        "loop_overhead": overhead - 1,
        "loop_overhead_with_clipping": overhead_clip - 1,
        "bf16_speedup": 1 / bf16_ratio,
        "bf16_step_ms": 1000 * t_bf16 / steps,
        "compile_speedup": None,
        "compile_warmup_s": None,
    }
    if compile_model:
        eager_model, compiled_model = fresh(), fresh()
        compiled = torch.compile(compiled_model)
        start = time.perf_counter()
        bare_loop(compiled_model, compiled, loader, device)  # compiles forward+backward
        _sync(device)
        result["compile_warmup_s"] = time.perf_counter() - start

        def eager_run() -> None:
            bare_loop(eager_model, eager_model, loader, device)

        def compiled_run() -> None:
            bare_loop(compiled_model, compiled, loader, device)

        _, _, compile_ratio = paired(eager_run, compiled_run, reps, device)
        result["compile_speedup"] = 1 / compile_ratio
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m snippets bench train``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m snippets bench train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=512,
        help="examples per step (default 512: >= 10 ms on a laptop CPU)",
    )
    parser.add_argument("--steps", type=int, default=20, help="steps per repetition")
    parser.add_argument("--reps", type=int, default=7, help="paired repetitions (>= 7)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, mps or xpu")
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="skip the torch.compile comparison (it compiles first)",
    )
    args = parser.parse_args(argv)
    for name in ("batch_size", "steps"):
        if getattr(args, name) < 1:
            parser.error(
                f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}"
            )
    if args.reps < 7:
        parser.error(f"--reps must be >= 7 for a meaningful median, got {args.reps}")
    try:
        result = run(
            args.batch_size, args.steps, args.reps, args.device, not args.no_compile
        )
    except (ValueError, RuntimeError) as err:
        parser.error(str(err))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"device {result['device']} ({result['device_name']}), "
        f"torch {result['torch']}, "
        f"{result['threads']} threads, batch {args.batch_size}, medians of {args.reps}"
    )
    print(
        f"bare step             {result['step_ms']:.2f} ms "
        f"({result['samples_per_s']:.0f} samples/s)"
    )
    print(
        f"loop overhead         {100 * result['loop_overhead']:+.1f} % "
        f"(goal <= 2 % at steps >= 10 ms)"
    )
    print(f"  with clipping       {100 * result['loop_overhead_with_clipping']:+.1f} %")
    print(f"bf16 autocast speedup {result['bf16_speedup']:.2f}x vs fp32")
    if result["compile_speedup"] is not None:
        print(
            f"compile speedup       {result['compile_speedup']:.2f}x vs eager "
            f"(warm-up {result['compile_warmup_s']:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
