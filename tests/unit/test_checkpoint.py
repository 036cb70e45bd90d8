"""snippets/checkpoint.py"""

import hashlib
import json
import os
import pickle
import random
import socket
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file
from torch import nn

from snippets.checkpoint import (
    CheckpointError,
    RunDirError,
    atomic_write,
    capture_rng_state,
    claim_run_dir,
    commit_checkpoint,
    intact_checkpoints,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_state,
    load_weights,
    prune_checkpoints,
    read_json,
    require_same_config,
    restore_rng_state,
    save_checkpoint,
    save_weights,
    verify_checkpoint,
    write_json,
)
from snippets.data import digits_datasets, make_loader
from snippets.models.cnn import DigitsCNN
from snippets.train import TrainConfig, train


def tiny(seed: int = 0, num_classes: int = 10) -> DigitsCNN:
    torch.manual_seed(seed)
    return DigitsCNN(num_classes=num_classes, channels=(2, 4))


def save_some(run_dir: Path, steps: list[int], keep_last: int = 10) -> None:
    for step in steps:
        save_checkpoint(run_dir, step, tiny(step), {"step": step}, keep_last=keep_last)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    atomic_write(target, lambda tmp: tmp.write_text("old"))

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["file.txt"]  # no temporary file left behind


def test_round_trip_weights_and_state_loads_weights_only(tmp_path: Path) -> None:
    model = tiny(1)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.rand(3, 1, 8, 8)).sum().backward()
    optimizer.step()
    state = {
        "step": 1,
        "optimizer": optimizer.state_dict(),
        "rng": capture_rng_state(),
        "history": [{"epoch": 1, "loss": 0.5}],
    }
    directory = save_checkpoint(tmp_path, 1, model, state)
    assert sorted(os.listdir(directory)) == [
        "complete.json",
        "model.safetensors",
        "state.pt",
    ]
    raw = torch.load(directory / "state.pt", weights_only=True)  # plain torch works too
    assert raw["history"] == [{"epoch": 1, "loss": 0.5}]
    other = tiny(2)
    loaded = load_checkpoint(directory, other)
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    fresh = torch.optim.AdamW(other.parameters())
    fresh.load_state_dict(loaded["optimizer"])
    assert torch.equal(
        fresh.state_dict()["state"][0]["exp_avg"],
        optimizer.state_dict()["state"][0]["exp_avg"],
    )


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(7)
    random.gauss(0, 1)  # python keeps a cached gaussian: it must survive too
    state = capture_rng_state(generator.get_state())
    torch.save(state, tmp_path / "rng.pt")
    first = (
        random.random(),
        random.gauss(0, 1),
        np.random.rand(),
        torch.rand(2),
        torch.rand(2, generator=generator),
    )
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    loader_state = restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    generator.set_state(loader_state)
    again = (
        random.random(),
        random.gauss(0, 1),
        np.random.rand(),
        torch.rand(2),
        torch.rand(2, generator=generator),
    )
    assert first[:3] == again[:3]
    assert torch.equal(first[3], again[3]) and torch.equal(first[4], again[4])
    assert all(
        isinstance(v, torch.Tensor)
        for k, v in state.items()
        if k in ("python", "numpy", "torch", "loader")
    )


def test_newest_complete_checkpoint_is_chosen(tmp_path: Path) -> None:
    save_some(tmp_path, [10, 20, 30])
    assert latest_checkpoint(tmp_path).name == "step-00000030"
    (tmp_path / "checkpoints" / "step-00000030" / "complete.json").unlink()  # killed
    (tmp_path / "checkpoints" / "step-00000040").mkdir()  # killed even earlier
    with pytest.warns(UserWarning, match="step-00000030/complete.json is missing"):
        assert latest_checkpoint(tmp_path).name == "step-00000020"
    assert latest_checkpoint(tmp_path / "nothing-here") is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_checkpoint_is_never_chosen_and_is_named(
    tmp_path: Path, damage: str
) -> None:
    save_some(tmp_path, [1, 2])
    newest = tmp_path / "checkpoints" / "step-00000002"
    victim = newest / "model.safetensors"
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        victim.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    else:
        victim.unlink()
    message = {
        "truncate": "is truncated or altered",
        "flip": "is corrupt",
        "delete": "is missing",
    }[damage]
    with pytest.warns(UserWarning, match=f"model.safetensors {message}"):
        assert latest_checkpoint(tmp_path).name == "step-00000001"
    with pytest.raises(
        CheckpointError, match=f"step-00000002/model.safetensors {message}"
    ):
        load_checkpoint(newest, tiny())


