"""snippets/bench/gpt.py: the figures exist and are sane (no timing assertions)."""

import json

import torch

from snippets.bench.gpt import attention_speed, main, matmul_peak, train_speed
from snippets.models.gpt import GPTConfig

CPU = torch.device("cpu")


def test_pieces_report_positive_figures() -> None:
    peak = matmul_peak(CPU, torch.float32, 128, repeats=2)
    assert peak > 0
    row = train_speed(GPTConfig(block_size=16, n_layer=1, n_head=2, d_model=32), 2, 2,
                      CPU, peak)
    assert row["tokens_per_s"] > 0 and row["mfu"] > 0
    assert set(attention_speed([32], CPU, 1)) == {"32"}


def test_gpu_config_is_refused_without_an_accelerator(capsys) -> None:
    if torch.accelerator.current_accelerator(check_available=True) is not None:
        return
    try:
        main(["--gpu-config", "--device", "cpu"])
    except SystemExit as err:
        assert err.code == 2
    assert "--gpu-config needs an accelerator" in capsys.readouterr().err


def test_json_is_parseable(monkeypatch, capsys) -> None:
    import snippets.bench.gpt as bench
    monkeypatch.setattr(bench, "kv_cache_speed", lambda device, n: {"speedup": 1.0})
    monkeypatch.setattr(bench, "attention_speed", lambda lens, device, r: {"8": 1.0})
    monkeypatch.setattr(bench, "matmul_peak", lambda device, dtype, n: 1e9)
    small = GPTConfig(block_size=16, n_layer=1, n_head=2, d_model=32)
    real = bench.train_speed
    monkeypatch.setattr(bench, "train_speed",
                        lambda cfg, b, s, device, peak: real(small, 2, 1, device, peak))
    assert main(["--json", "--steps", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["d_model"] for row in report["train"]] == [32, 32]
