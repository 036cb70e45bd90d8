"""snippets/train.py"""

import json
import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import snippets.train as train_module
from snippets.checkpoint import (
    CheckpointError,
    RunDirError,
    commit_checkpoint,
    latest_checkpoint,
)
from snippets.data import digits_datasets, make_loader
from snippets.models.cnn import DigitsCNN
from snippets.train import (
    NonFiniteLossError,
    Progress,
    TrainConfig,
    evaluate,
    lr_factor,
    train,
    train_epoch,
)

CPU = torch.device("cpu")


def small_data(n: int = 256) -> tuple[TensorDataset, TensorDataset]:
    train_set, val_set, _ = digits_datasets(seed=0)
    return TensorDataset(*(t[:n] for t in train_set.tensors)), val_set


def small_model(seed: int = 0) -> DigitsCNN:
    torch.manual_seed(seed)
    return DigitsCNN(channels=(4, 8))


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_lr_factor_warmup_then_cosine() -> None:
    w, total, m = 10, 110, 0.1
    assert lr_factor(0, w, total, m) == pytest.approx(0.1)  # (0 + 1) / 10
    assert lr_factor(9, w, total, m) == pytest.approx(1.0)
    assert lr_factor(10, w, total, m) == pytest.approx(1.0)  # cosine starts at the peak
    assert lr_factor(60, w, total, m) == pytest.approx(m + (1 - m) / 2)  # half-way
    assert lr_factor(110, w, total, m) == pytest.approx(m)
    assert lr_factor(500, w, total, m) == pytest.approx(m)  # clamped after the end
    after = [lr_factor(s, w, total, m) for s in range(w, total + 1)]
    assert all(a >= b for a, b in zip(after, after[1:]))  # non-increasing
    s = 37
    expected = m + (1 - m) * 0.5 * (1 + math.cos(math.pi * (s - w) / (total - w)))
    assert lr_factor(s, w, total, m) == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "TrainConfig.epochs must be >= 1, got 0"),
        ({"epochs": -3}, "TrainConfig.epochs must be >= 1, got -3"),
        ({"grad_accum_steps": 0}, "grad_accum_steps must be >= 1, got 0"),
        ({"lr": 0.0}, r"lr must be in \(0, 1.0\], got 0.0"),
        ({"lr": float("inf")}, "TrainConfig.lr must be finite, got inf"),
        ({"lr": float("nan")}, "TrainConfig.lr must be finite, got nan"),
        ({"lr": 1e300}, r"lr must be in \(0, 1.0\], got 1e\+300"),
        ({"weight_decay": 2.0, "lr": 0.9}, "lr \\* weight_decay < 1, got 2.0"),
        ({"seed": -1}, r"seed must be in \[0, 4294967295\], got -1"),
        ({"seed": 10**20}, r"seed must be in \[0, 4294967295\], got 1000"),
        ({"min_lr_ratio": float("nan")}, "min_lr_ratio must be finite"),
        ({"run_dir": ""}, "run_dir must not be empty"),
        ({"amp": "fp8"}, "amp must be one of off, bf16, fp16, got 'fp8'"),
        ({"max_grad_norm": -1.0}, "max_grad_norm must be > 0 or None, got -1.0"),
        ({"save_every": -1}, "save_every must be >= 0, got -1"),
        ({"resume": True}, "resume needs a run_dir"),
    ],
)
def test_bad_config_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 1e20}, r"TrainConfig.epochs must be an integer, got 1e\+20"),
        ({"epochs": True}, "TrainConfig.epochs must be an integer, got True"),
        ({"lr": "0.1"}, "TrainConfig.lr must be a number, got '0.1'"),
        ({"resume": "yes"}, "TrainConfig.resume must be True or False"),
    ],
)
def test_wrong_types_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        TrainConfig(**kwargs)


def test_fp16_without_cuda_is_refused() -> None:
    train_set, _ = small_data()
    with pytest.raises(
        ValueError, match="amp 'fp16' is for CUDA GPUs without bf16; on cpu use 'bf16'"
    ):
        train(
            small_model(),
            make_loader(train_set, 32, True),
            None,
            TrainConfig(amp="fp16", progress=False),
            CPU,
        )