def test_corrupt_files_raise_errors_naming_them(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00\x01 definitely not safetensors")
    with pytest.raises(
        CheckpointError, match="bad.safetensors: not a readable safetensors"
    ):
        load_weights(tiny(), bad)
    truncated = tmp_path / "state.pt"
    torch.save({"a": torch.arange(1000)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(
        CheckpointError, match="state.pt: refused: not a safe, complete"
    ):
        load_state(truncated)


class Exploit:
    """Unpickling this calls os.mkdir(path): any code could run instead."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return os.mkdir, (self.path,)


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_malicious_pickle_is_refused_and_runs_nothing(
    tmp_path: Path, writer: str
) -> None:
    sentinel = tmp_path / "pwned"
    save_some(tmp_path, [5])
    directory = tmp_path / "checkpoints" / "step-00000005"
    evil = directory / "state.pt"
    payload = {"step": 5, "optimizer": Exploit(sentinel)}
    if writer == "torch.save":
        torch.save(payload, evil)
    else:
        evil.write_bytes(pickle.dumps(payload))
    with pytest.raises(CheckpointError, match="state.pt: refused"):
        load_state(evil)
    assert not sentinel.exists()
    # even with a marker whose checksums match the malicious file
    marker = directory / "complete.json"
    info = json.loads(marker.read_text())
    info["files"]["state.pt"] = {
        "bytes": evil.stat().st_size,
        "sha256": hashlib.sha256(evil.read_bytes()).hexdigest(),
    }
    marker.write_text(json.dumps(info))
    verify_checkpoint(directory)
    model = tiny(9)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(CheckpointError, match="step-00000005/state.pt: refused"):
        load_checkpoint(directory, model)
    assert not sentinel.exists()
    assert all(
        torch.equal(a, b) for a, b in zip(before, model.parameters())
    )  # untouched


def test_mismatched_model_names_the_keys(tmp_path: Path) -> None:
    path = save_weights(tiny(), tmp_path / "w.safetensors")
    with pytest.raises(
        CheckpointError,
        match=r"shape mismatch: head.bias: \(10,\) in the file, "
        r"\(5,\) in the model; head.weight: \(10, 16\)",
    ):
        load_weights(tiny(num_classes=5), path)
    with pytest.raises(
        CheckpointError,
        match="missing keys: weight, bias; unexpected keys: "
        "features.0.bias, features.0.weight",
    ):
        load_weights(nn.Linear(16, 10), path)
    compiled_keys = {f"_orig_mod.{k}": v for k, v in tiny().state_dict().items()}
    save_file(compiled_keys, str(tmp_path / "compiled.safetensors"))
    with pytest.raises(CheckpointError, match="saved from a torch.compile wrapper"):
        load_weights(tiny(), tmp_path / "compiled.safetensors")


def test_tied_weights_are_saved_once_and_load(tmp_path: Path) -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(5, 3)
            self.out = nn.Linear(3, 5, bias=False)
            self.out.weight = self.embed.weight

    source, target = Tied(), Tied()
    save_weights(source, tmp_path / "tied.safetensors")
    load_weights(target, tmp_path / "tied.safetensors")
    assert torch.equal(target.out.weight, source.embed.weight)
    assert target.out.weight is target.embed.weight


def test_old_checkpoints_are_pruned_after_the_new_one_commits(tmp_path: Path) -> None:
    save_some(tmp_path, [1, 2, 3, 4], keep_last=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "step-00000003",
        "step-00000004",
    ]
    with pytest.raises(ValueError, match="keep_last must be >= 1, got 0"):
        save_checkpoint(tmp_path, 5, tiny(), {}, keep_last=0)


def test_a_failed_run_never_overwrites_a_saved_checkpoint(
    tmp_path: Path, monkeypatch
) -> None:
    train_set, _, _ = digits_datasets(seed=0)
    cfg = dict(
        epochs=2, run_dir=str(tmp_path), progress=False, save_every=1, keep_last=5
    )
    train(
        tiny(),
        make_loader(train_set, 128, True),
        None,
        TrainConfig(stop_at_step=3, **cfg),
        torch.device("cpu"),
    )

    def snapshot() -> dict[str, bytes]:
        return {
            str(p.relative_to(tmp_path)): p.read_bytes()
            for p in sorted(tmp_path.rglob("*"))
            if p.is_file()
        }

    saved = snapshot()
    # 1. a fresh run pointed at the same directory is refused before it writes anything
    with pytest.raises(RunDirError, match="already holds checkpoints"):
        train(tiny(), make_loader(train_set, 128, True), None, TrainConfig(**cfg))
    assert snapshot() == saved
    # 2. a resumed run that crashes while writing its next checkpoint
    real_save = torch.save

    def crash_on_state(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", crash_on_state)
    with pytest.raises(OSError, match="No space left"):
        train(
            tiny(),
            make_loader(train_set, 128, True),
            None,
            TrainConfig(resume=True, **cfg),
        )
    monkeypatch.setattr(torch, "save", real_save)
    after = snapshot()
    assert {
        k: v for k, v in after.items() if k in saved
    } == saved  # nothing saved changed
    assert all(".tmp-" not in k for k in after)  # no temporary files left
    with pytest.warns(UserWarning, match="step-00000004/complete.json is missing"):
        assert latest_checkpoint(tmp_path).name == "step-00000003"


def test_write_json_is_strict_and_atomic(tmp_path: Path) -> None:
    target = write_json(tmp_path / "m.json", {"loss": 0.5, "steps": [1, 2]})
    assert json.loads(target.read_text()) == {"loss": 0.5, "steps": [1, 2]}
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="not JSON compliant"):
            write_json(tmp_path / "m.json", {"loss": bad})
    assert json.loads(target.read_text())["loss"] == 0.5  # the old file is intact
    assert os.listdir(tmp_path) == ["m.json"]
    (tmp_path / "nan.json").write_text('{"loss": NaN}')
    with pytest.raises(ValueError, match="non-standard JSON constant NaN"):
        read_json(tmp_path / "nan.json")


def test_commit_then_verify_with_subfolders(tmp_path: Path) -> None:
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "0.distcp").write_bytes(b"rank 0")
    (tmp_path / "a.bin").write_bytes(b"abc")
    marker = commit_checkpoint(tmp_path, ["a.bin", "shards/0.distcp"], {"step": 3})
    assert verify_checkpoint(tmp_path) == marker
    assert marker["meta"] == {"step": 3}
    assert marker["files"]["a.bin"] == {
        "bytes": 3,
        "sha256": hashlib.sha256(b"abc").hexdigest(),
    }
    (tmp_path / "shards" / "0.distcp").write_bytes(b"rank 1")  # same size
    with pytest.raises(CheckpointError, match="shards/0.distcp is corrupt"):
        verify_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="no files to commit"):
        commit_checkpoint(tmp_path, [], {})
    with pytest.raises(CheckpointError, match="points outside"):
        commit_checkpoint(tmp_path, ["../escape"], {})
    with pytest.raises(ValueError, match="not JSON compliant"):
        commit_checkpoint(tmp_path, ["a.bin"], {"loss": float("nan")})


def _edit_marker(directory: Path, edit) -> None:
    marker = directory / "complete.json"
    info = json.loads(marker.read_text())
    marker.write_text(edit(info) if callable(edit) else edit)


MALFORMED = {
    "renamed key": lambda m: json.dumps(
        {("fiels" if k == "files" else k): v for k, v in m.items()}
    ),
    "empty files list": lambda m: json.dumps({**m, "files": []}),
    "empty files object": lambda m: json.dumps({**m, "files": {}}),
    "no meta": lambda m: json.dumps({k: v for k, v in m.items() if k != "meta"}),
    "a list": lambda m: json.dumps([m]),
    "string size": lambda m: json.dumps(
        {**m, "files": {k: {**v, "bytes": "12"} for k, v in m["files"].items()}}
    ),
    "short hash": lambda m: json.dumps(
        {**m, "files": {k: {**v, "sha256": "ab"} for k, v in m["files"].items()}}
    ),
    "absolute path": lambda m: json.dumps(
        {**m, "files": {"/etc/passwd": next(iter(m["files"].values()))}}
    ),
    "NaN": lambda m: json.dumps(m)[:-1] + ', "x": NaN}',
    "not JSON": "{",
}


@pytest.mark.parametrize("how", sorted(MALFORMED))
def test_malformed_marker_is_skipped_for_an_older_checkpoint(
    tmp_path: Path, how: str
) -> None:
    save_some(tmp_path, [1, 2])
    newest = tmp_path / "checkpoints" / "step-00000002"
    _edit_marker(newest, MALFORMED[how])
    with pytest.raises(CheckpointError, match="step-00000002/complete.json"):
        verify_checkpoint(newest)
    with pytest.warns(UserWarning, match="skipping checkpoint: .*step-00000002"):
        assert latest_checkpoint(tmp_path).name == "step-00000001"


def test_require_same_config_names_every_difference() -> None:
    saved = {"lr": 0.1, "epochs": 2, "sizes": [1, 2], "old": 1}
    same = {"lr": 0.1, "epochs": 2, "sizes": (1, 2), "old": 1}
    require_same_config(saved, same, "x")  # a tuple equals the list JSON gives back
    with pytest.raises(
        CheckpointError,
        match=r"ckpt was made with other settings \(epochs: saved 2, given 3; "
        r"lr: saved 0.1, given 0.5; new: saved \(absent\), given 1; "
        r"old: saved 1, given \(absent\)\)",
    ):
        current = {"lr": 0.5, "epochs": 3, "sizes": [1, 2], "new": 1}
        require_same_config(saved, current, "ckpt")


HOLDER = """
import sys, time
from snippets.checkpoint import claim_run_dir
with claim_run_dir(sys.argv[1], resume=False):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_run_is_told_who_holds_the_run_dir(tmp_path: Path) -> None:
    # issue: two runs in one --run-dir both exited 0 and destroyed each other's files
    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(
            RunDirError,
            match=rf"run dir .*run is in use by another run \(pid {holder.pid} on "
            rf"{socket.gethostname()}, since .*\); wait for it to end",
        ):
            with claim_run_dir(run_dir, resume=False):
                pass
    finally:
        holder.kill()  # SIGKILL: no clean-up runs, the lock file stays behind
        holder.wait()
    assert (run_dir / ".lock").exists()
    save_some(run_dir, [1])
    with claim_run_dir(run_dir, resume=True):  # the stale lock does not block
        with claim_run_dir(run_dir, resume=True):  # claims nest in one process
            pass
    assert not (run_dir / "owner.json").exists()  # released: no owner named


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d.write_text("x"), "is a file, not a directory"),
        (lambda d: d.parent.joinpath("f").write_text("x"), "is a file"),
    ],
)
def test_unusable_run_dirs_create_nothing(tmp_path: Path, make, message) -> None:
    run_dir = tmp_path / "r"
    make(run_dir)
    target = run_dir if run_dir.exists() else tmp_path / "f" / "sub"
    before = sorted(tmp_path.rglob("*"))
    for resume in (False, True):
        with pytest.raises(RunDirError, match=message):
            with claim_run_dir(target, resume=resume):
                pass
    assert sorted(tmp_path.rglob("*")) == before


