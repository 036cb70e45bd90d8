"""snippets/distributed/config.py and common.py without launching anything: the config
vocabulary, the resume rules, the sampler and the one-line error report."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch.distributed.elastic.multiprocessing.errors import (
    ChildFailedError,
    ProcessFailure,
)

from snippets.checkpoint import CheckpointError, save_checkpoint
from snippets.distributed import launch, single
from snippets.distributed.common import (
    DistEnv,
    check_devices,
    checkpoint_due,
    checkpoint_meta,
    choose_checkpoint,
    distributed_loader,
    error_line,
    global_steps,
    load_data,
    local_batch_size,
    report_failure,
    run_script,
)
from snippets.distributed.config import DistConfig, config_parser
from snippets.train import TrainConfig

SHARED = {
    "lr",
    "weight_decay",
    "grad_accum_steps",
    "seed",
    "run_dir",
    "save_every",
    "keep_last",
    "resume",
    "log_every",
}


def test_fields_shared_with_train_config_have_the_same_names_and_defaults() -> None:
    dist_fields = {f.name: f for f in dataclasses.fields(DistConfig)}
    train_fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    assert dist_fields.keys() & train_fields.keys() == SHARED
    same_default = {
        "lr",
        "weight_decay",
        "grad_accum_steps",
        "seed",
        "run_dir",
        "save_every",
        "keep_last",
        "resume",
    }
    for name in same_default:
        assert dist_fields[name].default == train_fields[name].default, name


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("steps", 0, "DistConfig.steps must be >= 1, got 0"),
        ("steps", -5, "DistConfig.steps must be >= 1, got -5"),
        ("global_batch", 0, "DistConfig.global_batch must be >= 1, got 0"),
        ("grad_accum_steps", 0, "DistConfig.grad_accum_steps must be >= 1, got 0"),
        ("save_every", -1, "DistConfig.save_every must be >= 0, got -1"),
        ("lr", float("inf"), "DistConfig.lr must be finite and > 0, got inf"),
        ("lr", float("nan"), "DistConfig.lr must be finite and > 0, got nan"),
        ("weight_decay", -0.1, "DistConfig.weight_decay must be finite and >= 0"),
        ("seed", -1, r"DistConfig.seed must be in \[0, 2\*\*63\), got -1"),
        ("timeout_s", 0.0, "DistConfig.timeout_s must be finite and > 0, got 0.0"),
        ("resume", True, "DistConfig.resume needs a run_dir"),
    ],
)
def test_bad_settings_are_refused(field, value, message) -> None:
    with pytest.raises(ValueError, match=message):
        DistConfig(**{field: value})


def test_help_shows_the_settings_and_no_test_hooks() -> None:
    text = config_parser().format_help()
    assert "--grad-accum-steps" in text and "--run-dir" in text and "--resume" in text
    assert "fault" not in text


def test_steps_zero_exits_with_one_line_and_trains_nothing(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_script(single.main, "", ["--steps", "0", "--run-dir", str(tmp_path)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err == "ValueError: DistConfig.steps must be >= 1, got 0\n"
    assert not any(tmp_path.iterdir())


def test_batch_must_divide_by_world_size_and_accum() -> None:
    assert local_batch_size(64, 2, 2) == 16
    message = (
        "global batch 30 is not divisible by world size 4 x grad_accum_steps 1;"
        " pick a multiple of 4"
    )
    with pytest.raises(ValueError, match=message):
        local_batch_size(30, 4, 1)


def test_nccl_refuses_more_processes_than_gpus() -> None:
    message = (
        r"2 processes on this node but only 1 GPU\(s\): nccl needs one GPU per "
        "process; use --nproc-per-node=1"
    )
    with pytest.raises(ValueError, match=message):
        check_devices("nccl", local_world_size=2, device_count=1)
    check_devices("gloo", local_world_size=8, device_count=0)  # CPU processes: fine


def test_checkpoints_at_epoch_ends_every_n_steps_and_at_the_end() -> None:
    cfg = DistConfig(steps=24, save_every=8, run_dir="r")
    assert [d for d in range(1, 25) if checkpoint_due(cfg, d, 19)] == [8, 16, 19, 24]
    cfg = DistConfig(steps=24, run_dir="r")  # save_every 0: epoch ends (and the end)
    assert [d for d in range(1, 25) if checkpoint_due(cfg, d, 19)] == [19, 24]
    assert not any(checkpoint_due(DistConfig(steps=24), d, 19) for d in range(1, 25))


def test_resumed_steps_see_the_same_batches_as_an_uninterrupted_run() -> None:
    data, _ = load_data()
    cfg = DistConfig(steps=30, global_batch=64, grad_accum_steps=2)
    env = DistEnv(
        rank=1,
        local_rank=1,
        world_size=2,
        local_world_size=2,
        device=torch.device("cpu"),
    )
    full = list(global_steps(distributed_loader(data, env, cfg), cfg, start=0))
    resumed = list(global_steps(distributed_loader(data, env, cfg), cfg, start=17))
    assert [s for s, _ in full] == list(range(30)) and len(resumed) == 13
    for (s1, b1), (s2, b2) in zip(full[17:], resumed):
        assert s1 == s2 and all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(b1, b2))
    # set_epoch matters: epoch 1 (steps 19..) is a different order from epoch 0.
    assert not torch.equal(full[0][1][0][0], full[19][1][0][0])


def test_ranks_read_disjoint_halves_that_form_the_global_batch() -> None:
    data, _ = load_data()
    cfg = DistConfig(global_batch=8)
    seen = []
    for rank in range(2):
        env = DistEnv(rank, rank, 2, 2, torch.device("cpu"))
        loader = distributed_loader(data, env, cfg)
        loader.sampler.set_epoch(0)
        seen.append(list(loader.sampler)[:4])  # rank r: permutation[r::2]
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    assert sorted(seen[0] + seen[1]) == sorted(order[:8].tolist())


def fake_run(
    run_dir, cfg: DistConfig, steps=(4, 6), run_id=None, monkeypatch=None
) -> None:
    """Checkpoints as ddp.py writes them, of a tiny model (the rules, not the math)."""
    model = torch.nn.Linear(2, 2)
    if monkeypatch is not None and run_id is not None:
        monkeypatch.setenv("TORCHELASTIC_RUN_ID", run_id)
    for step in steps:
        save_checkpoint(run_dir, step, model, {"step": step}, meta=checkpoint_meta(cfg))


def test_resume_rules(tmp_path, monkeypatch, capsys) -> None:
    run = tmp_path / "run"
    cfg = DistConfig(run_dir=str(run))
    assert choose_checkpoint(cfg) is None  # nothing there: a fresh start
    with pytest.raises(CheckpointError, match="resume: no intact checkpoint in"):
        choose_checkpoint(DistConfig(run_dir=str(run), resume=True))
    fake_run(run, cfg, run_id="job-1", monkeypatch=monkeypatch)
    with pytest.raises(
        FileExistsError,
        match="already holds checkpoints .newest: step-00000006.; pass --resume",
    ):
        choose_checkpoint(cfg)
    resumed = DistConfig(run_dir=str(run), resume=True, steps=99)  # steps may grow
    directory, marker = choose_checkpoint(resumed)
    assert directory.name == "step-00000006" and marker["meta"]["step"] == 6
    # The case: other settings on resume are refused, every field named.
    changed = DistConfig(run_dir=str(run), resume=True, lr=0.5, global_batch=32)
    with pytest.raises(
        CheckpointError,
        match=r"step-00000006 was made with other "
        r"settings \(global_batch: saved 64, given 32; lr: saved 0.01, "
        r"given 0.5\)",
    ):
        choose_checkpoint(changed)
    # A torchrun restart of the same job resumes by itself; of another job it does not.
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert choose_checkpoint(cfg)[0].name == "step-00000006"
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-2")
    with pytest.raises(FileExistsError):
        choose_checkpoint(cfg)


def test_a_flipped_bit_is_never_resumed(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    cfg = DistConfig(run_dir=str(run), resume=True)
    fake_run(run, cfg)
    newest = run / "checkpoints" / "step-00000006" / "model.safetensors"
    data = bytearray(newest.read_bytes())
    data[-1] ^= 1  # one bit of the last weight
    newest.write_bytes(bytes(data))
    directory, _ = choose_checkpoint(cfg)  # the older intact one, with a warning
    assert directory.name == "step-00000004"
    assert "model.safetensors is corrupt" in capsys.readouterr().err
    older = run / "checkpoints" / "step-00000004" / "state.pt"
    older.write_bytes(older.read_bytes()[:-10])  # truncated
    with pytest.raises(
        CheckpointError,
        match=r"resume: no intact checkpoint in .*"
        r"step-00000006/model.safetensors is corrupt",
    ):
        choose_checkpoint(cfg)


def test_the_failing_rank_message_is_handed_to_torchrun(
    tmp_path, monkeypatch, capsys
) -> None:
    error_file = tmp_path / "error.json"
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(error_file))
    report_failure(error_line(CheckpointError("lr: saved 0.01,\ngiven 0.5"), "1"))
    line = "rank 1: CheckpointError: lr: saved 0.01, given 0.5"
    assert capsys.readouterr().err == line + "\n"
    assert json.loads(error_file.read_text())["message"]["message"] == line
    # What the agent makes of it: plain torchrun's box shows the line as root cause,
    # and the launcher prints just the line.
    failure = ProcessFailure(
        local_rank=1, pid=1, exitcode=1, error_file=str(error_file)
    )
    err = ChildFailedError("snippets.distributed.ddp", {1: failure})
    assert f"traceback : {line}" in str(err)
    assert launch.root_cause(err) == line
    killed = ProcessFailure(local_rank=0, pid=2, exitcode=-9, error_file="<N/A>")
    message = launch.root_cause(ChildFailedError("x", {0: killed}))
    assert message.startswith("rank 0 failed with exit code -9 Signal 9 (SIGKILL)")
    # A rank's own message wins over an earlier failure that has none.
    assert launch.root_cause(ChildFailedError("x", {0: killed, 1: failure})) == line