def test_loss_decreases_and_history_is_complete() -> None:
    train_set, val_set = small_data(512)
    history = train(
        small_model(),
        make_loader(train_set, 32, True),
        make_loader(val_set, 256, False),
        TrainConfig(epochs=3, warmup_steps=5, progress=False),
        CPU,
    )
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert [row["step"] for row in history] == [16, 32, 48]
    assert history[-1]["train_loss"] < history[0]["train_loss"] < math.log(10) + 0.1
    assert set(history[0]) == {
        "epoch",
        "step",
        "lr",
        "train_loss",
        "val_loss",
        "val_accuracy",
        "seconds",
    }
    assert history[-1]["val_accuracy"] > 0.3  # chance is 0.1; a tiny model, 48 steps
    assert history[-1]["lr"] == pytest.approx(1e-2 * 0.1)  # the cosine ends at min_lr


def test_bf16_autocast_trains_on_cpu() -> None:
    train_set, _ = small_data(512)
    history = train(
        small_model(),
        make_loader(train_set, 32, True),
        None,
        TrainConfig(epochs=2, amp="bf16", progress=False),
        CPU,
    )
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert math.isfinite(history[-1]["train_loss"])


def test_same_seed_same_parameters() -> None:
    train_set, _ = small_data()
    states = []
    for _ in range(2):
        model = small_model()
        train(
            model,
            make_loader(train_set, 32, True),
            None,
            TrainConfig(epochs=1, progress=False),
            CPU,
        )
        states.append(state_of(model))
    assert_same(*states)


def test_gradient_accumulation_equals_the_large_batch() -> None:
    # 2 micro-batches of 32 == one batch of 64 (equal sizes, so mean of means = mean);
    # not bit-exact: the sums run in another order (tolerance 1e-5 after 8 steps)
    train_set, _ = small_data(512)
    models = []
    for batch, accum in ((64, 1), (32, 2)):
        model = small_model()
        history = train(
            model,
            make_loader(train_set, batch, shuffle=False),
            None,
            TrainConfig(epochs=1, grad_accum_steps=accum, progress=False),
            CPU,
        )
        assert history[-1]["step"] == 8
        models.append(state_of(model))
    for key in models[0]:
        torch.testing.assert_close(models[0][key], models[1][key], rtol=0, atol=1e-5)


def test_partial_accumulation_window_steps_at_epoch_end() -> None:
    train_set, _ = small_data(320)  # 10 batches of 32, accum 4: windows 4 + 4 + 2
    history = train(
        small_model(),
        make_loader(train_set, 32, True),
        None,
        TrainConfig(epochs=2, grad_accum_steps=4, progress=False),
        CPU,
    )
    assert [row["step"] for row in history] == [3, 6]


def test_evaluate_counts_and_restores_the_mode() -> None:
    x = torch.eye(4)
    y = torch.tensor([0, 1, 2, 3])
    model = nn.Linear(4, 4, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(4) * 10)  # always right
    model.train()
    loader = DataLoader(TensorDataset(x, y), batch_size=3)
    metrics = evaluate(model, loader, CPU)
    assert metrics["accuracy"] == 1.0 and model.training
    expected = nn.functional.cross_entropy(model(x), y).item()
    assert metrics["loss"] == pytest.approx(expected)
    with torch.no_grad():
        model.weight.copy_(torch.eye(4).roll(1, dims=0) * 10)  # always wrong
    assert evaluate(model, loader, CPU)["accuracy"] == 0.0


def test_progress_postfix_is_not_refreshed_every_step(monkeypatch) -> None:
    calls = []

    class CountingBar(train_module.tqdm):
        def set_postfix(self, *args, **kwargs):
            calls.append(kwargs.get("refresh", True))
            return super().set_postfix(*args, **kwargs)

    monkeypatch.setattr(train_module, "tqdm", CountingBar)
    train_set, _ = small_data(640)  # 20 steps
    train(
        small_model(),
        make_loader(train_set, 32, True),
        None,
        TrainConfig(epochs=1, log_every=5, progress=True),
        CPU,
    )
    assert calls == [False] * 4  # steps 5, 10, 15, 20, and no forced redraw


