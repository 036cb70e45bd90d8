"""snippets/train.py + snippets/checkpoint.py: a real SIGKILL, then an exact resume.

A child process trains DigitsCNN (channels 8, 16) on the digits for 2 epochs of 20
steps, checkpointing after every step.  The test kills it with SIGKILL twice, at
moments it does not control (while a step or a save is under way), resumes it, and
requires the final parameters and AdamW state to be bit-for-bit equal (torch.equal)
to those of a run that was never interrupted (run in the test process, one thread
like the child).
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from snippets.checkpoint import latest_checkpoint
from snippets.data import digits_datasets
from snippets.models.cnn import DigitsCNN
from snippets.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]
TOTAL_STEPS = 40
CHILD = textwrap.dedent("""
    import sys, time
    import torch
    from torch.utils.data import DataLoader, default_collate
    from snippets.data import digits_train_test
    from snippets.models.cnn import DigitsCNN
    from snippets.train import TrainConfig, train

    torch.set_num_threads(1)  # same threads in every run: same float sums
    run_dir, resume, delay = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3])

    def collate(batch):
        time.sleep(delay)  # slow steps down so the parent can kill mid-run
        return default_collate(batch)

    # the saved split (digits_datasets' train set): no scikit-learn import per child
    loader = DataLoader(digits_train_test(seed=0)[0], batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(0), num_workers=0,
                        collate_fn=collate)
    torch.manual_seed(0)
    model = DigitsCNN(channels=(8, 16))
    train(model, loader, None, TrainConfig(epochs=2, run_dir=run_dir, resume=resume,
                                           save_every=1, progress=False))
""")


def newest_complete_step(run_dir: Path) -> int:
    """Highest step with a committed marker (no hashing: the child is still writing)."""
    steps = [0]
    try:
        for path in (run_dir / "checkpoints").glob("step-*/complete.json"):
            steps.append(int(path.parent.name.split("-")[1]))
    except OSError:  # a directory pruned while we looked
        pass
    return max(steps)


def start(script: Path, run_dir: Path, resume: bool, delay: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), str(run_dir), "1" if resume else "0", str(delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after(proc: subprocess.Popen, run_dir: Path, step: int) -> int:
    """SIGKILL ``proc`` once checkpoint ``step`` is committed; return the newest."""
    deadline = time.monotonic() + 50
    while newest_complete_step(run_dir) < step:
        if proc.poll() is not None:
            pytest.fail(f"child ended before step {step}: {proc.communicate()[1]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"child did not reach step {step}")
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return newest_complete_step(run_dir)


def final_state(run_dir: Path) -> tuple[dict, dict]:
    directory = latest_checkpoint(run_dir)
    assert directory.name == f"step-{TOTAL_STEPS:08d}"
    state = torch.load(directory / "state.pt", weights_only=True)
    return load_file(str(directory / "model.safetensors")), state["optimizer"]["state"]


def run_reference(run_dir: Path) -> None:
    """The child's run, uninterrupted, in this process (checkpoints at epoch ends)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        loader = DataLoader(
            digits_datasets(seed=0)[0],
            batch_size=64,
            shuffle=True,
            generator=torch.Generator().manual_seed(0),
            num_workers=0,
        )
        torch.manual_seed(0)
        model = DigitsCNN(channels=(8, 16))
        train(
            model,
            loader,
            None,
            TrainConfig(epochs=2, run_dir=str(run_dir), progress=False),
        )
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_sigkill_then_resume_is_exact(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    killed = tmp_path / "killed"
    reached = kill_after(start(script, killed, resume=False, delay=0.02), killed, 7)
    assert 7 <= reached < TOTAL_STEPS
    # second kill in epoch 2, after resuming mid-epoch 1
    reached = kill_after(start(script, killed, resume=True, delay=0.02), killed, 26)
    assert 26 <= reached < TOTAL_STEPS
    last = start(script, killed, resume=True, delay=0.0)
    run_reference(tmp_path / "reference")  # meanwhile, in this process
    _, err = last.communicate(timeout=60)
    assert last.returncode == 0, err
    ref_weights, ref_optim = final_state(tmp_path / "reference")
    got_weights, got_optim = final_state(killed)
    assert ref_weights.keys() == got_weights.keys()
    for key in ref_weights:
        assert torch.equal(ref_weights[key], got_weights[key]), key
    assert ref_optim.keys() == got_optim.keys()
    for index in ref_optim:
        for name in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(ref_optim[index][name], got_optim[index][name]), (
                index,
                name,
            )
