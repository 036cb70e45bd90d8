"""snippets/__main__.py"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import snippets.__main__ as cli
from snippets.checkpoint import load_weights
from snippets.device import AMP_CHOICES, DEVICE_CHOICES
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
        (["--epochs", "-1"], "error: TrainConfig.epochs must be >= 1, got -1"),
        (["--epochs", "1e20"], "argument --epochs: invalid int value: '1e20'"),
        (["--batch-size", "0"], "error: batch_size must be >= 1, got 0"),
        (
            ["--batch-size", "100000000000000000000"],
            "error: batch size 100000000000000000000 is larger than the training set",
        ),
        (["--lr", "-0.1"], r"error: TrainConfig.lr must be in (0, 1.0], got -0.1"),
        (["--lr", "inf"], "error: TrainConfig.lr must be finite, got inf"),
        (["--lr", "nan"], "error: TrainConfig.lr must be finite, got nan"),
        (["--lr", "1e300"], "error: TrainConfig.lr must be in (0, 1.0], got 1e+300"),
        (["--seed", "-1"], "error: TrainConfig.seed must be in [0, 4294967295]"),
        (["--seed", "100000000000000000000"], "TrainConfig.seed must be in [0, "),
        (["--seed", "1e20"], "argument --seed: invalid int value: '1e20'"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["--amp", "fp8"], "argument --amp: invalid choice: 'fp8'"),
        (["--save-every", "-2"], "error: TrainConfig.save_every must be >= 0, got -2"),
    ],
)
def test_invalid_values_get_the_validators_words(
    argv: list[str], message: str, capsys, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    err = error_of(["train", "digits", "--run-dir", str(run_dir), *argv], capsys)
    assert message in err
    assert "Traceback" not in err and not run_dir.exists()  # refused before any work


def test_choices_come_from_device_py() -> None:
    actions = {a.dest: a for a in cli.train_parser()._actions}
    assert tuple(actions["device"].choices) == DEVICE_CHOICES
    assert tuple(actions["amp"].choices) == AMP_CHOICES


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_and_fp16_on_cpu(capsys) -> None:
    err = error_of(["train", "digits", "--device", "cuda"], capsys)
    assert (
        "CUDA requested but no CUDA device is available; use --device auto or cpu"
        in err
    )
    err = error_of(["train", "digits", "--device", "cpu", "--amp", "fp16"], capsys)
    assert "error: amp 'fp16' is for CUDA GPUs without bf16; on cpu use 'bf16'" in err


def test_resume_needs_a_checkpoint(tmp_path: Path, capsys) -> None:
    err = error_of(
        ["train", "digits", "--resume", "--run-dir", str(tmp_path / "no")], capsys
    )
    assert "nothing to resume: run dir" in err and "does not exist" in err
    assert not (tmp_path / "no").exists()
    err = error_of(
        ["train", "digits", "--resume", "--run-dir", str(tmp_path), "--no-progress"],
        capsys,
    )
    assert f"nothing to resume: no complete checkpoint in {tmp_path}" in err


@pytest.mark.parametrize("resume", [[], ["--resume"]])
def test_run_dir_that_is_a_file(tmp_path: Path, capsys, resume: list[str]) -> None:
    # issue: the error came after an epoch as a NotADirectoryError; with --resume
    # it said "does not exist"
    (tmp_path / "f").write_text("x")
    err = error_of(
        ["train", "digits", "--run-dir", str(tmp_path / "f"), *resume], capsys
    )
    assert f"error: run dir {tmp_path / 'f'} is a file, not a directory" in err
    err = error_of(["train", "digits", "--run-dir", str(tmp_path / "f" / "r")], capsys)
    assert (
        f"cannot create run dir {tmp_path / 'f' / 'r'}: {tmp_path / 'f'} is a file"
        in err
    )


def test_unwritable_run_dir_is_named_before_training(tmp_path: Path, capsys) -> None:
    # /proc refuses new files even to root, like a read-only mount
    err = error_of(["train", "digits", "--run-dir", "/proc/self/run"], capsys)
    assert "error: cannot use run dir /proc/self/run:" in err


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
    assert "already holds checkpoints (newest: step-00000040); resume to" in err
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
