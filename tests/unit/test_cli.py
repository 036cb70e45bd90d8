"""snippets/__main__.py"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import snippets.__main__ as cli
from snippets.checkpoint import load_weights
from snippets.models.cnn import DigitsCNN

ROOT = Path(__file__).resolve().parents[2]


def error_of(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2  # argparse's usage error, not a traceback
    return capsys.readouterr().err


def test_no_command_lists_the_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "snippets"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "commands:" in out and "train" in out and "bench" in out


def test_unknown_command(capsys) -> None:
    assert cli.main(["fly"]) == 2
    assert (
        "unknown command 'fly'; choose one of train, bench" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "-1"], "argument --epochs: must be >= 1, got -1"),
        (["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
        (["--batch-size", "0"], "argument --batch-size: must be >= 1, got 0"),
        (["--lr", "-0.1"], "argument --lr: must be > 0, got -0.1"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["--amp", "fp8"], "argument --amp: invalid choice: 'fp8'"),
        (["--save-every", "-2"], "argument --save-every: must be >= 0, got -2"),
    ],
)
def test_invalid_values_get_argparse_errors(
    argv: list[str], message: str, capsys
) -> None:
    assert message in error_of(["train", "digits", *argv], capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_and_fp16_on_cpu(capsys) -> None:
    err = error_of(["train", "digits", "--device", "cuda"], capsys)
    assert (
        "CUDA requested but no CUDA device is available; use --device auto or cpu"
        in err
    )
    err = error_of(["train", "digits", "--device", "cpu", "--amp", "fp16"], capsys)
    assert "argument --amp: fp16 needs CUDA (GradScaler); on cpu use --amp bf16" in err


def test_resume_needs_a_checkpoint(tmp_path: Path, capsys) -> None:
    err = error_of(
        ["train", "digits", "--resume", "--run-dir", str(tmp_path / "no")], capsys
    )
    assert "does not exist; run without --resume to start fresh" in err
    err = error_of(
        ["train", "digits", "--resume", "--run-dir", str(tmp_path), "--no-progress"],
        capsys,
    )
    assert (
        f"--resume: no complete checkpoint in {tmp_path} (the directory has none)"
        in err
    )


def test_train_digits_writes_metrics_and_weights(tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "run"
    argv = [
        "train",
        "digits",
        "--epochs",
        "2",
        "--run-dir",
        str(run_dir),
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    assert "test accuracy" in capsys.readouterr().out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["steps"] == 40  # 1257 / 64 -> 20 a epoch
    assert 0.5 < metrics["test_accuracy"] <= 1 and metrics["train_seconds"] > 0
    assert len(metrics["history"]) == 2 and metrics["device"] == "cpu"
    load_weights(DigitsCNN(), run_dir / "model.safetensors")
    saved = (run_dir / "model.safetensors").read_bytes()
    # running again without --resume must not touch what the first run saved
    err = error_of(argv, capsys)
    assert "already holds checkpoints (newest: step-00000040); pass --resume" in err
    assert (run_dir / "model.safetensors").read_bytes() == saved
    # --resume on a finished run: nothing left to train, same weights
    assert cli.main([*argv, "--resume"]) == 0
    assert (run_dir / "model.safetensors").read_bytes() == saved


def test_bench_dispatch_is_an_explicit_lazy_dict(capsys, monkeypatch) -> None:
    assert cli.BENCHMARKS["train"][0] == "snippets.bench.train"
    err = error_of(["bench", "nope"], capsys)
    assert "invalid choice: 'nope'" in err
    monkeypatch.setitem(
        cli.BENCHMARKS, "broken", ("snippets.bench.no_such_module", "x")
    )
    err = error_of(["bench", "broken"], capsys)
    assert (
        "benchmark 'broken' cannot run: No module named 'snippets.bench.no_such_module'"
        in err
    )
    seen = []
    monkeypatch.setattr(
        "snippets.bench.train.main", lambda argv: seen.append(argv) or 0
    )
    assert cli.main(["bench", "train", "--json", "--reps", "9"]) == 0
    assert seen == [["--json", "--reps", "9"]]
