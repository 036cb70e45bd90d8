"""snippets/bench/gpt.py: the figures exist and are sane (no timing assertions).

Every test checks something on the machine it runs on: the CPU pieces everywhere, the
``--gpu-config`` refusal wherever ``--device cpu`` is forced, and the accelerator path
(memory report, bf16 + compile) where one exists.
"""

import json

import pytest
import torch

from snippets.bench.gpt import (
    attention_speed,
    kv_cache_speed,
    main,
    matmul_peak,
    train_speed,
)
from snippets.device import pick_device
from snippets.models.gpt import GPTConfig

CPU = torch.device("cpu")
SMALL = GPTConfig(block_size=16, n_layer=1, n_head=2, d_model=32)


def test_pieces_report_positive_figures() -> None:
    peak = matmul_peak(CPU, torch.float32, 128, repeats=2)
    assert peak > 0
    row = train_speed(SMALL, 2, 2, CPU, peak)
    assert row["tokens_per_s"] > 0 and row["mfu"] > 0
    assert "max_memory_allocated_gib" not in row  # CUDA-only figure
    assert set(attention_speed([32], CPU, 1)) == {"32"}


def test_gpu_config_is_refused_on_the_cpu(capsys) -> None:
    # --device cpu forces the CPU on any machine, so this runs everywhere.
    with pytest.raises(SystemExit) as err:
        main(["--gpu-config", "--device", "cpu"])
    assert err.value.code == 2
    assert "--gpu-config needs an accelerator" in capsys.readouterr().err


def test_steps_below_one_are_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--steps", "0", "--device", "cpu"])
    assert "--steps must be >= 1, got 0" in capsys.readouterr().err


def test_json_is_parseable(monkeypatch, capsys) -> None:
    import snippets.bench.gpt as bench

    monkeypatch.setattr(bench, "kv_cache_speed", lambda device, n: {"speedup": 1.0})
    monkeypatch.setattr(bench, "attention_speed", lambda lens, device, r: {"8": 1.0})
    monkeypatch.setattr(bench, "matmul_peak", lambda device, dtype, n: 1e9)
    real = bench.train_speed
    monkeypatch.setattr(
        bench,
        "train_speed",
        lambda cfg, b, s, device, peak: real(SMALL, 2, 1, device, peak),
    )
    assert main(["--json", "--steps", "1", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["d_model"] for row in report["train"]] == [32, 32]
    assert report["device"] == "cpu"


@pytest.mark.gpu
def test_accelerator_training_reports_memory_and_bf16_compile_runs() -> None:
    device = pick_device("auto")
    assert device.type == "cuda"
    peak = matmul_peak(device, torch.bfloat16, 1024, repeats=2)
    row = train_speed(
        SMALL, 4, 2, device, peak, amp_dtype=torch.bfloat16, compile_model=True
    )
    assert row["tokens_per_s"] > 0 and 0 < row["mfu"] < 1
    # weights, gradients and AdamW state fit under what was actually allocated
    assert 0 < row["estimated_state_gib"] <= row["max_memory_allocated_gib"]
    cache = kv_cache_speed(device, 8)
    assert cache["no_cache_s"] > 0 and cache["cache_s"] > 0