def test_wrong_dtype_of_the_right_shape_is_refused_not_cast(tmp_path: Path) -> None:
    # issue: float64 (or float16) weights of the right shapes were cast silently
    model = tiny()
    for dtype in (torch.float64, torch.float16):
        path = tmp_path / f"{dtype}.safetensors"
        save_file({k: v.to(dtype) for k, v in model.state_dict().items()}, str(path))
        target = tiny(3)
        before = [p.clone() for p in target.parameters()]
        name = str(dtype).removeprefix("torch.")
        with pytest.raises(
            CheckpointError, match=f"dtype mismatch: .*{name} in the file, float32"
        ):
            load_weights(target, path)
        assert all(torch.equal(a, b) for a, b in zip(before, target.parameters()))


def test_absurd_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(tiny(), path)
    data = path.read_bytes()
    path.write_bytes((2**62).to_bytes(8, "little") + data[8:])  # header "length"
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_weights(tiny(), path)


# Property-based: any mix of intact, unfinished, corrupt and malformed checkpoints
KINDS = st.sampled_from(["intact", "no marker", "corrupt", "malformed", "empty dir"])


def make_checkpoint(run_dir: Path, step: int, kind: str) -> None:
    directory = run_dir / "checkpoints" / f"step-{step:08d}"
    directory.mkdir(parents=True)
    if kind == "empty dir":
        return
    (directory / "w.bin").write_bytes(step.to_bytes(4, "little"))
    if kind == "no marker":
        return
    commit_checkpoint(directory, ["w.bin"], {"step": step})
    if kind == "corrupt":
        (directory / "w.bin").write_bytes(b"\xff" * 4)
    elif kind == "malformed":
        (directory / "complete.json").write_text('{"format": 1, "files": []}')


@settings(max_examples=40, deadline=None)
@given(
    layout=st.dictionaries(st.integers(0, 10**8), KINDS, max_size=6),
    keep=st.integers(1, 3),
)
def test_listing_and_pruning_never_lose_an_intact_checkpoint(
    layout: dict[int, str], keep: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        for step, kind in layout.items():
            make_checkpoint(run_dir, step, kind)
        intact = sorted(s for s, k in layout.items() if k == "intact")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skipped ones warn; checked elsewhere
            newest = latest_checkpoint(run_dir)
            assert newest == (
                run_dir / "checkpoints" / f"step-{intact[-1]:08d}" if intact else None
            )
            prune_checkpoints(run_dir, keep)
            left = {int(p.name[5:]) for p in list_checkpoints(run_dir)}
            kept = intact[-keep:]
            assert set(kept) <= left  # the newest `keep` intact ones survive
            if len(kept) == keep:  # then everything older than them is gone
                assert all(s >= kept[0] for s in left)
            else:  # fewer intact ones than keep: nothing is deleted
                assert left == set(layout)
            assert [p.name for p, _ in intact_checkpoints(run_dir)] == [
                f"step-{s:08d}" for s in reversed(kept)
            ]