def test_stop_and_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    # in-process version of tests/unit/test_resume_sigkill.py, with accumulation and a
    # partial window (10 batches, accum 3: windows 3 + 3 + 3 + 1)
    train_set, _ = small_data(320)
    cfg = dict(epochs=2, grad_accum_steps=3, progress=False, save_every=3)
    reference = small_model()
    ref_history = train(
        reference,
        make_loader(train_set, 32, True),
        None,
        TrainConfig(run_dir=str(tmp_path / "a"), **cfg),
        CPU,
    )
    for stop in (2, 4):  # inside epoch 1; exactly at the end of epoch 1
        run_dir = str(tmp_path / f"b{stop}")
        train(
            small_model(),
            make_loader(train_set, 32, True),
            None,
            TrainConfig(run_dir=run_dir, stop_at_step=stop, **cfg),
            CPU,
        )
        assert latest_checkpoint(run_dir).name == f"step-{stop:08d}"
        resumed = small_model(seed=123)  # other initial weights: all must be loaded
        history = train(
            resumed,
            make_loader(train_set, 32, True),
            None,
            TrainConfig(run_dir=run_dir, resume=True, **cfg),
            CPU,
        )
        assert_same(state_of(reference), state_of(resumed))
        assert [r["train_loss"] for r in history] == [
            r["train_loss"] for r in ref_history
        ]
    ref_opt = torch.load(
        latest_checkpoint(tmp_path / "a") / "state.pt", weights_only=True
    )
    got_opt = torch.load(
        latest_checkpoint(tmp_path / "b4") / "state.pt", weights_only=True
    )
    for key, value in ref_opt["optimizer"]["state"].items():
        for name in value:
            assert torch.equal(value[name], got_opt["optimizer"]["state"][key][name])


def test_resume_refuses_other_settings(tmp_path: Path) -> None:
    train_set, _ = small_data()
    train(
        small_model(),
        make_loader(train_set, 32, True),
        None,
        TrainConfig(epochs=2, run_dir=str(tmp_path), stop_at_step=3, progress=False),
        CPU,
    )
    resume = dict(run_dir=str(tmp_path), resume=True, progress=False)
    with pytest.raises(CheckpointError, match="epochs: saved 2, given 3"):
        train(
            small_model(),
            make_loader(train_set, 32, True),
            None,
            TrainConfig(epochs=3, **resume),
            CPU,
        )
    with pytest.raises(CheckpointError, match="batch_size: saved 32, given 64"):
        train(
            small_model(),
            make_loader(train_set, 64, True),
            None,
            TrainConfig(epochs=2, **resume),
            CPU,
        )
    with pytest.raises(
        CheckpointError, match="data_seed: saved 0, given 1; lr: saved 0.01, given 0.5"
    ):
        train(
            small_model(),
            make_loader(train_set, 32, True, seed=1),
            None,
            TrainConfig(epochs=2, lr=0.5, **resume),
            CPU,
        )


def test_resume_refuses_a_batch_size_with_the_same_batch_count(
    tmp_path: Path,
) -> None:
    # issue: 64 and 66 both give 4 batches of 256 examples; the count matched, the
    # run did not (today's check compared batches per epoch only)
    train_set, _ = small_data(256)
    train(
        small_model(),
        make_loader(train_set, 64, True),
        None,
        TrainConfig(epochs=2, run_dir=str(tmp_path), stop_at_step=2, progress=False),
        CPU,
    )
    assert len(make_loader(train_set, 66, True)) == len(
        make_loader(train_set, 64, True)
    )
    with pytest.raises(CheckpointError, match="batch_size: saved 64, given 66"):
        train(
            small_model(),
            make_loader(train_set, 66, True),
            None,
            TrainConfig(epochs=2, run_dir=str(tmp_path), resume=True, progress=False),
            CPU,
        )


def test_run_dir_rules(tmp_path: Path) -> None:
    train_set, _ = small_data(64)
    loader = make_loader(train_set, 32, True)
    with pytest.raises(RunDirError, match="nothing to resume: .* does not exist"):
        train(
            small_model(),
            loader,
            None,
            TrainConfig(epochs=1, run_dir=str(tmp_path / "x"), resume=True),
            CPU,
        )
    assert not (tmp_path / "x").exists()  # a failed resume creates nothing
    train(
        small_model(),
        loader,
        None,
        TrainConfig(epochs=1, run_dir=str(tmp_path), progress=False),
        CPU,
    )
    with pytest.raises(RunDirError, match="already holds checkpoints .*step-00000002"):
        train(
            small_model(),
            loader,
            None,
            TrainConfig(epochs=1, run_dir=str(tmp_path), progress=False),
            CPU,
        )
    no_generator = DataLoader(train_set, batch_size=32, shuffle=True)
    with pytest.raises(
        ValueError, match="exact resume needs a train_loader with its own"
    ):
        train(
            small_model(),
            no_generator,
            None,
            TrainConfig(epochs=1, run_dir=str(tmp_path / "y")),
            CPU,
        )


