#!/usr/bin/env bash
# GPU check: the `gpu`-marked tests and the benchmarks on one CUDA device, < 5 minutes.
#
#   bash scripts/gpu_check.sh            # writes gpu_check/ (JSON figures + logs)
#
# It stops at once, with exit status 3, on a machine without CUDA: the gpu tests would
# only be skipped there and the benchmark figures would describe the CPU.
# Other benchmarks add one `run_bench NAME [ARGS]` line at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${GPU_CHECK_OUT:-gpu_check}
mkdir -p "$OUT"

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA device is visible to torch ($("$PY" -c \
        'import torch; print(torch.__version__)')); nothing was run" >&2
    exit 3
fi
"$PY" -c 'import torch; print("gpu_check:", torch.__version__, torch.cuda.get_device_name())' \
    | tee "$OUT/device.txt"

# 1. every gpu-marked test (2.5 minutes at most)
timeout 150 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/unit \
    2>&1 | tee "$OUT/pytest_gpu.txt"

# 2. a real run of the CLI on the GPU in fp16 and bf16 (test accuracy in metrics.json)
for amp in fp16 bf16; do
    timeout 60 "$PY" -m snippets train digits --device cuda --amp "$amp" --no-progress \
        --run-dir "$OUT/digits-$amp" 2>&1 | tee "$OUT/train_$amp.txt"
done

# 3. benchmarks, JSON each (a GPU step needs a big batch to reach >= 10 ms)
run_bench() {
    local name=$1
    shift
    timeout 120 "$PY" -m snippets bench "$name" --json "$@" | tee "$OUT/bench_$name.json"
}
run_bench train --batch-size 8192 --steps 20
run_bench gpt --gpu-config --steps 10
