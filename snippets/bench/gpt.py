"""Benchmark of the small GPT: training tokens/s and MFU, SDPA vs naive, KV cache.

Everything is measured in one process, against a peak measured in the same run:

* ``matmul_peak_tflops``: the best FLOP/s of a square ``torch.mm`` (2 n^3 FLOPs) in the
  training dtype: the ceiling MFU is computed against.
* ``train``: for ``d_model`` 128 and 256, training tokens/s of an eager AdamW loop and
  MFU = tokens/s * (6 N + 12 L H Q T) / peak (nanoGPT's FLOPs per token).
* ``attention``: forward + backward time of the naive causal attention / time of
  ``F.scaled_dot_product_attention(is_causal=True)`` at several sequence lengths.
* ``kv_cache``: greedy generation time without the cache / with it.

Goals on the 2-core CPU of CI: MFU >= 0.60 at d_model 128 and >= 0.75 at 256,
SDPA >= 3x faster than naive at T >= 512.  ``--gpu-config`` runs a GPT-2-small-shaped
model (12 layers, 12 heads, d_model 768, context 1024) in bf16 with ``torch.compile``
and fused AdamW on the accelerator, and reports MFU against a bf16 matmul peak
(goal >= 0.5 on an H200) and the peak allocated memory against the estimate.

Run ``python -m snippets bench gpt [--json] [--gpu-config]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from snippets.device import pick_device
from snippets.memory import estimate_training_bytes
from snippets.models.attention import naive_causal_attention
from snippets.models.gpt import GPT, GPTConfig, flops_per_token


def _sync(device: torch.device) -> None:
    if device.type != "cpu":
        torch.accelerator.synchronize()  # GPU work is asynchronous: wait before timing


def best_seconds(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls (the least disturbed by other work)."""
    best = math.inf
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