@pytest.mark.parametrize("how", ["file", "parent is a file", "resume into a file"])
def test_unusable_run_dir_fails_before_any_training(
    tmp_path: Path, how: str, monkeypatch
) -> None:
    # issue: the error came after a whole epoch, as a raw NotADirectoryError, and
    # --resume on a file said "does not exist"
    (tmp_path / "f").write_text("not a directory")
    run_dir = {"file": "f", "parent is a file": "f/run"}.get(how, "f")
    calls = []
    monkeypatch.setattr(train_module, "train_epoch", lambda *a: calls.append(a))
    message = {
        "file": r"run dir .*f is a file, not a directory",
        "parent is a file": "cannot create run dir .*f/run: .*f is a file",
        "resume into a file": r"run dir .*f is a file, not a directory",
    }[how]
    cfg = TrainConfig(
        epochs=1, run_dir=str(tmp_path / run_dir), resume=how.startswith("resume")
    )
    train_set, _ = small_data(64)
    with pytest.raises(RunDirError, match=message):
        train(small_model(), make_loader(train_set, 32, True), None, cfg, CPU)
    assert calls == []


def nan_data(n: int = 128, bad_from: int = 64) -> TensorDataset:
    """Digits whose examples from ``bad_from`` on hold a NaN pixel (bad data)."""
    x, y = (t[:n].clone() for t in small_data(n)[0].tensors)
    x[bad_from:, 0, 0, 0] = float("nan")
    return TensorDataset(x, y)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(
    tmp_path: Path,
) -> None:
    # issue: --lr inf trained to an all-NaN model and exited 0; here NaN data does it
    loader = make_loader(nan_data(), 32, shuffle=False)  # batches 3 and 4 are bad
    cfg = TrainConfig(epochs=1, run_dir=str(tmp_path), save_every=1, progress=False)
    with pytest.raises(
        NonFiniteLossError, match="the training loss is nan at step 3.*is intact"
    ):
        train(small_model(), loader, None, cfg, CPU)
    assert latest_checkpoint(tmp_path).name == "step-00000002"
    weights = load_file(str(latest_checkpoint(tmp_path) / "model.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())
    without_saving = TrainConfig(epochs=1, progress=False)  # still stopped
    with pytest.raises(NonFiniteLossError, match="at step 4"):
        train(small_model(), loader, None, without_saving, CPU)


def test_train_keeps_the_loader_seed(tmp_path: Path) -> None:
    # issue: train() re-seeded the loader with cfg.seed, silently overriding
    # make_loader(seed=...)
    train_set, _ = small_data(64)
    orders = []
    for data_seed in (1, 2):
        loader = make_loader(train_set, 64, True, seed=data_seed)
        # the first batch a fresh loader with this seed gives, before train() runs
        first = next(iter(make_loader(train_set, 64, True, seed=data_seed)))[0]
        seen = []
        model = small_model()
        model.register_forward_pre_hook(lambda m, a, s=seen: s.append(a[0].clone()))
        cfg = TrainConfig(epochs=1, seed=7, progress=False)  # a different cfg.seed
        train(model, loader, None, cfg, CPU)
        assert torch.equal(seen[0], first)
        orders.append(first)
    assert not torch.equal(*orders)


def test_train_epoch_is_reusable_alone() -> None:
    train_set, _ = small_data(128)
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    progress = Progress()
    cfg = TrainConfig(grad_accum_steps=2)
    assert not train_epoch(
        model, make_loader(train_set, 32, True), optimizer, cfg, progress
    )
    assert (progress.step, progress.batches_done, progress.loss_count) == (2, 4, 4)
    assert 0 < progress.loss_sum / progress.loss_count < 5


def test_wrong_content_checkpoint_falls_back_to_an_older_one(tmp_path: Path) -> None:
    # issue: hash-matching but wrong checkpoints were refused, yet the older valid one
    # was never tried
    train_set, _ = small_data(128)
    cfg = dict(epochs=1, run_dir=str(tmp_path), save_every=1, keep_last=3)
    train(
        small_model(),
        make_loader(train_set, 32, True),
        None,
        TrainConfig(stop_at_step=3, progress=False, **cfg),
        CPU,
    )
    newest = tmp_path / "checkpoints" / "step-00000003"
    wrong = {k: v.double() for k, v in small_model().state_dict().items()}
    save_file(wrong, str(newest / "model.safetensors"))  # right shapes, wrong dtype
    files = ["model.safetensors", "state.pt"]
    meta = json.loads((newest / "complete.json").read_text())["meta"]
    commit_checkpoint(newest, files, meta)  # hashes match the wrong file
    resumed = small_model(seed=5)
    with pytest.warns(
        UserWarning, match="step-00000003.*dtype mismatch.*float64 in the file, float32"
    ):
        history = train(
            resumed,
            make_loader(train_set, 32, True),
            None,
            TrainConfig(resume=True, progress=False, **cfg),
            CPU,
        )
    assert history[-1]["step"] == 4  # went on from step 2


def test_compile_path_saves_keys_without_prefix(tmp_path: Path, monkeypatch) -> None:
    # The inductor backend would spend tens of seconds compiling C++ here; the "eager"
    # backend still goes through torch.compile's wrapper (dynamo), which is what the
    # state_dict prefix is about.
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda m: real_compile(m, backend="eager"))
    train_set, _ = small_data(64)
    model = small_model()
    train(
        model,
        make_loader(train_set, 32, True),
        None,
        TrainConfig(epochs=1, compile=True, run_dir=str(tmp_path), progress=False),
        CPU,
    )
    from safetensors import safe_open

    with safe_open(str(latest_checkpoint(tmp_path) / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert keys == set(model.state_dict()) and not any("_orig_mod" in k for k in keys)


@pytest.mark.gpu
@pytest.mark.parametrize("amp", ["off", "bf16", "fp16"])
def test_trains_on_cuda_in_every_precision(amp: str) -> None:
    from snippets.device import pick_device

    device = pick_device("cuda")
    train_set, val_set, _ = digits_datasets(seed=0)
    torch.manual_seed(0)
    model = DigitsCNN().to(device)
    history = train(
        model,
        make_loader(train_set, 64, True),
        make_loader(val_set, 256, False),
        TrainConfig(epochs=5, amp=amp, progress=False),
        device,
    )
    assert history[-1]["val_accuracy"] > 0.9


@pytest.mark.gpu
def test_compile_on_cuda() -> None:
    from snippets.device import pick_device

    device = pick_device("cuda")
    train_set, _ = small_data(512)
    model = small_model().to(device)
    history = train(
        model,
        make_loader(train_set, 64, True),
        None,
        TrainConfig(epochs=2, compile=True, amp="bf16", progress=False),
        device,
    )
    assert history[-1]["train_loss"] < history[0]["train_loss"]


ANY = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.none()
    | st.text(max_size=3)
)
FIELDS = {
    "epochs": ANY,
    "lr": ANY,
    "min_lr_ratio": ANY,
    "warmup_steps": ANY,
    "weight_decay": ANY,
    "grad_accum_steps": ANY,
    "max_grad_norm": ANY,
    "amp": st.sampled_from(["off", "bf16", "fp16", "fp8", ""]) | ANY,
    "seed": ANY,
    "save_every": ANY,
    "keep_last": ANY,
    "stop_at_step": ANY,
    "log_every": ANY,
}


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional=FIELDS))
def test_any_config_is_valid_or_refused_in_our_words(kwargs: dict) -> None:
    try:
        cfg = TrainConfig(**kwargs)
    except (ValueError, TypeError) as err:
        assert str(err).startswith("TrainConfig."), err  # never a foreign error
        return
    for name in ("epochs", "grad_accum_steps", "keep_last", "log_every"):
        value = getattr(cfg, name)
        assert type(value) is int and value >= 1
    assert type(cfg.seed) is int and 0 <= cfg.seed < 2**32
    assert math.isfinite(cfg.lr) and 0 < cfg.lr <= 1
    assert math.isfinite(cfg.weight_decay) and 0 <= cfg.lr * cfg.weight_decay < 1
    assert 0 <= cfg.min_lr_ratio <= 1
    assert cfg.max_grad_norm is None or 0 < cfg.max_grad_norm < math.inf
    assert cfg.amp in ("off", "bf16", "fp16")
    json.dumps(cfg.result_config(), allow_nan=False)  # strict JSON in checkpoints
