"""Benchmark: DDP training throughput with 1 and N processes (weak scaling).

Each process keeps the same micro-batch (``--per-rank-batch``), so N processes train on
N times more examples per step; each process runs one thread (``--threads``), so on a
CPU the comparison is one core against N cores.  Throughput is measured inside the
training loop (``samples_per_s`` in ``metrics.json``: start-up and the first, warm-up
step excluded); each configuration runs ``--repeats`` times, the fastest run counts, and

    scaling efficiency = samples_per_s(N) / (N * samples_per_s(1)),

1.0 being perfect.  On CPU the processes share the machine's memory bandwidth, and every
step all-reduces the gradients, so expect well below 1; on GPUs with nccl the same
script is the first measurement to take before scaling out.  Figures are reported, not
promised: they depend on the machine and on what else runs on it.

Run: ``python -m snippets bench distributed --nprocs 1 2 --steps 60 [--json]``
(or ``python -m snippets.bench.distributed ...``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run_ddp(nprocs: int, args: argparse.Namespace, out: Path) -> dict:
    """Launch ``snippets.distributed.ddp`` under torchrun; return rank 0's metrics."""
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nprocs}",
    ]
    script = [
        "-m",
        "snippets.distributed.ddp",
        "--run-dir",
        str(out),
        "--steps",
        str(args.steps),
        "--global-batch",
        str(args.per_rank_batch * nprocs),
        "--log-every",
        str(10**9),
        "--device",
        args.device,
    ]
    # One thread per process, whatever N: torchrun sets this only when N > 1, and a
    # 1-process baseline with every core's threads would not be the same experiment.
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    proc = subprocess.run(
        torchrun + script,
        capture_output=True,
        text=True,
        timeout=args.timeout_s,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"torchrun with {nprocs} processes failed:\n{proc.stderr[-3000:]}"
        )
    return json.loads((out / "metrics.json").read_text())


def main(argv: list[str] | None = None) -> int:
    """Measure and print samples/s per process count and the scaling efficiency."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--nprocs",
        type=int,
        nargs="+",
        default=[1, 2],
        help="process counts to compare; the first is the baseline",
    )
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps per run")
    parser.add_argument(
        "--per-rank-batch", type=int, default=128, help="examples per process per step"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP_NUM_THREADS of every process (CPU runs)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="runs per process count; the fastest counts (noise)",
    )
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=300.0,
        help="give up on one launch after this long",
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.nprocs):
        parser.error(f"--nprocs must be >= 1, got {args.nprocs}")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-dist-") as tmp:
        for n in args.nprocs:
            best = max(
                run_ddp(n, args, Path(tmp) / f"n{n}-{i}")["samples_per_s"]
                for i in range(args.repeats)
            )
            results.append({"nprocs": n, "samples_per_s": best})
    base = results[0]
    for r in results:
        speedup = r["samples_per_s"] / base["samples_per_s"]
        r["speedup"] = speedup
        r["efficiency"] = speedup * base["nprocs"] / r["nprocs"]
    report = {
        "benchmark": "distributed",
        "per_rank_batch": args.per_rank_batch,
        "steps": args.steps,
        "repeats": args.repeats,
        "threads_per_process": args.threads,
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"DDP weak scaling, {args.per_rank_batch} examples per process per step, "
        f"DigitsCNN, {args.steps} steps"
    )
    print(f"{'processes':>9} {'samples/s':>11} {'speedup':>8} {'efficiency':>10}")
    for r in results:
        print(
            f"{r['nprocs']:>9} {r['samples_per_s']:>11.0f} {r['speedup']:>8.2f} "
            f"{r['efficiency']:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