# --8<-- [start:peak]
def matmul_peak(
    device: torch.device, dtype: torch.dtype, n: int, repeats: int = 10
) -> float:
    """Measured FLOP/s of an n x n matmul (2 n^3 FLOPs), best of ``repeats``."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.mm(a, b)  # warm-up: library initialisation, kernel selection
    return 2 * n**3 / best_seconds(lambda: torch.mm(a, b), device, repeats)
    # --8<-- [end:peak]


def train_speed(
    cfg: GPTConfig,
    batch_size: int,
    steps: int,
    device: torch.device,
    peak: float,
    amp_dtype: torch.dtype | None = None,
    compile_model: bool = False,
) -> dict[str, float]:
    """Tokens/s and MFU of AdamW training steps on random tokens (median step)."""
    torch.manual_seed(0)
    model = GPT(cfg).to(device)
    fused = device.type == "cuda"  # one kernel for the whole AdamW update
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused)
    step_model = torch.compile(model) if compile_model else model
    x = torch.randint(0, cfg.vocab_size, (batch_size, cfg.block_size), device=device)
    autocast = (
        torch.autocast(device_type=device.type, dtype=amp_dtype)
        if amp_dtype is not None
        else contextlib.nullcontext()
    )

    def step() -> None:
        with autocast:
            _, loss = step_model(x, x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    warmup = 3 if compile_model else 1  # compile happens in the first calls
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = [best_seconds(step, device, 1) for _ in range(steps)]
    seconds = statistics.median(times)
    tokens_per_s = batch_size * cfg.block_size / seconds
    n = model.num_params()
    result = {
        "d_model": cfg.d_model,
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "block_size": cfg.block_size,
        "batch_size": batch_size,
        "params_non_embedding": n,
        "step_ms": 1000 * seconds,
        "tokens_per_s": tokens_per_s,
        "mfu": tokens_per_s * flops_per_token(cfg, n) / peak,
    }
    if device.type == "cuda":
        total = model.num_params(non_embedding=False)
        result["max_memory_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
        estimate = estimate_training_bytes(total, total)  # weights, grads, AdamW
        result["estimated_state_gib"] = estimate.total / 2**30
    return result


def attention_speed(
    seq_lens: list[int], device: torch.device, repeats: int
) -> dict[str, float]:
    """naive / SDPA time of causal attention, forward + backward, per length T."""
    ratios = {}
    g = torch.Generator(device=device).manual_seed(0)
    for T in seq_lens:
        q, k, v = (
            torch.randn(4, 4, T, 32, device=device, generator=g, requires_grad=True)
            for _ in range(3)
        )  # (B, H, T, Q)

        def run(attn: Callable, q=q, k=k, v=v) -> Callable[[], None]:
            return lambda: attn(q, k, v).sum().backward()

        sdpa = run(partial(F.scaled_dot_product_attention, is_causal=True))
        naive = run(naive_causal_attention)
        sdpa()
        naive()  # warm-up both
        ratios[str(T)] = best_seconds(naive, device, repeats) / best_seconds(
            sdpa, device, repeats
        )
    return ratios


def kv_cache_speed(device: torch.device, new_tokens: int) -> dict[str, float]:
    """Greedy generation of ``new_tokens`` after a 16-token prompt: no cache / cache."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=512, n_layer=4, n_head=4, d_model=128)).to(device)
    model.eval()
    prompt = torch.randint(0, 256, (1, 16), device=device)
    times = {}
    for use_cache in (False, True):
        times[use_cache] = best_seconds(
            partial(
                model.generate, prompt, new_tokens, temperature=0, use_cache=use_cache
            ),
            device,
            2,
        )
    return {
        "new_tokens": new_tokens,
        "no_cache_s": times[False],
        "cache_s": times[True],
        "speedup": times[False] / times[True],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--steps", type=int, default=8, help="timed training steps")
    parser.add_argument(
        "--gpu-config",
        action="store_true",
        help="GPT-2-small shape in bf16 + compile on the accelerator",
    )
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    device = pick_device(args.device)
    report: dict[str, object] = {
        "torch": torch.__version__,
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    if args.gpu_config:
        if device.type == "cpu":
            parser.error("--gpu-config needs an accelerator; this machine has none")
        peak = matmul_peak(device, torch.bfloat16, 8192)
        cfg = GPTConfig(
            vocab_size=50304, block_size=1024, n_layer=12, n_head=12, d_model=768
        )
        report["matmul_peak_tflops"] = peak / 1e12
        report["train"] = [
            train_speed(
                cfg,
                16,
                args.steps,
                device,
                peak,
                amp_dtype=torch.bfloat16,
                compile_model=True,
            )
        ]
        report["attention_naive_over_sdpa"] = attention_speed([1024, 4096], device, 5)
    else:
        peak = matmul_peak(device, torch.float32, 1024)
        report["matmul_peak_tflops"] = peak / 1e12
        report["train"] = [
            train_speed(
                GPTConfig(block_size=256, n_layer=4, n_head=d // 32, d_model=d),
                8,
                args.steps,
                device,
                peak,
            )
            for d in (128, 256)
        ]
        report["attention_naive_over_sdpa"] = attention_speed(
            [256, 512, 1024], device, 3
        )
        report["kv_cache"] = kv_cache_speed(device, 200)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"torch {report['torch']} on {device} ({report['threads']} threads); "
        f"matmul peak {report['matmul_peak_tflops'] * 1000:.1f} GFLOP/s"
    )
    for row in report["train"]:
        print(
            f"d_model {row['d_model']:4d}: {row['tokens_per_s']:,.0f} tokens/s, "
            f"MFU {row['mfu']:.2f}"
        )
    for T, ratio in report["attention_naive_over_sdpa"].items():
        print(f"attention T={T}: naive / SDPA = {ratio:.2f}x")
    if "kv_cache" in report:
        speedup = report["kv_cache"]["speedup"]
        print(f"generation without / with KV cache: {speedup:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
